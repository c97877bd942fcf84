import { EngineOverloadedError, EngineStoppedError } from './engine-errors';

// Triton's dynamic batcher, reduced to what one process needs: requests queue per endpoint and a
// free model instance takes up to maxBatchSize of them once the batch is full or the oldest has
// waited maxQueueDelayMs. The queue is bounded so overload turns into a fast, explicit refusal
// instead of latency that grows without limit.

export interface BatcherOptions {
  endpoint: string;
  maxBatchSize: number;
  /** How long the oldest queued request may wait for companions; 0 dispatches at once. */
  maxQueueDelayMs: number;
  /** Queued (not yet running) items beyond which submissions are refused. */
  maxQueueSize: number;
  /** Model instances that may run a batch at the same time (Triton's instance_group count). */
  replicas?: number;
}

export interface BatchExecution<Output> {
  /** One slot per item: its output, or the Error that failed it alone. */
  results: Array<Output | Error>;
  deviceSeconds: ArrayLike<number>;
  batchSizes?: ArrayLike<number>;
}

export interface BatchedResult<Output> {
  outputs: Output;
  /** This item's share of measured session.run wall time. */
  deviceSeconds: number;
  /** Items that shared a model run with this one. */
  batchSize: number;
  queueMs: number;
  runMs: number;
}

export interface BatchEvent {
  endpoint: string;
  batchSize: number;
  queueMs: number;
  runMs: number;
  errors: number;
}

interface Pending<Item, Output> {
  item: Item;
  enqueuedAt: number;
  resolve: (result: BatchedResult<Output>) => void;
  reject: (error: unknown) => void;
}

export class DynamicBatcher<Item, Output> {
  private readonly queue: Array<Pending<Item, Output>> = [];
  private running = 0;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private draining = false;
  private readonly idle: Array<() => void> = [];

  constructor(
    private readonly options: BatcherOptions,
    private readonly execute: (items: Item[]) => Promise<BatchExecution<Output>>,
    private readonly onBatch?: (event: BatchEvent) => void,
  ) {
    if (!(options.maxBatchSize >= 1)) throw new RangeError('maxBatchSize must be at least 1');
  }

  get queued(): number {
    return this.queue.length;
  }

  /** Throws what submitAll would, before a caller spends time decoding inputs it cannot queue. */
  checkCapacity(items: number): void {
    if (this.stopped) throw new EngineStoppedError(`endpoint '${this.options.endpoint}' is stopped`);
    if (this.queue.length + items > this.options.maxQueueSize) throw this.overloaded();
  }

  submit(item: Item): Promise<BatchedResult<Output>> {
    return this.submitAll([item])[0];
  }

  /** Enqueues all items or none: a multi-input request is refused whole when the queue is full. */
  submitAll(items: Item[]): Array<Promise<BatchedResult<Output>>> {
    if (this.stopped) {
      const error = new EngineStoppedError(`endpoint '${this.options.endpoint}' is stopped`);
      return items.map(() => Promise.reject(error));
    }
    if (this.queue.length + items.length > this.options.maxQueueSize) {
      const error = this.overloaded();
      return items.map(() => Promise.reject(error));
    }
    const now = performance.now();
    const promises = items.map(
      (item) => new Promise<BatchedResult<Output>>((resolve, reject) => this.queue.push({ item, enqueuedAt: now, resolve, reject })),
    );
    this.schedule();
    return promises;
  }

  /**
   * Refuses new work, then either rejects queued work with EngineStoppedError or, with `drain`,
   * runs it without waiting for companions (a redeploy must not fail accepted requests). Resolves
   * when no batch is running.
   */
  async stop(options: { drain?: boolean } = {}): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.timer = undefined;
    if (options.drain) {
      this.draining = true;
      this.schedule();
    } else {
      const error = new EngineStoppedError(`endpoint '${this.options.endpoint}' was stopped before this request ran`);
      for (const pending of this.queue.splice(0)) pending.reject(error);
    }
    if (this.running > 0 || this.queue.length > 0) await new Promise<void>((resolve) => this.idle.push(resolve));
  }

  private overloaded(): EngineOverloadedError {
    return new EngineOverloadedError(
      `endpoint '${this.options.endpoint}' is overloaded (${this.queue.length} requests queued, limit ${this.options.maxQueueSize}); retry later`,
    );
  }

  private schedule(): void {
    if (this.stopped && !this.draining) return;
    const replicas = this.options.replicas ?? 1;
    while (this.running < replicas && this.queue.length > 0) {
      const waited = performance.now() - this.queue[0].enqueuedAt;
      const full = this.queue.length >= this.options.maxBatchSize;
      if (!full && !this.draining && waited < this.options.maxQueueDelayMs) {
        if (!this.timer) {
          this.timer = setTimeout(() => {
            this.timer = undefined;
            this.schedule();
          }, Math.ceil(this.options.maxQueueDelayMs - waited));
        }
        return;
      }
      clearTimeout(this.timer);
      this.timer = undefined;
      void this.dispatch(this.queue.splice(0, this.options.maxBatchSize));
    }
  }

  private async dispatch(batch: Array<Pending<Item, Output>>): Promise<void> {
    this.running += 1;
    const started = performance.now();
    let errors = 0;
    try {
      const execution = await this.execute(batch.map((p) => p.item));
      const runMs = performance.now() - started;
      batch.forEach((pending, i) => {
        const outcome = execution.results[i];
        if (outcome instanceof Error || outcome === undefined) {
          errors += 1;
          pending.reject(outcome ?? new Error('the handler returned no result for this item'));
          return;
        }
        pending.resolve({
          outputs: outcome,
          deviceSeconds: execution.deviceSeconds[i] ?? 0,
          batchSize: execution.batchSizes?.[i] || batch.length,
          queueMs: started - pending.enqueuedAt,
          runMs,
        });
      });
    } catch (error) {
      errors = batch.length;
      for (const pending of batch) pending.reject(error);
    } finally {
      this.running -= 1;
      const queueMs = batch.reduce((worst, p) => Math.max(worst, started - p.enqueuedAt), 0);
      try {
        this.onBatch?.({ endpoint: this.options.endpoint, batchSize: batch.length, queueMs, runMs: performance.now() - started, errors });
      } catch {
        // A metrics observer must never break serving.
      }
      this.schedule();
      if (this.running === 0 && this.queue.length === 0) for (const resolve of this.idle.splice(0)) resolve();
    }
  }
}
