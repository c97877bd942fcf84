// A ModelEngine on the calling thread. Model files come from the blob store by content address;
// sessions are shared by content across endpoints (the engine's pool). All-in-one mode runs it
// on a worker thread (threaded-runtime.ts), never on the API's own thread.
import { EngineError, EngineInputError, ModelEngine, type InferResult, type ModelSignature, type RuntimeOptions } from '../engine';
import type {
  DeployedModel, EndpointDeployment, InferOptions, InferenceObserver, InferenceRuntime, ItemOutcome, RuntimeInferResult, RuntimeStats,
} from './inference-runtime';
import { inspectForHandler } from './model-inspection';
import { DeploymentError } from './runtime-errors';

export { DeploymentError } from './runtime-errors';

export interface InProcessRuntimeOptions {
  /** The bytes of a stored model file; the runtime never sees blob ids or tenants. */
  loadModel: (sha256: string) => Promise<Uint8Array>;
  /** Accelerator kinds served here (default ['cpu']). */
  accelerators?: string[];
  runtime?: RuntimeOptions;
  /** Loaded sessions kept at most (the engine's LRU pool). */
  maxSessions?: number;
  /** Queued items per endpoint beyond which calls are refused as overloaded. */
  maxQueueSize?: number;
  observer?: InferenceObserver;
}

export class InProcessRuntime implements InferenceRuntime {
  readonly accelerators: readonly string[];
  private readonly engine: ModelEngine;
  private readonly labels = new Map<string, string>();

  constructor(private readonly options: InProcessRuntimeOptions) {
    this.accelerators = options.accelerators ?? ['cpu'];
    this.engine = new ModelEngine({
      ...options.runtime,
      maxSessions: options.maxSessions,
      onBatch: (event) => options.observer?.batch(this.labels.get(event.endpoint) ?? event.endpoint, event),
    });
  }

  async deploy(d: EndpointDeployment): Promise<DeployedModel> {
    if (!this.accelerators.includes(d.accelerator)) {
      throw new DeploymentError(
        `no runtime here serves accelerator '${d.accelerator}' (this one serves ${this.accelerators.join(', ')})`);
    }
    this.labels.set(d.endpointId, d.label);
    const modelBytes = await this.options.loadModel(d.modelSha256);
    const deployed = await this.engine.deploy(d.endpointId, {
      modelBytes,
      handler: d.handler,
      config: d.config,
      maxBatchSize: d.maxBatchSize,
      maxQueueDelayMs: d.maxQueueDelayMs,
      maxQueueSize: this.options.maxQueueSize,
      // One process, one model instance set: replicas here are concurrent batches on the shared
      // session (Triton's instance count). maxReplicas is for scaling across workers.
      replicas: d.minReplicas,
    });
    return { perItemDeviceSeconds: deployed.perItemDeviceSeconds };
  }

  async infer(endpointId: string, inputs: unknown[], options: InferOptions = {}): Promise<RuntimeInferResult> {
    const label = this.labels.get(endpointId) ?? endpointId;
    const started = performance.now();
    try {
      const result = await this.inferOrIsolate(endpointId, inputs, options);
      this.options.observer?.request(label, { code: null, items: inputs.length, latencyMs: result.latencyMs });
      return result;
    } catch (error) {
      const code = error instanceof EngineError ? error.code : 'INTERNAL';
      this.options.observer?.request(label, { code, items: inputs.length, latencyMs: performance.now() - started });
      throw error;
    }
  }

  async undeploy(endpointId: string): Promise<void> {
    await this.engine.undeploy(endpointId);
    this.labels.delete(endpointId);
  }

  isDeployed(endpointId: string): boolean {
    try {
      this.engine.signature(endpointId);
      return true;
    } catch {
      return false;
    }
  }

  inspect(bytes: Uint8Array, handler: string, config: Record<string, unknown>): Promise<ModelSignature> {
    return inspectForHandler(bytes, handler, config, this.options.runtime);
  }

  async stats(): Promise<RuntimeStats> {
    return this.engine.stats();
  }

  close(): Promise<void> {
    return this.engine.close();
  }

  private async inferOrIsolate(endpointId: string, inputs: unknown[], options: InferOptions): Promise<RuntimeInferResult> {
    const started = performance.now();
    try {
      return fromEngine(await this.engine.infer(endpointId, inputs));
    } catch (error) {
      // Only an input's own fault is isolated; overload and stop fail the whole call.
      const ownFault = error instanceof EngineInputError && error.inputIndex !== undefined;
      if (!options.isolateFailures || !ownFault || inputs.length === 1) {
        if (options.isolateFailures && ownFault) return isolated([itemError(error)], 0, 0, started);
        throw error;
      }
    }
    // Each input alone, all at once: the batcher still gathers them, and a bad one fails only
    // its own slot. Device time of the failed combined attempt is not billed (our loss).
    const settled = await Promise.allSettled(inputs.map((input) => this.engine.infer(endpointId, [input])));
    const fatal = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected' && !(s.reason instanceof EngineInputError));
    if (fatal) throw fatal.reason;
    const items = settled.map((s, index): ItemOutcome => (s.status === 'fulfilled'
      ? { output: s.value.outputs[0] }
      : itemError(s.reason, index)));
    const ok = settled.filter((s): s is PromiseFulfilledResult<InferResult> => s.status === 'fulfilled').map((s) => s.value);
    return isolated(items, ok.reduce((sum, r) => sum + r.deviceSeconds, 0), Math.max(0, ...ok.map((r) => r.batchSize)), started);
  }
}

function fromEngine(result: InferResult): RuntimeInferResult {
  return {
    items: result.outputs.map((output) => ({ output })),
    deviceSeconds: result.deviceSeconds,
    batchSize: result.batchSize,
    latencyMs: result.latencyMs,
  };
}

function isolated(items: ItemOutcome[], deviceSeconds: number, batchSize: number, started: number): RuntimeInferResult {
  return { items, deviceSeconds, batchSize, latencyMs: performance.now() - started };
}

/** An item's error, with the engine's "inputs[0]: " of a single-input call renumbered. */
function itemError(error: unknown, index = 0): ItemOutcome {
  const message = error instanceof Error ? error.message : String(error);
  return {
    error: {
      code: error instanceof EngineError ? error.code : 'INTERNAL',
      message: message.replace(/^inputs\[0\]: /, `inputs[${index}]: `),
    },
  };
}
