import { WaveFile } from 'wavefile';

// A voiced, speech-like signal for VAD tests (no recording ships in any installed package):
// a glottal pulse train with jitter and pitch contour, shaped by vowel formant resonators that
// change every syllable, with syllable-rate amplitude modulation. Deterministic (seeded).

const VOWELS: Array<[number, number, number]> = [
  [730, 1090, 2440], // a
  [270, 2290, 3010], // i
  [300, 870, 2240], // u
  [530, 1840, 2480], // e
  [570, 840, 2410], // o
];

// Aliases: global lookups in hot loops are slow inside jest's vm context.
const { sin, exp, cos, pow, floor, abs, PI } = Math;

function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

/** Two-pole resonator (formant filter) coefficients. */
function resonator(frequency: number, bandwidth: number, sampleRate: number) {
  const r = exp((-PI * bandwidth) / sampleRate);
  const theta = (2 * PI * frequency) / sampleRate;
  return { a1: 2 * r * cos(theta), a2: -r * r, gain: 1 - r };
}

export function speechLike(seconds: number, sampleRate: number, seed = 7): Float32Array {
  const rand = random(seed);
  const n = Math.round(seconds * sampleRate);
  const out = new Float32Array(n);
  const syllable = 0.22;
  let phase = 0;
  const state = [0, 0, 0].map(() => ({ y1: 0, y2: 0 }));
  for (let i = 0; i < n; i++) {
    const t = i / sampleRate;
    const s = floor(t / syllable);
    const within = (t % syllable) / syllable;
    const f0 = 110 + 25 * sin(2 * PI * 0.7 * t) + 10 * sin(2 * PI * 5 * t) + (rand() - 0.5) * 4;
    phase += f0 / sampleRate;
    let source = 0;
    if (phase >= 1) {
      phase -= 1;
      source = 1;
    }
    // Rosenberg-like pulse approximated by a decaying excitation plus aspiration noise.
    const excitation = source + (rand() - 0.5) * 0.05;
    const formants = VOWELS[(s * 3 + seed) % VOWELS.length];
    let voiced = 0;
    formants.forEach((frequency, k) => {
      const { a1, a2, gain } = resonator(frequency, 60 + 40 * k, sampleRate);
      const st = state[k];
      const y = gain * excitation * (k === 0 ? 1 : 0.6 / k) + a1 * st.y1 + a2 * st.y2;
      st.y2 = st.y1;
      st.y1 = y;
      voiced += y;
    });
    const envelope = pow(sin(PI * within), 0.6);
    const consonant = within < 0.12 && s % 2 === 0 ? (rand() - 0.5) * 0.15 : 0;
    out[i] = voiced * envelope * 6 + consonant;
  }
  let peak = 0;
  for (const v of out) peak = Math.max(peak, abs(v));
  for (let i = 0; i < n; i++) out[i] = (out[i] / peak) * 0.6;
  return out;
}

/** silence – speech – silence, as float samples. */
export function silenceSpeechSilence(before: number, speech: number, after: number, sampleRate: number): Float32Array {
  const samples = new Float32Array(Math.round((before + speech + after) * sampleRate));
  const rand = random(3);
  for (let i = 0; i < samples.length; i++) samples[i] = (rand() - 0.5) * 0.0005;
  samples.set(speechLike(speech, sampleRate), Math.round(before * sampleRate));
  return samples;
}

/** 16-bit PCM WAV; more than one channel repeats the signal with slight gain differences. */
export function wavBytes(samples: Float32Array, sampleRate: number, channels = 1): Uint8Array {
  const pcm = new Int16Array(samples.length * channels);
  for (let i = 0; i < samples.length; i++) {
    for (let c = 0; c < channels; c++) pcm[i * channels + c] = Math.round(samples[i] * (1 - 0.1 * c) * 32767);
  }
  const wav = new WaveFile();
  wav.fromScratch(channels, sampleRate, '16', pcm);
  return wav.toBuffer();
}
