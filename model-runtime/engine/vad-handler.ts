import { Tensor } from 'onnxruntime-node';
import { VAD_SAMPLE_RATE, decodeWav } from './audio-decoding';
import { BatchSession } from './batch-session';
import { EngineInputError, InvalidModelError, errorMessage } from './engine-errors';
import { Handler } from './handler';
import { mediaBytes } from './media-input';
import { ModelSignature, TensorSpec, describeSignature } from './tensor-spec';
import { DEFAULT_SEGMENTS, Segment, SegmentSettings, speechSegments } from './vad-segments';

/** Silero VAD v4 at 16 kHz: 512-sample windows (32 ms), LSTM state of 2 layers × 64. */
const WINDOW = 512;
const STATE = 2 * 64;

export interface VadHandlerConfig extends Partial<SegmentSettings> {
  maxSeconds?: number;
  maxAudioBytes?: number;
}

export interface VadItem {
  samples: Float32Array;
}

export interface VadOutput {
  segments: Segment[];
}

export class VadHandler implements Handler<VadItem, VadOutput> {
  readonly name = 'vad';
  private readonly settings: SegmentSettings;

  constructor(private readonly config: VadHandlerConfig = {}) {
    this.settings = { ...DEFAULT_SEGMENTS };
    for (const key of Object.keys(DEFAULT_SEGMENTS) as Array<keyof SegmentSettings>) {
      if (typeof config[key] === 'number') this.settings[key] = config[key]!;
    }
  }

  checkSignature(signature: ModelSignature): void {
    const find = (specs: TensorSpec[], name: string) => specs.find((s) => s.name === name);
    const input = find(signature.inputs, 'input');
    const fits = input?.type === 'float32' && input.shape.length === 2
      && find(signature.inputs, 'sr')?.type === 'int64'
      && ['h', 'c'].every((n) => find(signature.inputs, n)?.shape.length === 3)
      && ['output', 'hn', 'cn'].every((n) => find(signature.outputs, n));
    if (!fits) {
      throw new InvalidModelError(
        `the vad handler needs a Silero VAD v4 model (inputs 'input' float32 [B,T], 'sr' int64, 'h'/'c' [2,B,64]; outputs 'output', 'hn', 'cn'); this model has ${describeSignature(signature)}`,
      );
    }
  }

  async prepare(input: unknown): Promise<VadItem> {
    const bytes = mediaBytes(input, 'audioBase64', this.config.maxAudioBytes ?? 100 * 1024 * 1024);
    return { samples: decodeWav(bytes, this.config.maxSeconds ?? 600) };
  }

  async warmupItem(): Promise<VadItem> {
    const samples = new Float32Array(VAD_SAMPLE_RATE);
    for (let i = 0; i < samples.length; i++) samples[i] = Math.sin(i / 7) * 0.01;
    return { samples };
  }

  /**
   * Clips advance window by window together as one [B, 512] run, each carrying its own LSTM
   * state slice; a clip leaves the batch when it runs out of windows. The per-run cost on CPU is
   * mostly fixed overhead, so this is where batching pays even on two cores.
   */
  async runBatch(session: BatchSession, items: VadItem[]): Promise<Array<VadOutput | Error>> {
    const windows = items.map((item) => Math.ceil(item.samples.length / WINDOW));
    const probabilities = windows.map((n) => new Float32Array(n));
    const states = items.map(() => ({ h: new Float32Array(STATE), c: new Float32Array(STATE) }));
    const failed = new Map<number, Error>();
    const sampleRate = new Tensor('int64', BigInt64Array.from([BigInt(VAD_SAMPLE_RATE)]), []);
    for (let step = 0; step < Math.max(...windows); step++) {
      const active = items.map((_, i) => i).filter((i) => step < windows[i] && !failed.has(i));
      if (!active.length) break;
      const batch = active.length;
      const audio = new Float32Array(batch * WINDOW);
      const h = new Float32Array(2 * batch * 64);
      const c = new Float32Array(2 * batch * 64);
      active.forEach((item, b) => {
        // The final window is zero-padded, as Silero's reference does.
        audio.set(items[item].samples.subarray(step * WINDOW, (step + 1) * WINDOW), b * WINDOW);
        for (let layer = 0; layer < 2; layer++) {
          h.set(states[item].h.subarray(layer * 64, (layer + 1) * 64), (layer * batch + b) * 64);
          c.set(states[item].c.subarray(layer * 64, (layer + 1) * 64), (layer * batch + b) * 64);
        }
      });
      try {
        const out = await session.run({
          input: new Tensor('float32', audio, [batch, WINDOW]),
          sr: sampleRate,
          h: new Tensor('float32', h, [2, batch, 64]),
          c: new Tensor('float32', c, [2, batch, 64]),
        }, active);
        const speech = out.output.data as Float32Array;
        const hn = out.hn.data as Float32Array;
        const cn = out.cn.data as Float32Array;
        active.forEach((item, b) => {
          probabilities[item][step] = speech[b];
          for (let layer = 0; layer < 2; layer++) {
            states[item].h.set(hn.subarray((layer * batch + b) * 64, (layer * batch + b + 1) * 64), layer * 64);
            states[item].c.set(cn.subarray((layer * batch + b) * 64, (layer * batch + b + 1) * 64), layer * 64);
          }
        });
      } catch (error) {
        for (const item of active) failed.set(item, new EngineInputError(`voice activity detection failed: ${errorMessage(error)}`));
      }
    }
    return items.map((item, i) => failed.get(i) ?? {
      segments: speechSegments(probabilities[i], WINDOW, item.samples.length, VAD_SAMPLE_RATE, this.settings),
    });
  }
}
