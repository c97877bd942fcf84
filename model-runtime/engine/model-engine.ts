import type { InferenceSession } from 'onnxruntime-node';
import { BatchSession } from './batch-session';
import { BatchEvent, DynamicBatcher, StepExecutor } from './dynamic-batcher';
import { EngineInputError, EngineOverloadedError, EngineStoppedError, InvalidModelError } from './engine-errors';
import { Handler, HandlerFactory, Stepwise } from './handler';
import { BUILT_IN_HANDLERS, createHandler } from './handler-registry';
import { ModelRegistration, SessionPool, SessionPoolOptions, SessionPoolStats } from './session-pool';
import { ModelSignature, signatureOf } from './tensor-spec';

export interface ModelEngineOptions extends SessionPoolOptions {
  /** Called after every batch; the API feeds prom-client from here. */
  onBatch?: (event: BatchEvent) => void;
  /** Extra or replacement handlers by name (the built-in four are always known). */
  handlers?: Record<string, HandlerFactory>;
}

export interface DeployOptions {
  modelBytes?: Uint8Array;
  modelPath?: string;
  handler: string;
  config?: unknown;
  maxBatchSize?: number;
  maxQueueDelayMs?: number;
  maxQueueSize?: number;
  replicas?: number;
  /**
   * For stepwise handlers (vad): items join a running batch between steps and leave when done
   * (default). false batches whole requests as for other handlers, each batch running until its
   * longest item ends.
   */
  continuous?: boolean;
}

export interface DeployedEndpoint {
  modelKey: string;
  signature: ModelSignature;
  /** Device seconds one item took in the warm-up run; undefined until measured. */
  perItemDeviceSeconds?: number;
}

export interface InferResult {
  /** One per input, in order. */
  outputs: unknown[];
  /** This call's share of measured model execution time, summed over its inputs. */
  deviceSeconds: number;
  /** The largest batch any of its inputs ran in. */
  batchSize: number;
  /** The longest any of its inputs waited for a batch. */
  queueMs: number;
  latencyMs: number;
}

export type ItemResult = { output: unknown; deviceSeconds: number; batchSize: number } | { error: Error };

export interface SettledInferResult {
  /** One per input, in order: its output, or the error that failed it alone. */
  items: ItemResult[];
  deviceSeconds: number;
  batchSize: number;
  queueMs: number;
  latencyMs: number;
}

interface Endpoint {
  key: string;
  handler: Handler;
  registration: ModelRegistration;
  batcher: DynamicBatcher<unknown, unknown>;
  perItemDeviceSeconds?: number;
}

export class ModelEngine {
  readonly pool: SessionPool;
  private readonly endpoints = new Map<string, Endpoint>();
  private readonly factories: Record<string, HandlerFactory>;

  constructor(private readonly options: ModelEngineOptions = {}) {
    this.pool = new SessionPool(options);
    this.factories = { ...BUILT_IN_HANDLERS, ...options.handlers };
  }

  /** Loads, checks and warms the model, then starts serving; replaces an endpoint of the same key. */
  async deploy(endpointKey: string, options: DeployOptions): Promise<DeployedEndpoint> {
    const limits = {
      maxBatchSize: options.maxBatchSize ?? 8,
      maxQueueDelayMs: options.maxQueueDelayMs ?? 5,
      maxQueueSize: options.maxQueueSize ?? 256,
      replicas: options.replicas ?? 1,
    };
    for (const [name, value] of Object.entries(limits)) {
      const minimum = name === 'maxQueueDelayMs' ? 0 : 1;
      if (!Number.isInteger(value) || value < minimum) throw new EngineInputError(`${name} must be an integer ≥ ${minimum}, got ${value}`);
    }
    const source = options.modelBytes ? { bytes: options.modelBytes } : options.modelPath ? { path: options.modelPath } : undefined;
    if (!source) throw new EngineInputError('deploy needs modelBytes or modelPath');
    const handler = createHandler(options.handler, options.config, this.factories);
    const endpoint = { key: endpointKey, handler } as Endpoint;
    await handler.open?.({ pool: this.pool });
    try {
      endpoint.registration = await this.pool.register(source, (session) => this.warmUp(endpoint, session),
        handler.intraOpThreads ? { intraOpNumThreads: handler.intraOpThreads } : {});
    } catch (error) {
      await handler.close?.();
      throw error;
    }
    const stepwise = options.continuous === false ? undefined : handler.stepwise;
    endpoint.batcher = new DynamicBatcher(
      { endpoint: endpointKey, ...limits },
      { runBatch: (items) => this.execute(endpoint, items), steps: stepwise && this.stepExecutor(endpoint, stepwise) },
      this.options.onBatch,
    );
    const previous = this.endpoints.get(endpointKey);
    this.endpoints.set(endpointKey, endpoint);
    if (previous) await this.shutDown(previous, { drain: true });
    return { modelKey: endpoint.registration.key, signature: endpoint.registration.signature, perItemDeviceSeconds: endpoint.perItemDeviceSeconds };
  }

  async infer(endpointKey: string, inputs: unknown[]): Promise<InferResult> {
    const started = performance.now();
    const endpoint = this.endpoint(endpointKey);
    if (!Array.isArray(inputs) || inputs.length === 0) throw new EngineInputError('infer needs a non-empty list of inputs');
    endpoint.batcher.checkCapacity(inputs.length);
    const prepared = await Promise.all(
      inputs.map((input, index) => endpoint.handler.prepare(input).catch((error) => Promise.reject(withIndex(error, index)))),
    );
    const settled = await Promise.allSettled(endpoint.batcher.submitAll(prepared));
    const failure = settled.findIndex((s) => s.status === 'rejected');
    if (failure >= 0) throw withIndex((settled[failure] as PromiseRejectedResult).reason, failure);
    const results = settled.map((s) => (s as PromiseFulfilledResult<Awaited<ReturnType<DynamicBatcher<unknown, unknown>['submit']>>>).value);
    return {
      outputs: results.map((r) => r.outputs),
      deviceSeconds: results.reduce((sum, r) => sum + r.deviceSeconds, 0),
      batchSize: Math.max(...results.map((r) => r.batchSize)),
      queueMs: Math.max(...results.map((r) => r.queueMs)),
      latencyMs: performance.now() - started,
    };
  }

  /**
   * Like infer, but a bad input fails only its own slot (batch jobs): nothing runs twice and the
   * good inputs are answered. Overload and stop still throw, for the whole call.
   */
  async inferSettled(endpointKey: string, inputs: unknown[]): Promise<SettledInferResult> {
    const started = performance.now();
    const endpoint = this.endpoint(endpointKey);
    if (!Array.isArray(inputs) || inputs.length === 0) throw new EngineInputError('infer needs a non-empty list of inputs');
    endpoint.batcher.checkCapacity(inputs.length);
    const prepared = await Promise.allSettled(inputs.map((input) => endpoint.handler.prepare(input)));
    const ready = prepared.flatMap((p, index) => (p.status === 'fulfilled' ? [{ index, item: p.value }] : []));
    const ran = await Promise.allSettled(endpoint.batcher.submitAll(ready.map((r) => r.item)));
    const whole = ran.find((r): r is PromiseRejectedResult => r.status === 'rejected' && !(r.reason instanceof EngineInputError));
    if (whole && (whole.reason instanceof EngineOverloadedError || whole.reason instanceof EngineStoppedError)) throw whole.reason;
    const items: ItemResult[] = prepared.map((p) => ({ error: (p as PromiseRejectedResult).reason }));
    ready.forEach(({ index }, k) => {
      const outcome = ran[k];
      items[index] = outcome.status === 'fulfilled'
        ? { output: outcome.value.outputs, deviceSeconds: outcome.value.deviceSeconds, batchSize: outcome.value.batchSize }
        : { error: outcome.reason };
    });
    const fulfilled = ran.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    return {
      items: items.map((item, index) => ('error' in item ? { error: withIndex(item.error, index) as Error } : item)),
      deviceSeconds: fulfilled.reduce((sum, r) => sum + r.deviceSeconds, 0),
      batchSize: Math.max(0, ...fulfilled.map((r) => r.batchSize)),
      queueMs: Math.max(0, ...fulfilled.map((r) => r.queueMs)),
      latencyMs: performance.now() - started,
    };
  }

  async undeploy(endpointKey: string): Promise<void> {
    const endpoint = this.endpoints.get(endpointKey);
    if (!endpoint) return;
    this.endpoints.delete(endpointKey);
    await this.shutDown(endpoint);
  }

  /** Measured device seconds per item, for cost estimates (undefined if not yet measured). */
  perItemDeviceSeconds(endpointKey: string): number | undefined {
    return this.endpoint(endpointKey).perItemDeviceSeconds;
  }

  signature(endpointKey: string): ModelSignature {
    return this.endpoint(endpointKey).registration.signature;
  }

  stats(): SessionPoolStats & { endpoints: Record<string, { queued: number }> } {
    const endpoints = Object.fromEntries([...this.endpoints].map(([key, e]) => [key, { queued: e.batcher.queued }]));
    return { ...this.pool.stats(), endpoints };
  }

  async close(): Promise<void> {
    await Promise.all([...this.endpoints.keys()].map((key) => this.undeploy(key)));
    await this.pool.close();
  }

  private endpoint(endpointKey: string): Endpoint {
    const endpoint = this.endpoints.get(endpointKey);
    if (!endpoint) throw new EngineStoppedError(`endpoint '${endpointKey}' is not deployed on this engine`);
    return endpoint;
  }

  private async execute(endpoint: Endpoint, items: unknown[]) {
    const lease = await this.pool.acquire(endpoint.registration.key);
    try {
      const session = new BatchSession(lease.session, endpoint.registration.signature, items.length);
      const results = await endpoint.handler.runBatch(session, items);
      if (endpoint.perItemDeviceSeconds === undefined) {
        const ok = results.map((r, i) => (r instanceof Error ? -1 : session.deviceSeconds[i])).filter((s) => s >= 0);
        if (ok.length) endpoint.perItemDeviceSeconds = Math.max(...ok);
      }
      return { results, deviceSeconds: session.deviceSeconds, batchSizes: session.batchSizes };
    } finally {
      lease.release();
    }
  }

  private stepExecutor(endpoint: Endpoint, stepwise: Stepwise<unknown, unknown, unknown>): StepExecutor<unknown, unknown> {
    return {
      stepwise,
      open: async () => {
        const lease = await this.pool.acquire(endpoint.registration.key);
        return {
          step: async (active) => {
            const session = new BatchSession(lease.session, endpoint.registration.signature, active.length);
            await stepwise.step((feeds) => session.run(feeds), active);
            return session.deviceSeconds;
          },
          release: () => lease.release(),
        };
      },
    };
  }

  /**
   * Runs on every (re)load: check the signature fits the handler, run one representative item
   * once to warm ONNX Runtime (first runs allocate and pick kernels), then again to measure.
   */
  private async warmUp(endpoint: Endpoint, session: InferenceSession): Promise<void> {
    const signature = signatureOf(session);
    endpoint.handler.checkSignature(signature);
    const item = await endpoint.handler.warmupItem(signature);
    let seconds = 0;
    for (let run = 0; run < 2; run++) {
      const batch = new BatchSession(session, signature, 1);
      const [result] = await endpoint.handler.runBatch(batch, [item]);
      if (result instanceof EngineInputError) {
        // The handler's synthetic input does not suit this model (a tensor model with data-dependent
        // shapes, say): serve anyway and take the first real batch's measurement instead.
        return;
      }
      if (result instanceof Error) throw new InvalidModelError(`the model failed its warm-up run: ${result.message}`);
      seconds = batch.deviceSeconds[0];
    }
    endpoint.perItemDeviceSeconds = seconds;
  }

  private async shutDown(endpoint: Endpoint, options: { drain?: boolean } = {}): Promise<void> {
    await endpoint.batcher.stop(options);
    await endpoint.handler.close?.();
    await endpoint.registration.release();
  }
}

function withIndex(error: unknown, index: number): unknown {
  if (error instanceof EngineInputError && error.inputIndex === undefined) {
    return new EngineInputError(`inputs[${index}]: ${error.message}`, index);
  }
  return error;
}
