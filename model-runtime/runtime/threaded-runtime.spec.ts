// The engine on its thread: inline media are decoded on the caller's side and their bytes moved
// across (not copied), and bytes a caller keeps (a shard retried after a restart) are copied.
import { readFileSync } from 'node:fs';
import { demoModelPaths } from '../engine';
import { silenceSpeechSilence, wavBytes } from '../../test/fixtures/media';
import { ThreadedRuntime, decodeMedia } from './threaded-runtime';

describe('decodeMedia', () => {
  it('turns valid base64 into bytes of their own, listed for transfer; leaves anything else as sent', () => {
    const large = Buffer.alloc(50_000, 7);
    const small = Buffer.from([1, 2, 3]);
    const inputs = [
      { audioBase64: large.toString('base64'), note: 'kept' },
      { audioBase64: small.toString('base64') },
      { audioBase64: 'not*base64' },
      { imageBase64: large.toString('base64') },
      'a string',
      null,
    ];
    const { sent, transfer } = decodeMedia(inputs, 'audioBase64');
    const [a, b, ...rest] = sent as Array<{ bytes: Uint8Array; note?: string }>;
    expect(a).toEqual({ note: 'kept', bytes: new Uint8Array(large) });
    expect(b).toEqual({ bytes: new Uint8Array(small) });
    // Each transferred buffer is exactly the input's bytes: never Node's shared pool, which a
    // 3-byte decode is a view of.
    expect(transfer).toEqual([a.bytes.buffer, b.bytes.buffer]);
    expect(transfer.map((t) => t.byteLength)).toEqual([50_000, 3]);
    expect(rest).toEqual(inputs.slice(2));
    expect(rest[0]).toBe(inputs[2]);
  });
});

describe('ThreadedRuntime', () => {
  const runtime = new ThreadedRuntime({
    loadModel: async () => readFileSync(demoModelPaths().vad),
    accelerators: ['cpu'],
    runtime: { intraOpNumThreads: 1 },
  });
  const clip = wavBytes(silenceSpeechSilence(0.5, 1, 0.5, 16_000), 16_000);
  beforeAll(async () => {
    await runtime.deploy({
      endpointId: 'vad', label: 'test/vad', modelVersionId: 'v', modelSha256: 'sha', handler: 'vad', config: {},
      accelerator: 'cpu', minReplicas: 1, maxReplicas: 1, maxBatchSize: 4, maxQueueDelayMs: 0,
    });
  }, 60_000);
  afterAll(() => runtime.close());

  it('moves bytes made for the call, copies bytes the caller keeps, and both give the same answer', async () => {
    const moved = new Uint8Array(clip);
    const kept = new Uint8Array(clip);
    const inline = await runtime.infer('vad', [{ audioBase64: clip.toString('base64') }]);
    const fromMoved = await runtime.infer('vad', [{ bytes: moved }], { transferable: true });
    const fromKept = await runtime.infer('vad', [{ bytes: kept }]);
    expect(moved.byteLength).toBe(0); // detached: its memory is the engine thread's now
    expect(Buffer.from(kept).equals(clip)).toBe(true);
    const segments = (r: typeof inline) => (r.items[0].output as { segments: unknown[] }).segments;
    expect(segments(inline)).toHaveLength(1);
    expect(segments(fromMoved)).toEqual(segments(inline));
    expect(segments(fromKept)).toEqual(segments(inline));
  });

  it('answers text that is not base64 from the engine, as before: BAD_INPUT naming the field', async () => {
    await expect(runtime.infer('vad', [{ audioBase64: 'not*base64' }])).rejects.toMatchObject({ code: 'BAD_INPUT', message: expect.stringMatching(/audioBase64 is not valid base64/) });
  });
});
