import { Tensor } from 'onnxruntime-node';
import { BatchSession } from './batch-session';
import { EngineInputError, InvalidModelError, errorMessage } from './engine-errors';
import { Handler } from './handler';
import { RgbImage, decodeImage, mediaBytes, resizeImage } from './media-input';
import { MEDIA_BASE64_FIELD } from './media-base64';
import { ModelSignature, describeSignature } from './tensor-spec';

/** A member's own classifier: image in, its labels with softmax scores out. */
export interface ImageClassificationConfig {
  labels: string[];
  /** [height, width]; taken from the model when its input size is fixed (default 224×224). */
  size?: [number, number];
  /** Per RGB channel, applied after `scale` (defaults: ImageNet's). */
  mean?: [number, number, number];
  std?: [number, number, number];
  /** Pixel multiplier before mean/std (default 1/255). */
  scale?: number;
  layout?: 'nchw' | 'nhwc';
  /** Set false when the model already outputs probabilities. */
  softmax?: boolean;
  topK?: number;
  maxImageBytes?: number;
  maxPixels?: number;
}

export interface ClassificationItem {
  pixels: Float32Array;
}

export interface ClassificationOutput {
  top: Array<{ label: string; score: number }>;
}

export class ImageClassificationHandler implements Handler<ClassificationItem, ClassificationOutput> {
  readonly name = 'image-classification';
  private readonly layout: 'nchw' | 'nhwc';
  private height: number;
  private width: number;
  private inputName: string;
  private batchable: boolean;

  constructor(private readonly config: ImageClassificationConfig) {
    this.layout = config?.layout ?? 'nchw';
  }

  checkSignature(signature: ModelSignature): void {
    const labels = this.config?.labels;
    if (!Array.isArray(labels) || labels.length === 0 || !labels.every((l) => typeof l === 'string')) {
      throw new InvalidModelError('the image-classification handler needs config.labels: a non-empty list of strings');
    }
    const [input] = signature.inputs;
    const [output] = signature.outputs;
    const channelAxis = this.layout === 'nchw' ? 1 : 3;
    const fits = signature.inputs.length === 1 && input.type === 'float32' && input.shape.length === 4
      && [3, -1].includes(input.shape[channelAxis])
      && output?.type === 'float32' && output.shape.length === 2 && [labels.length, -1].includes(output.shape[1]);
    if (!fits) {
      throw new InvalidModelError(
        `the image-classification handler needs input float32 ${this.layout === 'nchw' ? '[N,3,H,W]' : '[N,H,W,3]'} and output float32 [N,${labels.length}] (one score per label); this model has ${describeSignature(signature)}`,
      );
    }
    const [hAxis, wAxis] = this.layout === 'nchw' ? [2, 3] : [1, 2];
    const [configH, configW] = this.config.size ?? [224, 224];
    this.height = input.shape[hAxis] > 0 ? input.shape[hAxis] : configH;
    this.width = input.shape[wAxis] > 0 ? input.shape[wAxis] : configW;
    if (!(this.height > 0 && this.width > 0)) throw new InvalidModelError('config.size must be two positive integers [height, width]');
    this.inputName = input.name;
    this.batchable = input.shape[0] === -1;
  }

  async prepare(input: unknown): Promise<ClassificationItem> {
    const bytes = mediaBytes(input, MEDIA_BASE64_FIELD['image-classification'], this.config.maxImageBytes ?? 20 * 1024 * 1024);
    const image = await decodeImage(bytes, this.config.maxPixels ?? 40_000_000);
    return { pixels: this.normalise(await resizeImage(image, this.width, this.height)) };
  }

  async warmupItem(): Promise<ClassificationItem> {
    const data = Buffer.alloc(this.width * this.height * 3, 128);
    return { pixels: this.normalise({ width: this.width, height: this.height, data }) };
  }

  async runBatch(session: BatchSession, items: ClassificationItem[]): Promise<Array<ClassificationOutput | Error>> {
    const groups = this.batchable ? [items.map((_, i) => i)] : items.map((_, i) => [i]);
    const results: Array<ClassificationOutput | Error> = new Array(items.length);
    const itemSize = 3 * this.height * this.width;
    for (const group of groups) {
      const pixels = new Float32Array(group.length * itemSize);
      group.forEach((itemIndex, k) => pixels.set(items[itemIndex].pixels, k * itemSize));
      const dims = this.layout === 'nchw' ? [group.length, 3, this.height, this.width] : [group.length, this.height, this.width, 3];
      try {
        const output = Object.values(await session.run({ [this.inputName]: new Tensor('float32', pixels, dims) }, group))[0];
        const classes = output.dims[1];
        if (classes !== this.config.labels.length) {
          throw new Error(`the model gave ${classes} scores for ${this.config.labels.length} labels`);
        }
        group.forEach((itemIndex, k) => {
          const scores = (output.data as Float32Array).slice(k * classes, (k + 1) * classes);
          results[itemIndex] = { top: this.top(this.config.softmax === false ? scores : softmax(scores)) };
        });
      } catch (error) {
        for (const itemIndex of group) results[itemIndex] = new EngineInputError(`classification failed: ${errorMessage(error)}`);
      }
    }
    return results;
  }

  private normalise(image: RgbImage): Float32Array {
    const mean = this.config.mean ?? [0.485, 0.456, 0.406];
    const std = this.config.std ?? [0.229, 0.224, 0.225];
    const scale = this.config.scale ?? 1 / 255;
    const plane = image.width * image.height;
    const out = new Float32Array(3 * plane);
    for (let i = 0; i < plane; i++) {
      for (let c = 0; c < 3; c++) {
        const value = (image.data[i * 3 + c] * scale - mean[c]) / std[c];
        out[this.layout === 'nchw' ? c * plane + i : i * 3 + c] = value;
      }
    }
    return out;
  }

  private top(scores: Float32Array): Array<{ label: string; score: number }> {
    return [...scores]
      .map((score, i) => ({ label: this.config.labels[i], score }))
      .sort((a, b) => b.score - a.score)
      .slice(0, this.config.topK ?? 5);
  }
}

function softmax(logits: Float32Array): Float32Array {
  const max = Math.max(...logits);
  const exps = logits.map((v) => Math.exp(v - max));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((v) => v / sum);
}
