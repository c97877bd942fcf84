import { EngineOverloadedError, EngineStoppedError } from './engine-errors';
import type { Stepwise } from './handler';

// Triton's dynamic batcher, reduced to what one process needs: requests queue per endpoint and a
// free model instance takes up to maxBatchSize of them once the batch is full or the oldest has
// waited maxQueueDelayMs. The queue is bounded so overload turns into a fast, explicit refusal
// instead of latency that grows without limit.
//
// Work that runs in steps (VAD windows) is batched continuously instead, as Orca (OSDI '22)
// schedules at iteration level: the run started by a free instance admits queued items at every
// step boundary up to maxBatchSize, and an item leaves and is answered as soon as its own steps
// are over. Requests that arrive staggered (concurrent HTTP clients) then share steps instead of
// forming alternating half batches, and a short clip never waits for a long one. A run ends when
// it has no items left and nothing is queued.

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

/** How the batcher runs what it dispatches. */
export interface BatchExecutor<Item, Output> {
  runBatch(items: Item[]): Promise<BatchExecution<Output>>;
  /** When present, batches are continuous (see the top of this file) and runBatch is not used. */
  steps?: StepExecutor<Item, Output>;
}

export interface StepExecutor<Item, Output> {
  stepwise: Stepwise<Item, Output, unknown>;
  /** Leases a model instance for one continuous run. */
  open(): Promise<StepLease>;
}

export interface StepLease {
  /** Runs `stepwise.step` over the given progress; resolves to each one's share of the measured session.run seconds. */
  step(active: unknown[]): Promise<ArrayLike<number>>;
  release(): void;
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
  /** The most items that shared one model run with this one. */
  batchSize: number;
  /** From submission until its batch started (continuous: until it joined a run). */
  queueMs: number;
  /** From then until it was answered. */
  runMs: number;
}

/**
 * One per batch. A continuous run reports one per step group: consecutive steps taken by the
 * same items, closed whenever an item joins or leaves. So batchSize is the group's item count,
 * queueMs the longest wait of the items that joined at its first step (0 when it began because
 * an item left), runMs its wall time and errors the items that failed in it or as they left it.
 * An item that needs no step is answered as it joins and belongs to no group.
 */
export interface BatchEvent {
  endpoint: string;
  batchSize: number;
  queueMs: number;
  runMs: number;
  errors: number;
  /** Measured session.run seconds, the sum of the items' shares. */
  deviceSeconds: number;
}

interface Pending<Item, Output> {
  item: Item;
  enqueuedAt: number;
  resolve: (result: BatchedResult<Output>) => void;
  reject: (error: unknown) => void;
}

/** An item inside a continuous run. */
interface Member<Item, Output> {
  pending: Pending<Item, Output>;
  progress: unknown;
  joinedAt: number;
  deviceSeconds: number;
  batchSize: number;
}

/** A batch, or a continuous run's step group, until it ends and is reported with its runMs. */
type RunningBatch = Omit<BatchEvent, 'endpoint' | 'runMs'> & { startedAt: number };

export class DynamicBatcher<Item, Output> {
  private readonly queue: Array<Pending<Item, Output>> = [];
  private running = 0;
  private timer?: NodeJS.Timeout;
  private stopped = false;
  private draining = false;
  private readonly idle: Array<() => void> = [];

  constructor(
    private readonly options: BatcherOptions,
    private readonly executor: BatchExecutor<Item, Output>,
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
      const batch = this.queue.splice(0, this.options.maxBatchSize);
      void (this.executor.steps ? this.runContinuously(this.executor.steps, batch) : this.dispatch(batch));
    }
  }

  private async dispatch(batch: Array<Pending<Item, Output>>): Promise<void> {
    this.running += 1;
    const started = performance.now();
    let errors = 0;
    let deviceSeconds = 0;
    try {
      const execution = await this.executor.runBatch(batch.map((p) => p.item));
      const runMs = performance.now() - started;
      batch.forEach((pending, i) => {
        deviceSeconds += execution.deviceSeconds[i] ?? 0;
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
      const queueMs = batch.reduce((worst, p) => Math.max(worst, started - p.enqueuedAt), 0);
      this.report({ batchSize: batch.length, queueMs, errors, deviceSeconds, startedAt: started }, performance.now());
      this.finished();
    }
  }

  private async runContinuously(steps: StepExecutor<Item, Output>, first: Array<Pending<Item, Output>>): Promise<void> {
    this.running += 1;
    try {
      const started = performance.now();
      let lease: StepLease;
      try {
        lease = await steps.open();
      } catch (error) {
        for (const pending of first) pending.reject(error);
        const queueMs = first.reduce((worst, p) => Math.max(worst, started - p.enqueuedAt), 0);
        this.report({ batchSize: first.length, queueMs, errors: first.length, deviceSeconds: 0, startedAt: started }, performance.now());
        return;
      }
      try {
        await this.stepUntilIdle(steps.stepwise, lease, first, started);
      } finally {
        lease.release();
      }
    } finally {
      this.finished();
    }
  }

  /** The continuous run itself; every item it takes is answered or failed, so it never throws. */
  private async stepUntilIdle(
    stepwise: Stepwise<Item, Output, unknown>, lease: StepLease, first: Array<Pending<Item, Output>>, started: number,
  ): Promise<void> {
    let members: Array<Member<Item, Output>> = [];
    let group: RunningBatch | undefined;
    let incoming = first;
    // The first items joined when the run started, as a fixed batch's do: leasing counts as running.
    let boundary = started;
    for (;;) {
      const joined = incoming.flatMap((pending) => this.join(stepwise, pending, boundary));
      if (group && joined.length) {
        this.report(group, boundary);
        group = undefined;
      }
      members.push(...joined);
      if (!members.length) {
        // Every item has left: queued ones need no companions to start, later ones can still join.
        if (!this.queue.length) return;
        incoming = this.queue.splice(0, this.options.maxBatchSize);
        boundary = performance.now();
        continue;
      }
      const current: RunningBatch = group ??= {
        startedAt: boundary,
        batchSize: members.length,
        queueMs: joined.reduce((worst, m) => Math.max(worst, boundary - m.pending.enqueuedAt), 0),
        errors: 0,
        deviceSeconds: 0,
      };
      let staying: Array<Member<Item, Output>> = [];
      try {
        const shares = await lease.step(members.map((m) => m.progress));
        boundary = performance.now();
        members.forEach((member, i) => {
          member.deviceSeconds += shares[i];
          member.batchSize = Math.max(member.batchSize, members.length);
          current.deviceSeconds += shares[i];
          const left = this.leaveIfDone(stepwise, member, boundary);
          if (!left) staying.push(member);
          else if (left === 'failed') current.errors += 1;
        });
      } catch (error) {
        // The items shared the run that failed, so it fails them all; the run goes on with later ones.
        boundary = performance.now();
        current.errors += members.length;
        for (const member of members) member.pending.reject(error);
        staying = [];
      }
      if (staying.length < members.length) {
        this.report(current, boundary);
        group = undefined;
      }
      members = staying;
      // Freed slots are filled at this same boundary.
      incoming = this.queue.splice(0, this.options.maxBatchSize - members.length);
    }
  }

  /** Starts an item's progress; one that needs no step is answered at once and never becomes a member. */
  private join(stepwise: Stepwise<Item, Output, unknown>, pending: Pending<Item, Output>, now: number): Array<Member<Item, Output>> {
    let member: Member<Item, Output>;
    try {
      member = { pending, progress: stepwise.begin(pending.item), joinedAt: now, deviceSeconds: 0, batchSize: 0 };
    } catch (error) {
      pending.reject(error);
      return [];
    }
    return this.leaveIfDone(stepwise, member, now) ? [] : [member];
  }

  /** Answers a member whose steps are over; a throw while finishing fails that member alone. */
  private leaveIfDone(stepwise: Stepwise<Item, Output, unknown>, member: Member<Item, Output>, now: number): false | 'answered' | 'failed' {
    let outputs: Output;
    try {
      if (!stepwise.done(member.progress)) return false;
      outputs = stepwise.output(member.progress);
    } catch (error) {
      member.pending.reject(error);
      return 'failed';
    }
    member.pending.resolve({
      outputs,
      deviceSeconds: member.deviceSeconds,
      // An item that needed no step ran with no other.
      batchSize: Math.max(1, member.batchSize),
      queueMs: member.joinedAt - member.pending.enqueuedAt,
      runMs: now - member.joinedAt,
    });
    return 'answered';
  }

  private report({ startedAt, ...event }: RunningBatch, now: number): void {
    try {
      this.onBatch?.({ endpoint: this.options.endpoint, ...event, runMs: now - startedAt });
    } catch {
      // A metrics observer must never break serving.
    }
  }

  private finished(): void {
    this.running -= 1;
    this.schedule();
    if (this.running === 0 && this.queue.length === 0) for (const resolve of this.idle.splice(0)) resolve();
  }
}
