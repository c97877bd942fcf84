import { WaveFile } from 'wavefile';
import { resample } from './audio-resampler';
import { EngineInputError, errorMessage } from './engine-errors';

export const VAD_SAMPLE_RATE = 16_000;

// WAV format tags.
const PCM = 1, FLOAT = 3, ALAW = 6, MULAW = 7, IMA_ADPCM = 17, EXTENSIBLE = 0xfffe;

interface WavFormat {
  audioFormat: number;
  numChannels: number;
  sampleRate: number;
  bitsPerSample: number;
  subformat: number[];
}

/**
 * Decodes a WAV file to mono float samples in [-1, 1] at 16 kHz. wavefile parses the header and
 * expands A-law, mu-law and IMA ADPCM; plain PCM and float samples are read directly, because
 * wavefile's per-sample conversion took over a second for a few seconds of CD-quality audio.
 */
export function decodeWav(bytes: Uint8Array, maxSeconds: number): Float32Array {
  let wav: WaveFile;
  try {
    wav = new WaveFile(bytes);
  } catch (error) {
    throw new EngineInputError(`the audio is not a readable WAV file: ${errorMessage(error)}`);
  }
  const fmt = wav.fmt as WavFormat;
  const { numChannels: channels, sampleRate } = fmt;
  if (!(channels >= 1 && channels <= 64) || !(sampleRate >= 1000 && sampleRate <= 768_000)) {
    throw new EngineInputError(`the WAV header is not usable (${channels} channels at ${sampleRate} Hz)`);
  }
  let interleaved: Float32Array | Float64Array;
  try {
    if (fmt.audioFormat === ALAW) wav.fromALaw();
    else if (fmt.audioFormat === MULAW) wav.fromMuLaw();
    else if (fmt.audioFormat === IMA_ADPCM) wav.fromIMAADPCM();
    interleaved = readSamples(wav);
  } catch (error) {
    throw new EngineInputError(`the WAV audio could not be decoded: ${errorMessage(error)}`);
  }
  const frames = Math.floor(interleaved.length / channels);
  if (frames === 0) throw new EngineInputError('the WAV file holds no samples');
  if (frames / sampleRate > maxSeconds * 1.01) {
    throw new EngineInputError(`the audio lasts ${(frames / sampleRate).toFixed(1)} s; the limit is ${maxSeconds} s`);
  }
  const mono = new Float32Array(frames);
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += interleaved[i * channels + c];
    mono[i] = sum / channels;
  }
  return resample(mono, sampleRate, VAD_SAMPLE_RATE);
}

function readSamples(wav: WaveFile): Float32Array | Float64Array {
  const fmt = wav.fmt as WavFormat;
  const code = fmt.audioFormat === EXTENSIBLE ? (fmt.subformat[0] ?? 0) & 0xffff : fmt.audioFormat;
  const raw = (wav.data as { samples: Uint8Array }).samples;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const bits = fmt.bitsPerSample;
  const littleEndian = (wav as unknown as { container: string }).container === 'RIFF';
  if (code === FLOAT && (bits === 32 || bits === 64)) {
    const count = Math.floor(raw.length / (bits / 8));
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) out[i] = bits === 32 ? view.getFloat32(i * 4, littleEndian) : view.getFloat64(i * 8, littleEndian);
    return out;
  }
  if (code === PCM && [8, 16, 24, 32].includes(bits)) {
    const size = bits / 8;
    const count = Math.floor(raw.length / size);
    const out = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      const at = i * size;
      if (bits === 8) out[i] = (raw[at] - 128) / 128;
      else if (bits === 16) out[i] = view.getInt16(at, littleEndian) / 32768;
      else if (bits === 32) out[i] = view.getInt32(at, littleEndian) / 2147483648;
      else {
        const [lo, mid, hi] = littleEndian ? [raw[at], raw[at + 1], raw[at + 2]] : [raw[at + 2], raw[at + 1], raw[at]];
        out[i] = (((hi << 24) | (mid << 16) | (lo << 8)) >> 8) / 8388608;
      }
    }
    return out;
  }
  throw new Error(`${bits}-bit samples in WAV encoding ${code} are not supported (use 8/16/24/32-bit PCM, 32/64-bit float, A-law, mu-law or IMA ADPCM)`);
}
