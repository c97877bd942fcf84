import { until } from '../../test/harness/wait';
import {
  BatchEvent, EngineInputError, EngineOverloadedError, EngineStoppedError, HandlerFactory, InferResult, ModelEngine, VadHandler,
  VadHandlerConfig, VadOutput, demoModelPaths,
} from './index';
import { silenceSpeechSilence, wavBytes } from './__fixtures__/synthetic-speech';

// Continuous (iteration-level) batching on the real Silero VAD model. A test holds a run's next
// step to queue clips behind a run that has provably started, and reads back the batch size of
// every step, so no assertion depends on timing.

/** Sees every step of the endpoints built with `observedVad`, and can hold or fail the next one. */
class StepObserver {
  /** Items in each step, in order. */
  sizes: number[] = [];
  private held?: { reached: () => void; released: Promise<void>; fail: boolean };

  /** The next step waits for `release`; `reached` resolves once it is waiting. */
  holdNextStep(options: { fail?: boolean } = {}): { reached: Promise<void>; release: () => void } {
    let release!: () => void;
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const reached = new Promise<void>((resolve) => {
      this.held = { reached: resolve, released, fail: options.fail ?? false };
    });
    return { reached, release };
  }

  async beforeStep(size: number): Promise<void> {
    this.sizes.push(size);
    const held = this.held;
    this.held = undefined;
    if (!held) return;
    held.reached();
    await held.released;
    if (held.fail) throw new EngineInputError('voice activity detection failed: injected');
  }
}

/** The vad handler with every step passing through the observer first. */
function observedVad(observer: StepObserver): HandlerFactory {
  return (config) => {
    const handler = new VadHandler(config as VadHandlerConfig);
    const { step } = handler.stepwise;
    // Whole batches (runBatch) and continuous runs both step through this object.
    handler.stepwise.step = async (run, clips) => {
      await observer.beforeStep(clips.length);
      return step(run, clips);
    };
    return handler;
  };
}

const windows = (seconds: number) => Math.ceil((seconds * 16_000) / 512);
// 12 s, 2.5 s and 1.5 s at 16 kHz: 375, 79 and 47 windows.
const LONG = { bytes: wavBytes(silenceSpeechSilence(1, 2, 9, 16_000), 16_000) };
const SHORT = { bytes: wavBytes(silenceSpeechSilence(0.5, 1, 1, 16_000), 16_000) };
const SHORTER = { bytes: wavBytes(silenceSpeechSilence(0.3, 1, 0.2, 16_000), 16_000) };

describe('DynamicBatcher, continuous batching (Silero VAD)', () => {
  const observer = new StepObserver();
  const events: BatchEvent[] = [];
  const engine = new ModelEngine({ intraOpNumThreads: 1, handlers: { 'observed-vad': observedVad(observer) }, onBatch: (e) => events.push(e) });
  const alone = new Map<object, InferResult>();
  const vad = demoModelPaths().vad;

  beforeAll(async () => {
    await engine.deploy('alone', { modelPath: vad, handler: 'vad', maxBatchSize: 1, maxQueueDelayMs: 0 });
    for (const clip of [LONG, SHORT, SHORTER]) alone.set(clip, await engine.infer('alone', [clip]));
  });
  afterAll(() => engine.close());

  async function deploy(
    key: string, options: { maxBatchSize: number; maxQueueDelayMs?: number; maxQueueSize?: number; replicas?: number; continuous?: boolean },
  ) {
    await engine.deploy(key, { modelPath: vad, handler: 'observed-vad', maxQueueDelayMs: 0, ...options });
    observer.sizes = [];
    events.length = 0;
  }

  const queued = (key: string, count: number) => until(`${count} queued on ${key}`, async () => engine.stats().endpoints[key].queued === count);

  /** Runs the long clip, and once its first step has started queues the short one behind it; answers in the order they came. */
  async function longThenShort(key: string) {
    const answered: string[] = [];
    const hold = observer.holdNextStep();
    const long = engine.infer(key, [LONG]).then((r) => (answered.push('long'), r));
    await hold.reached;
    const short = engine.infer(key, [SHORT]).then((r) => (answered.push('short'), r));
    await queued(key, 1);
    hold.release();
    return { long: await long, short: await short, answered };
  }

  it('lets a clip queued while a run is stepping join it at the next step, with the segments it gets alone', async () => {
    await deploy('joins', { maxBatchSize: 4 });
    const { long, short } = await longThenShort('joins');
    expect(short.batchSize).toBe(2);
    expect(long.batchSize).toBe(2);
    expect(observer.sizes).toEqual([
      1, ...Array(windows(2.5)).fill(2), ...Array(windows(12) - 1 - windows(2.5)).fill(1),
    ]);
    expect(short.outputs).toEqual(alone.get(SHORT)!.outputs);
    expect(long.outputs).toEqual(alone.get(LONG)!.outputs);
    expect((short.outputs[0] as VadOutput).segments).toHaveLength(1);
  });

  it('answers a short clip that joined a long one as soon as it ends, before the long one', async () => {
    await deploy('leaves-early', { maxBatchSize: 4 });
    const { answered } = await longThenShort('leaves-early');
    expect(answered).toEqual(['short', 'long']);
  });

  it("splits each step's measured time among its clips: their device seconds add up to the run's", async () => {
    await deploy('charges', { maxBatchSize: 4 });
    const { long, short } = await longThenShort('charges');
    // One event per step group: the long clip alone, then with the short one, then alone again.
    expect(events.map((e) => [e.batchSize, e.errors])).toEqual([[1, 0], [2, 0], [1, 0]]);
    expect(short.deviceSeconds).toBeGreaterThan(0);
    expect(long.deviceSeconds).toBeGreaterThan(short.deviceSeconds);
    const measured = events.reduce((sum, e) => sum + e.deviceSeconds, 0);
    expect(long.deviceSeconds + short.deviceSeconds).toBeCloseTo(measured, 9);
  });

  it('starts a run only once the batch is full or the oldest clip has waited maxQueueDelayMs', async () => {
    await deploy('delayed', { maxBatchSize: 2, maxQueueDelayMs: 60_000 });
    const first = engine.infer('delayed', [SHORT]);
    await queued('delayed', 1);
    expect(observer.sizes).toEqual([]);
    const second = engine.infer('delayed', [SHORTER]);
    await Promise.all([first, second]);
    expect(observer.sizes[0]).toBe(2);
  });

  it('never runs more than maxBatchSize clips: a queued clip joins when one leaves', async () => {
    await deploy('full', { maxBatchSize: 2 });
    const hold = observer.holdNextStep();
    const long = engine.infer('full', [LONG]);
    await hold.reached;
    const waiting = [engine.infer('full', [SHORTER]), engine.infer('full', [SHORT])];
    await queued('full', 2);
    hold.release();
    const [shorter, short] = await Promise.all(waiting);
    expect(Math.max(...observer.sizes)).toBe(2);
    expect([shorter.batchSize, short.batchSize, (await long).batchSize]).toEqual([2, 2, 2]);
    // SHORT joined at the step after SHORTER left; the long clip ran beside both in turn.
    expect(observer.sizes.slice(0, 1 + windows(1.5) + windows(2.5))).toEqual([1, ...Array(windows(1.5) + windows(2.5)).fill(2)]);
    expect(short.outputs).toEqual(alone.get(SHORT)!.outputs);
    expect(shorter.outputs).toEqual(alone.get(SHORTER)!.outputs);
  });

  it('runs a continuous batch per replica without mixing the clips or their state', async () => {
    await deploy('replicated', { maxBatchSize: 2, replicas: 2 });
    const clips = [LONG, SHORT, SHORTER, SHORT, LONG];
    const results = await Promise.all(clips.map((clip) => engine.infer('replicated', [clip])));
    expect(results.map((r) => r.outputs)).toEqual(clips.map((clip) => alone.get(clip)!.outputs));
    expect(Math.max(...observer.sizes)).toBeLessThanOrEqual(2);
  });

  it('fails only the clips of a step that fails; clips that join afterwards are answered', async () => {
    await deploy('failing', { maxBatchSize: 4 });
    const hold = observer.holdNextStep({ fail: true });
    const long = engine.infer('failing', [LONG]).catch((e) => e);
    await hold.reached;
    const short = engine.infer('failing', [SHORT]);
    await queued('failing', 1);
    hold.release();
    const error = await long;
    expect(error).toBeInstanceOf(EngineInputError);
    expect(error.message).toMatch(/injected/);
    expect((await short).outputs).toEqual(alone.get(SHORT)!.outputs);
    expect(events.map((e) => [e.batchSize, e.errors])).toEqual([[1, 1], [1, 0]]);
  });

  it('refuses clips beyond the queue bound while a run is full', async () => {
    await deploy('overloaded', { maxBatchSize: 1, maxQueueSize: 1 });
    const hold = observer.holdNextStep();
    const long = engine.infer('overloaded', [LONG]);
    await hold.reached;
    const short = engine.infer('overloaded', [SHORT]);
    await queued('overloaded', 1);
    await expect(engine.infer('overloaded', [SHORTER])).rejects.toBeInstanceOf(EngineOverloadedError);
    hold.release();
    expect((await short).batchSize).toBe(1);
    expect((await long).batchSize).toBe(1);
  });

  it('on undeploy rejects queued clips and finishes the running ones', async () => {
    await deploy('stopping', { maxBatchSize: 4 });
    const hold = observer.holdNextStep();
    const long = engine.infer('stopping', [LONG]);
    await hold.reached;
    const waiting = [engine.infer('stopping', [SHORT]), engine.infer('stopping', [SHORTER])];
    await queued('stopping', 2);
    const stopped = engine.undeploy('stopping');
    for (const outcome of await Promise.allSettled(waiting)) {
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(EngineStoppedError);
    }
    await expect(engine.infer('stopping', [SHORT])).rejects.toBeInstanceOf(EngineStoppedError);
    hold.release();
    expect((await long).outputs).toEqual(alone.get(LONG)!.outputs);
    await stopped;
  });

  it('on redeploy lets queued clips join the draining run and answers them all', async () => {
    await deploy('draining', { maxBatchSize: 2 });
    const hold = observer.holdNextStep();
    const long = engine.infer('draining', [LONG]);
    await hold.reached;
    const waiting = [engine.infer('draining', [SHORT]), engine.infer('draining', [SHORTER])];
    await queued('draining', 2);
    const redeployed = engine.deploy('draining', { modelPath: vad, handler: 'observed-vad', maxBatchSize: 2, maxQueueDelayMs: 0 });
    hold.release();
    const results: InferResult[] = [];
    for (const result of [long, ...waiting]) results.push(await result);
    await redeployed;
    expect(results.map((r) => r.outputs)).toEqual([LONG, SHORT, SHORTER].map((clip) => alone.get(clip)!.outputs));
    expect(results.map((r) => r.batchSize)).toEqual([2, 2, 2]);
  });

  it('with continuous: false keeps whole-request batches: a clip queued during a run waits for it to end', async () => {
    await deploy('whole-batches', { maxBatchSize: 4, continuous: false });
    const { long, short, answered } = await longThenShort('whole-batches');
    expect([long.batchSize, short.batchSize]).toEqual([1, 1]);
    expect(answered).toEqual(['long', 'short']);
    expect(observer.sizes).toEqual(Array(windows(12) + windows(2.5)).fill(1));
    expect(short.outputs).toEqual(alone.get(SHORT)!.outputs);
  });
});
