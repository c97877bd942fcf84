import { EngineInputError, InvalidModelError, ModelEngine, OcrOutput, demoModelPaths } from './index';
import { renderText } from './__fixtures__/rendered-text';

describe('ocr handler (PP-OCRv4 Chinese)', () => {
  const engine = new ModelEngine({ intraOpNumThreads: 2 });
  beforeAll(async () => {
    await engine.deploy('ocr', { modelPath: demoModelPaths().ocrDetection, handler: 'ocr', maxBatchSize: 4, maxQueueDelayMs: 0 });
    // Four concurrent images fill this endpoint's batch long before its delay expires.
    await engine.deploy('ocr-batched', { modelPath: demoModelPaths().ocrDetection, handler: 'ocr', maxBatchSize: 4, maxQueueDelayMs: 10_000 });
  });
  afterAll(() => engine.close());

  it('reads two printed lines, top to bottom, with their boxes', async () => {
    const png = await renderText(['识别中文文本', '电话 12345678']);
    const result = await engine.infer('ocr', [{ imageBase64: png.toString('base64') }]);
    const { lines } = result.outputs[0] as OcrOutput;
    expect(lines.map((l) => l.text.replace(/\s/g, ''))).toEqual(['识别中文文本', '电话12345678']);
    for (const line of lines) {
      expect(line.score).toBeGreaterThan(0.8);
      expect(line.box).toHaveLength(4);
      const [[x0, y0], [x1], , [, y3]] = line.box;
      expect(x1).toBeGreaterThan(x0);
      expect(y3).toBeGreaterThan(y0);
    }
    expect(lines[0].box[0][1]).toBeLessThan(lines[1].box[0][1]);
    expect(result.deviceSeconds).toBeGreaterThan(0);
    expect(engine.perItemDeviceSeconds('ocr')).toBeGreaterThan(0);
  });

  it('batches images from concurrent callers and answers each with its own text (JPEG and bytes too)', async () => {
    const texts = ['模型推理服务', '数据集共享', '语音检测', '联盟平台'];
    const images = await Promise.all(texts.map((t, i) => renderText([t], i % 2 ? 'jpeg' : 'png')));
    const results = await Promise.all(images.map((bytes) => engine.infer('ocr-batched', [{ bytes: new Uint8Array(bytes) }])));
    results.forEach((result, i) => {
      expect((result.outputs[0] as OcrOutput).lines.map((l) => l.text)).toEqual([texts[i]]);
      expect(result.batchSize).toBe(4);
    });
  });

  it('refuses undecodable images and malformed inputs with EngineInputError', async () => {
    const garbage = await engine.infer('ocr', [{ imageBase64: Buffer.from('not an image').toString('base64') }]).catch((e) => e);
    expect(garbage).toBeInstanceOf(EngineInputError);
    expect(garbage.message).toMatch(/image could not be decoded/);
    await expect(engine.infer('ocr', [{ blobId: 'abc' }])).rejects.toThrow(/expected \{ imageBase64: string \} or \{ bytes \}/);
  });

  it('refuses a model that is not a text detector', async () => {
    const error = await engine.deploy('wrong', { modelPath: demoModelPaths().vad, handler: 'ocr' }).catch((e) => e);
    expect(error).toBeInstanceOf(InvalidModelError);
    expect(error.message).toMatch(/ocr handler needs a DB text detection model .*'input' float32 \[-1,-1\]/);
  });
});
