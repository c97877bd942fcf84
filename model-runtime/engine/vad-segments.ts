// Speech segments from per-window speech probabilities, after Silero's get_speech_timestamps:
// hysteresis between a start and an end threshold, short silences bridged, short bursts dropped,
// a little padding so word edges are not clipped.

export interface SegmentSettings {
  startThreshold: number;
  endThreshold: number;
  minSpeechMs: number;
  minSilenceMs: number;
  speechPadMs: number;
}

export const DEFAULT_SEGMENTS: SegmentSettings = {
  startThreshold: 0.5, endThreshold: 0.35, minSpeechMs: 250, minSilenceMs: 100, speechPadMs: 30,
};

export interface Segment {
  start: number;
  end: number;
}

/** Works in samples; returns seconds rounded to milliseconds. */
export function speechSegments(
  probabilities: ArrayLike<number>, windowSamples: number, totalSamples: number, sampleRate: number, settings: SegmentSettings,
): Segment[] {
  const minSpeech = (settings.minSpeechMs * sampleRate) / 1000;
  const minSilence = (settings.minSilenceMs * sampleRate) / 1000;
  const pad = Math.round((settings.speechPadMs * sampleRate) / 1000);
  const speeches: Array<{ start: number; end: number }> = [];
  let start = -1;
  let silenceSince = -1;
  for (let i = 0; i < probabilities.length; i++) {
    const at = i * windowSamples;
    const p = probabilities[i];
    if (p >= settings.startThreshold) {
      silenceSince = -1;
      if (start < 0) start = at;
      continue;
    }
    if (start >= 0 && p < settings.endThreshold) {
      if (silenceSince < 0) silenceSince = at;
      if (at - silenceSince < minSilence) continue;
      if (silenceSince - start > minSpeech) speeches.push({ start, end: silenceSince });
      start = -1;
      silenceSince = -1;
    }
  }
  if (start >= 0 && totalSamples - start > minSpeech) speeches.push({ start, end: totalSamples });

  speeches.forEach((speech, i) => {
    if (i === 0) speech.start = Math.max(0, speech.start - pad);
    const next = speeches[i + 1];
    if (!next) {
      speech.end = Math.min(totalSamples, speech.end + pad);
      return;
    }
    const gap = next.start - speech.end;
    const share = gap < 2 * pad ? Math.floor(gap / 2) : pad;
    speech.end += share;
    next.start = Math.max(0, next.start - share);
  });
  const seconds = (samples: number) => Math.round((samples / sampleRate) * 1000) / 1000;
  return speeches.map((s) => ({ start: seconds(s.start), end: seconds(s.end) }));
}
