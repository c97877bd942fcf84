import { BatchEvent, EngineInputError, EngineOverloadedError, EngineStoppedError, InferResult, ModelEngine } from './index';
import { broadcastModel, floatTensor, scaleModel } from './__fixtures__/tiny-models';

const row = (i: number) => ({ x: floatTensor([1, 3], [i, i + 1, i + 2]) });

describe('DynamicBatcher through ModelEngine', () => {
  const events: BatchEvent[] = [];
  const engine = new ModelEngine({ intraOpNumThreads: 1, onBatch: (e) => events.push(e) });
  afterAll(() => engine.close());

  it('gathers concurrent requests into one batch and hands each caller its own rows', async () => {
    // The batch fills at 8 well before a 10 s delay would expire: no timing assumption.
    await engine.deploy('batched', { modelBytes: scaleModel(3), handler: 'tensor', maxBatchSize: 8, maxQueueDelayMs: 10_000 });
    await engine.deploy('single', { modelBytes: scaleModel(3), handler: 'tensor', maxBatchSize: 1, maxQueueDelayMs: 0 });
    const unbatched: InferResult[] = [];
    for (let i = 0; i < 8; i++) unbatched.push(await engine.infer('single', [row(i)]));
    expect(unbatched.every((r) => r.batchSize === 1)).toBe(true);
    events.length = 0;
    const batched = await Promise.all([...Array(8).keys()].map((i) => engine.infer('batched', [row(i)])));
    expect(batched.map((r) => r.batchSize)).toEqual(Array(8).fill(8));
    batched.forEach((result, i) => {
      expect(result.outputs).toEqual(unbatched[i].outputs);
      expect(result.outputs[0]).toEqual({ y: { type: 'float32', dims: [1, 3], data: [3 * i, 3 * i + 3, 3 * i + 6] } });
      expect(result.deviceSeconds).toBeGreaterThan(0);
    });
    expect(events).toEqual([expect.objectContaining({ endpoint: 'batched', batchSize: 8, errors: 0 })]);
  });

  it('runs batches on parallel replicas without mixing answers', async () => {
    await engine.deploy('replicated', { modelBytes: scaleModel(3), handler: 'tensor', maxBatchSize: 2, maxQueueDelayMs: 0, replicas: 2 });
    const results = await Promise.all([...Array(12).keys()].map((i) => engine.infer('replicated', [row(i)])));
    results.forEach((result, i) => expect(result.outputs[0]).toEqual({ y: { type: 'float32', dims: [1, 3], data: [3 * i, 3 * i + 3, 3 * i + 6] } }));
    expect(Math.max(...results.map((r) => r.batchSize))).toBeLessThanOrEqual(2);
  });

  it('refuses work beyond the queue bound with EngineOverloadedError', async () => {
    await engine.deploy('small-queue', { modelBytes: scaleModel(4), handler: 'tensor', maxBatchSize: 1, maxQueueDelayMs: 0, maxQueueSize: 2 });
    // The first request starts running at once; the next two wait in the queue; the fourth is refused.
    const outcomes = await Promise.allSettled([0, 1, 2, 3].map((i) => engine.infer('small-queue', [row(i)])));
    expect(outcomes.slice(0, 3).map((o) => o.status)).toEqual(['fulfilled', 'fulfilled', 'fulfilled']);
    const refused = (outcomes[3] as PromiseRejectedResult).reason;
    expect(refused).toBeInstanceOf(EngineOverloadedError);
    expect(refused.code).toBe('OVERLOADED');
    expect(refused.message).toMatch(/overloaded \(2 requests queued, limit 2\)/);
    // A multi-input request larger than the queue is refused whole.
    await expect(engine.infer('small-queue', [row(0), row(1), row(2)])).rejects.toBeInstanceOf(EngineOverloadedError);
  });

  it('fails only the item that fails, in the same batch as good ones', async () => {
    await engine.deploy('broadcast', { modelBytes: broadcastModel(), handler: 'tensor', maxBatchSize: 3, maxQueueDelayMs: 10_000 });
    const good = { x: floatTensor([1, 3], [1, 1, 1]) };
    const bad = { x: floatTensor([1, 4], [1, 1, 1, 1]) };
    const [a, b, c] = await Promise.allSettled([good, bad, good].map((input) => engine.infer('broadcast', [input])));
    expect(a).toEqual({ status: 'fulfilled', value: expect.objectContaining({ batchSize: 2, outputs: [{ y: { type: 'float32', dims: [1, 3], data: [1, 2, 3] } }] }) });
    expect(c.status).toBe('fulfilled');
    const error = (b as PromiseRejectedResult).reason;
    expect(error).toBeInstanceOf(EngineInputError);
    expect(error.message).toMatch(/^inputs\[0\]: the model rejected the input/);
    // Within one call, the failing input is named by its index.
    const mixed = await engine.infer('broadcast', [good, good, bad]).catch((e) => e);
    expect(mixed).toBeInstanceOf(EngineInputError);
    expect(mixed.inputIndex).toBe(2);
  });

  it('answers the good inputs of a call and reports each bad one in its own slot (inferSettled)', async () => {
    await engine.deploy('settled', { modelBytes: broadcastModel(), handler: 'tensor', maxBatchSize: 8, maxQueueDelayMs: 0 });
    const good = { x: floatTensor([1, 3], [1, 1, 1]) };
    const failsInModel = { x: floatTensor([1, 4], [1, 1, 1, 1]) };
    const failsValidation = { x: { type: 'int32', dims: [1, 3], data: [1, 2, 3] } };
    const result = await engine.inferSettled('settled', [good, failsInModel, good, failsValidation]);
    expect(result.items[0]).toEqual({ output: { y: { type: 'float32', dims: [1, 3], data: [1, 2, 3] } }, deviceSeconds: expect.any(Number), batchSize: 2 });
    expect(result.items[2]).toMatchObject({ output: { y: { data: [1, 2, 3] } }, batchSize: 2 });
    for (const index of [1, 3]) {
      const { error } = result.items[index] as { error: EngineInputError };
      expect(error).toBeInstanceOf(EngineInputError);
      expect(error.inputIndex).toBe(index);
      expect(error.message).toMatch(new RegExp(`^inputs\\[${index}\\]: `));
    }
    expect(result.deviceSeconds).toBeGreaterThan(0);
  });

  it('rejects queued work with EngineStoppedError on undeploy, and refuses new work', async () => {
    await engine.deploy('stopping', { modelBytes: scaleModel(5), handler: 'tensor', maxBatchSize: 8, maxQueueDelayMs: 60_000 });
    const waiting = [engine.infer('stopping', [row(1)]), engine.infer('stopping', [row(2)])];
    await new Promise((resolve) => setImmediate(resolve));
    expect(engine.stats().endpoints.stopping.queued).toBe(2);
    await engine.undeploy('stopping');
    for (const outcome of await Promise.allSettled(waiting)) {
      expect((outcome as PromiseRejectedResult).reason).toBeInstanceOf(EngineStoppedError);
    }
    const error = await engine.infer('stopping', [row(1)]).catch((e) => e);
    expect(error).toBeInstanceOf(EngineStoppedError);
    expect(error.code).toBe('STOPPED');
  });

  it('runs a partial batch once the oldest request has waited maxQueueDelayMs', async () => {
    await engine.deploy('partial', { modelBytes: scaleModel(2), handler: 'tensor', maxBatchSize: 8, maxQueueDelayMs: 20 });
    const results = await Promise.all([1, 2, 3].map((i) => engine.infer('partial', [row(i)])));
    expect(results.map((r) => r.batchSize)).toEqual([3, 3, 3]);
  });

  it('drains queued work into the new version when an endpoint is redeployed', async () => {
    await engine.deploy('versioned', { modelBytes: scaleModel(2), handler: 'tensor', maxBatchSize: 8, maxQueueDelayMs: 60_000 });
    const queued = engine.infer('versioned', [row(1)]);
    await new Promise((resolve) => setImmediate(resolve));
    await engine.deploy('versioned', { modelBytes: scaleModel(10), handler: 'tensor', maxBatchSize: 8, maxQueueDelayMs: 0 });
    // Accepted by version 1, so answered by version 1; new requests reach version 2.
    expect((await queued).outputs[0]).toEqual({ y: { type: 'float32', dims: [1, 3], data: [2, 4, 6] } });
    expect((await engine.infer('versioned', [row(1)])).outputs[0]).toEqual({ y: { type: 'float32', dims: [1, 3], data: [10, 20, 30] } });
  });

  it('refuses an empty inputs list', async () => {
    await engine.deploy('empty', { modelBytes: scaleModel(6), handler: 'tensor' });
    await expect(engine.infer('empty', [])).rejects.toThrow(EngineInputError);
  });
});
