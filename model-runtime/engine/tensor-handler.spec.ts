import { EngineInputError, InvalidModelError, ModelEngine, buildOnnxModel } from './index';
import { addModel, floatTensor, int64IdentityModel, scaleModel } from './__fixtures__/tiny-models';

describe('tensor handler', () => {
  const engine = new ModelEngine({ intraOpNumThreads: 1 });
  beforeAll(async () => {
    await engine.deploy('scale', { modelBytes: scaleModel(2), handler: 'tensor', maxBatchSize: 4, maxQueueDelayMs: 0 });
    await engine.deploy('add', { modelBytes: addModel(), handler: 'tensor' });
    await engine.deploy('ids', { modelBytes: int64IdentityModel(), handler: 'tensor' });
  });
  afterAll(() => engine.close());

  it('runs the contract format and returns named outputs', async () => {
    const result = await engine.infer('scale', [{ x: floatTensor([2, 3], [1, 2, 3, 4, 5, 6]) }]);
    expect(result.outputs).toEqual([{ y: { type: 'float32', dims: [2, 3], data: [2, 4, 6, 8, 10, 12] } }]);
    expect(result.deviceSeconds).toBeGreaterThan(0);
    const sum = await engine.infer('add', [{ a: floatTensor([2, 2], [1, 2, 3, 4]), b: floatTensor([2, 2], [10, 20, 30, 40]) }]);
    expect(sum.outputs[0]).toEqual({ sum: { type: 'float32', dims: [2, 2], data: [11, 22, 33, 44] } });
  });

  it('round-trips int64, accepting digit strings beyond 2^53', async () => {
    const result = await engine.infer('ids', [{ ids: { type: 'int64', dims: [3], data: [1, -7, '9007199254740993'] } }]);
    expect(result.outputs[0]).toEqual({ out: { type: 'int64', dims: [3], data: [1, -7, '9007199254740993'] } });
  });

  it('concatenates requests with different row counts along dim 0 and splits the answers back', async () => {
    await engine.deploy('rows', { modelBytes: scaleModel(2), handler: 'tensor', maxBatchSize: 3, maxQueueDelayMs: 10_000 });
    const inputs = [1, 2, 3].map((rows) => ({ x: floatTensor([rows, 3], Array.from({ length: rows * 3 }, (_, i) => i)) }));
    const results = await Promise.all(inputs.map((input) => engine.infer('rows', [input])));
    results.forEach((result, k) => {
      const rows = k + 1;
      expect(result.batchSize).toBe(3);
      expect(result.outputs[0]).toEqual({ y: { type: 'float32', dims: [rows, 3], data: Array.from({ length: rows * 3 }, (_, i) => 2 * i) } });
    });
    // Device time is charged by rows: the three-row request pays three times the one-row one.
    expect(results[2].deviceSeconds / results[0].deviceSeconds).toBeCloseTo(3, 5);
  });

  it('runs requests one by one when dim 0 is fixed', async () => {
    await engine.deploy('add-batched', { modelBytes: addModel(), handler: 'tensor', maxBatchSize: 2, maxQueueDelayMs: 10_000 });
    const input = (k: number) => ({ a: floatTensor([2, 2], [k, k, k, k]), b: floatTensor([2, 2], [1, 1, 1, 1]) });
    const [one, two] = await Promise.all([1, 2].map((k) => engine.infer('add-batched', [input(k)])));
    expect(one.batchSize).toBe(1);
    expect(one.outputs[0]).toEqual({ sum: { type: 'float32', dims: [2, 2], data: [2, 2, 2, 2] } });
    expect(two.outputs[0]).toEqual({ sum: { type: 'float32', dims: [2, 2], data: [3, 3, 3, 3] } });
  });

  it.each([
    ['an unknown input name', { z: floatTensor([1, 3], [1, 2, 3]) }, /unknown input 'z'; the model takes 'x'/],
    ['a missing input', { a: floatTensor([2, 2], [1, 2, 3, 4]) }, /missing input 'b'/, 'add'],
    ['a wrong type', { x: { type: 'int32', dims: [1, 3], data: [1, 2, 3] } }, /input 'x' expects float32 \[-1,3\], got type "int32"/],
    ['a wrong rank', { x: floatTensor([3], [1, 2, 3]) }, /input 'x' expects float32 \[-1,3\], got dims \[3\]/],
    ['a wrong fixed dim', { x: floatTensor([1, 4], [1, 2, 3, 4]) }, /got dims \[1,4\]/],
    ['too little data', { x: floatTensor([2, 3], [1, 2, 3]) }, /needs 6 values in data, got 3/],
    ['a non-number', { x: floatTensor([1, 3], [1, 'two' as unknown as number, 3]) }, /data\[1\] = "two" is not a number/],
    ['not an object', 'hello', /expected an object keyed by input name/],
  ])('refuses %s with an actionable EngineInputError', async (_, input, message, endpoint = 'scale') => {
    const error = await engine.infer(endpoint as string, [input]).catch((e) => e);
    expect(error).toBeInstanceOf(EngineInputError);
    expect(error.code).toBe('BAD_INPUT');
    expect(error.message).toMatch(message as RegExp);
    expect(error.message).toMatch(/^inputs\[0\]: /);
    expect(error.inputIndex).toBe(0);
  });

  it('refuses a model whose tensors it cannot carry, and an unknown handler', async () => {
    const halfPrecision = buildOnnxModel({
      inputs: [{ name: 'x', type: 'float16', shape: [1] }],
      outputs: [{ name: 'y', type: 'float16', shape: [1] }],
      nodes: [{ opType: 'Identity', inputs: ['x'], outputs: ['y'] }],
    });
    const error = await engine.deploy('half', { modelBytes: halfPrecision, handler: 'tensor' }).catch((e) => e);
    expect(error).toBeInstanceOf(InvalidModelError);
    expect(error.message).toMatch(/cannot carry 'x' of type float16/);
    await expect(engine.deploy('bad', { modelBytes: scaleModel(2), handler: 'no-such-handler' })).rejects.toThrow(
      /unknown handler 'no-such-handler'; use one of tensor, ocr, vad, image-classification/,
    );
  });
});
