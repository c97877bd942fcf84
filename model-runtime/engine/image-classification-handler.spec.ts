import sharp from 'sharp';
import { ClassificationOutput, InvalidModelError, ModelEngine } from './index';
import { colourClassifierModel, scaleModel } from './__fixtures__/tiny-models';

const solid = (background: string) =>
  sharp({ create: { width: 40, height: 30, channels: 3, background } }).png().toBuffer();

describe('image-classification handler', () => {
  const engine = new ModelEngine({ intraOpNumThreads: 1 });
  const config = { labels: ['red', 'green', 'blue'], size: [16, 16], mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };
  afterAll(() => engine.close());

  it('resizes, normalises, applies softmax and ranks the labels', async () => {
    await engine.deploy('colours', { modelBytes: colourClassifierModel(), handler: 'image-classification', config, maxBatchSize: 3, maxQueueDelayMs: 10_000 });
    const images = await Promise.all(['#ff0000', '#00ff00', '#0000ff'].map(solid));
    const results = await Promise.all(images.map((png) => engine.infer('colours', [{ imageBase64: png.toString('base64') }])));
    results.forEach((result, i) => {
      const { top } = result.outputs[0] as ClassificationOutput;
      expect(top.map((t) => t.label)[0]).toBe(config.labels[i]);
      expect(top.reduce((sum, t) => sum + t.score, 0)).toBeCloseTo(1, 5);
      // Logits are +1 for the colour and -1 for the others after mean/std normalisation.
      expect(top[0].score).toBeCloseTo(Math.exp(1) / (Math.exp(1) + 2 * Math.exp(-1)), 4);
      expect(result.batchSize).toBe(3);
    });
  });

  it('takes the input size from a model with fixed dimensions', async () => {
    await engine.deploy('fixed', { modelBytes: colourClassifierModel(8), handler: 'image-classification', config: { labels: ['red', 'green', 'blue'] } });
    const result = await engine.infer('fixed', [{ bytes: await solid('#0000ff') }]);
    expect((result.outputs[0] as ClassificationOutput).top[0].label).toBe('blue');
  });

  it('refuses a model whose outputs do not match the labels, or missing labels', async () => {
    const twoLabels = await engine.deploy('x', { modelBytes: colourClassifierModel(), handler: 'image-classification', config: { labels: ['a', 'b'] } }).catch((e) => e);
    expect(twoLabels).toBeInstanceOf(InvalidModelError);
    expect(twoLabels.message).toMatch(/output float32 \[N,2\]/);
    await expect(engine.deploy('y', { modelBytes: colourClassifierModel(), handler: 'image-classification' })).rejects.toThrow(/config.labels/);
    await expect(engine.deploy('z', { modelBytes: scaleModel(2), handler: 'image-classification', config })).rejects.toBeInstanceOf(InvalidModelError);
  });
});
