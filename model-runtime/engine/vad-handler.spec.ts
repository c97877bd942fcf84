import { EngineInputError, InferResult, InvalidModelError, ModelEngine, VadOutput, demoModelPaths } from './index';
import { silenceSpeechSilence, wavBytes } from './__fixtures__/synthetic-speech';
import { scaleModel } from './__fixtures__/tiny-models';

// Speech lasts from 1.0 s to 3.0 s; the windows are 32 ms and padding 30 ms.
function expectOneSegmentAroundSpeech(output: VadOutput, from: number, to: number) {
  expect(output.segments).toHaveLength(1);
  const [segment] = output.segments;
  expect(segment.start).toBeGreaterThan(from - 0.15);
  expect(segment.start).toBeLessThan(from + 0.15);
  expect(segment.end).toBeGreaterThan(to - 0.15);
  expect(segment.end).toBeLessThan(to + 0.2);
}

describe('vad handler (Silero VAD v4)', () => {
  const engine = new ModelEngine({ intraOpNumThreads: 1 });
  beforeAll(async () => {
    await engine.deploy('vad', { modelPath: demoModelPaths().vad, handler: 'vad', maxBatchSize: 4, maxQueueDelayMs: 10_000 });
    await engine.deploy('vad-single', { modelPath: demoModelPaths().vad, handler: 'vad', maxBatchSize: 1, maxQueueDelayMs: 0 });
  });
  afterAll(() => engine.close());

  it('finds one segment over the speech and none in the silences', async () => {
    const wav = wavBytes(silenceSpeechSilence(1, 2, 1, 16_000), 16_000);
    const result = await engine.infer('vad-single', [{ audioBase64: Buffer.from(wav).toString('base64') }]);
    expectOneSegmentAroundSpeech(result.outputs[0] as VadOutput, 1, 3);
    expect(result.deviceSeconds).toBeGreaterThan(0);
  });

  it('resamples 44.1 kHz stereo and finds the same segment', async () => {
    const mono16k = await engine.infer('vad-single', [{ bytes: wavBytes(silenceSpeechSilence(1, 2, 1, 16_000), 16_000) }]);
    const stereo44k = await engine.infer('vad-single', [{ bytes: wavBytes(silenceSpeechSilence(1, 2, 1, 44_100), 44_100, 2) }]);
    expectOneSegmentAroundSpeech(stereo44k.outputs[0] as VadOutput, 1, 3);
    const [a] = (mono16k.outputs[0] as VadOutput).segments;
    const [b] = (stereo44k.outputs[0] as VadOutput).segments;
    expect(Math.abs(a.start - b.start)).toBeLessThanOrEqual(0.07);
    expect(Math.abs(a.end - b.end)).toBeLessThanOrEqual(0.07);
  });

  it('advances clips of different lengths together, each with its own state, matching single runs', async () => {
    const clips = [
      wavBytes(silenceSpeechSilence(1, 2, 1, 16_000), 16_000),
      wavBytes(silenceSpeechSilence(0.5, 1, 2, 16_000), 16_000),
      wavBytes(silenceSpeechSilence(2, 1.5, 0.3, 22_050), 22_050),
      wavBytes(new Float32Array(16_000), 16_000),
    ];
    const single: InferResult[] = [];
    for (const bytes of clips) single.push(await engine.infer('vad-single', [{ bytes }]));
    const batched = await Promise.all(clips.map((bytes) => engine.infer('vad', [{ bytes }])));
    batched.forEach((result, i) => {
      expect(result.batchSize).toBe(4);
      expect(result.outputs).toEqual(single[i].outputs);
    });
    expect((batched[3].outputs[0] as VadOutput).segments).toEqual([]);
    expectOneSegmentAroundSpeech(batched[1].outputs[0] as VadOutput, 0.5, 1.5);
  });

  it('refuses unreadable audio clearly', async () => {
    const error = await engine.infer('vad', [{ audioBase64: Buffer.from('RIFF....WAVEjunk').toString('base64') }]).catch((e) => e);
    expect(error).toBeInstanceOf(EngineInputError);
    expect(error.message).toMatch(/not a readable WAV file/);
  });

  it('refuses a model that is not Silero VAD', async () => {
    const error = await engine.deploy('wrong', { modelBytes: scaleModel(2), handler: 'vad' }).catch((e) => e);
    expect(error).toBeInstanceOf(InvalidModelError);
    expect(error.message).toMatch(/vad handler needs a Silero VAD v4 model/);
  });
});
