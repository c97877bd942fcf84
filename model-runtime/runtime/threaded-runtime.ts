// The all-in-one runtime: the engine on a worker thread of this process (engine-thread.ts).
// ONNX Runtime's node binding runs session.run synchronously on its caller's thread, and the
// handlers' decoding and pre/post-processing are JavaScript: on the API's thread, a 60 ms OCR
// batch would stall every GraphQL request for 60 ms, and request handling would in turn delay
// batches (fewer requests gathered per batch under load). Here the API thread only parses,
// checks, charges and forwards; inputs and outputs cross by structured clone — except inline
// media (`{ audioBase64 }`, `{ imageBase64 }`), which this side decodes and whose bytes it moves
// to the thread (a transfer, no copy). Cloning the base64 text instead cost ≈ 2 ms per 10-second
// clip on the benchmark's machine, nearly all of it page faults: the copy in the message and the
// thread's own 430 KB string are fresh memory each time, and a fresh page costs ≈ 11 µs there.
//
// Model files are read from the blob store on the API side and sent with the deploy request. If
// the thread dies (a bug in a handler), every call in flight fails with STOPPED, later calls too,
// and deploying again starts a new thread.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
// engine-errors and types only: this file runs on the caller's thread, which must not load
// ONNX Runtime just to talk to the thread that does.
import type { ModelSignature } from '../engine';
import { EngineStoppedError } from '../engine/engine-errors';
import { decodeBase64, mediaFieldOf, type MediaBase64Field } from '../engine/media-base64';
import { DeploymentError } from './runtime-errors';
import type {
  DeployedModel, EndpointDeployment, InferOptions, InferenceObserver, InferenceRuntime, RuntimeInferResult, RuntimeStats,
} from './inference-runtime';
import { deserializeError, type EngineThreadSettings, type RuntimeMessage, type RuntimeRequest } from './runtime-messages';

export interface ThreadedRuntimeOptions extends EngineThreadSettings {
  loadModel: (sha256: string) => Promise<Uint8Array>;
  observer?: InferenceObserver;
  onThreadExit?: (code: number) => void;
}

type Body<R> = R extends unknown ? Omit<R, 'id'> : never;

/** engine-thread.js beside this file when built; from source (tests, tools), the .ts through swc. */
function threadEntry(): { file: string; execArgv: string[] } {
  const js = path.join(__dirname, 'engine-thread.js');
  if (existsSync(js)) return { file: js, execArgv: [] };
  return { file: path.join(__dirname, 'engine-thread.ts'), execArgv: ['--require', '@swc-node/register'] };
}

export class ThreadedRuntime implements InferenceRuntime {
  readonly accelerators: readonly string[];
  private worker?: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (value: unknown) => void; reject: (error: Error) => void }>();
  /** Endpoint id → its handler, which says whether (and from which field) inputs are media. */
  private readonly deployed = new Map<string, string>();
  private closed = false;

  constructor(private readonly options: ThreadedRuntimeOptions) {
    this.accelerators = options.accelerators;
  }

  async deploy(d: EndpointDeployment): Promise<DeployedModel> {
    if (!this.accelerators.includes(d.accelerator)) {
      throw new DeploymentError(`no runtime here serves accelerator '${d.accelerator}' (this one serves ${this.accelerators.join(', ')})`);
    }
    const bytes = await this.options.loadModel(d.modelSha256);
    const deployed = (await this.call({ op: 'deploy', deployment: d, bytes })) as DeployedModel;
    this.deployed.set(d.endpointId, d.handler);
    return deployed;
  }

  infer(endpointId: string, inputs: unknown[], options: InferOptions = {}): Promise<RuntimeInferResult> {
    if (!this.worker) return Promise.reject(new EngineStoppedError(`endpoint '${endpointId}' is not deployed on this runtime`));
    const field = mediaFieldOf(this.deployed.get(endpointId));
    const { sent, transfer } = field ? decodeMedia(inputs, field) : { sent: inputs, transfer: [] };
    const moved = new Set([...transfer, ...(options.transferable ? ownedBytes(sent) : [])]);
    return this.call({ op: 'infer', endpointId, inputs: sent, options }, [...moved]) as Promise<RuntimeInferResult>;
  }

  async undeploy(endpointId: string): Promise<void> {
    this.deployed.delete(endpointId);
    if (this.worker) await this.call({ op: 'undeploy', endpointId });
  }

  isDeployed(endpointId: string): boolean {
    return this.deployed.has(endpointId);
  }

  inspect(bytes: Uint8Array, handler: string, config: Record<string, unknown>): Promise<ModelSignature> {
    return this.call({ op: 'inspect', bytes, handler, config }) as Promise<ModelSignature>;
  }

  async stats(): Promise<RuntimeStats> {
    if (!this.worker) return { loads: 0, reloads: 0, evictions: 0, hits: 0, loadedSessions: 0, loadedBytes: 0, registeredModels: 0, endpoints: {} };
    return (await this.call({ op: 'stats' })) as RuntimeStats;
  }

  async close(): Promise<void> {
    this.closed = true;
    const worker = this.worker;
    if (!worker) return;
    await this.call({ op: 'close' }).catch(() => undefined);
    this.worker = undefined;
    await worker.terminate();
  }

  private call(body: Body<RuntimeRequest>, transfer: ArrayBuffer[] = []): Promise<unknown> {
    const worker = this.worker ?? this.start();
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ ...body, id } as RuntimeRequest, transfer);
    });
  }

  private start(): Worker {
    if (this.closed) throw new EngineStoppedError('the model runtime is closed');
    const { file, execArgv } = threadEntry();
    const settings: EngineThreadSettings = {
      accelerators: [...this.options.accelerators], runtime: this.options.runtime,
      maxSessions: this.options.maxSessions, maxQueueSize: this.options.maxQueueSize,
    };
    const worker = new Worker(file, { workerData: settings, execArgv });
    worker.on('message', (message: RuntimeMessage) => this.receive(message));
    worker.on('error', (error) => this.lost(worker, error));
    worker.on('exit', (code) => {
      this.lost(worker, new EngineStoppedError(`the model runtime thread stopped (exit code ${code})`));
      if (!this.closed) this.options.onThreadExit?.(code);
    });
    this.worker = worker;
    return worker;
  }

  private receive(message: RuntimeMessage): void {
    switch (message.kind) {
      case 'batch':
        this.options.observer?.batch(message.label, message.event);
        return;
      case 'request':
        this.options.observer?.request(message.label, message.event);
        return;
      case 'reply': {
        const waiter = this.pending.get(message.id);
        this.pending.delete(message.id);
        if (!waiter) return;
        if (message.ok) waiter.resolve(message.value);
        else waiter.reject(deserializeError(message.error));
      }
    }
  }

  /** The thread is gone: everything in flight fails, and nothing is deployed any more. */
  private lost(worker: Worker, error: Error): void {
    if (this.worker !== worker) return;
    this.worker = undefined;
    this.deployed.clear();
    const stopped = error instanceof EngineStoppedError ? error : new EngineStoppedError(`the model runtime thread failed: ${error.message}`);
    for (const waiter of this.pending.values()) waiter.reject(stopped);
    this.pending.clear();
  }
}

/**
 * Inline media decoded on this side: `{ audioBase64: "…", …rest }` becomes `{ bytes, …rest }`, the
 * form the handlers also take for blobs, with the bytes' memory listed for transfer. Text that is
 * not base64 (or not a string) is left as sent, so the engine answers it exactly as before.
 */
export function decodeMedia(inputs: unknown[], field: MediaBase64Field): { sent: unknown[]; transfer: ArrayBuffer[] } {
  const transfer: ArrayBuffer[] = [];
  const sent = inputs.map((input) => {
    if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
    const { [field]: text, ...rest } = input as Record<string, unknown>;
    const decoded = typeof text === 'string' ? decodeBase64(text) : undefined;
    if (!decoded) return input;
    // Small results are views of Node's shared 8 KB pool: those are copied, never transferred.
    const bytes = wholeBuffer(decoded) ? new Uint8Array(decoded.buffer, 0, decoded.byteLength) : new Uint8Array(decoded);
    transfer.push(bytes.buffer as ArrayBuffer);
    return { ...rest, bytes };
  });
  return { sent, transfer };
}

/** The memory of inputs' `bytes` that is theirs alone (not a view into a shared pool). */
function ownedBytes(inputs: unknown[]): ArrayBuffer[] {
  const owned = new Set<ArrayBuffer>();
  for (const input of inputs) {
    const bytes = (input as { bytes?: unknown } | null)?.bytes;
    if (bytes instanceof Uint8Array && wholeBuffer(bytes) && bytes.buffer instanceof ArrayBuffer) owned.add(bytes.buffer);
  }
  return [...owned];
}

function wholeBuffer(bytes: Uint8Array): boolean {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength;
}
