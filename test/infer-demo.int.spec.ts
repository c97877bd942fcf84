// The demo catalogue through `infer`: casia's ALLIANCE models paddleocr-ch and silero-vad, seeded
// and deployed at start like all-in-one mode does, read Chinese text rendered in the test and
// find speech between silences — called by members of other tenants, charged to them.
import { ledgerViolations } from '../tenants/ledger-invariants';
import { startTestPlatform, type TestPlatform } from './harness/test-platform';
import { INFER, QUOTA, codes, upload } from './fixtures/model-factory';
import { renderText, silenceSpeechSilence, wavBytes } from './fixtures/media';

let tp: TestPlatform;
const endpoints: Record<string, string> = {};

beforeAll(async () => {
  tp = await startTestPlatform({ env: { DEMO_MODELS: 'true' } });
  const list = await tp.as('bob', `{ endpoints(first: 100) { edges { node { id name status owner { slug }
    modelVersion { handler version model { name task modality visibility owner { slug } } } } } } }`);
  for (const { node } of list.endpoints.edges) endpoints[node.name] = node.id;
});
afterEach(async () => {
  expect(await tp.platform.db.withSystem('test: ledger invariants', (em) => ledgerViolations(em))).toEqual([]);
});
afterAll(async () => {
  await tp?.close();
});

async function infer(user: string, name: string, inputs: unknown[]) {
  const res = await tp.gql(INFER, { id: endpoints[name], inputs }, { token: await tp.token(user) });
  if (res.errors) throw new Error(JSON.stringify(res.errors));
  return res.data!.infer;
}

it('seeds both demo models as ordinary ALLIANCE model versions with READY endpoints of the same names', async () => {
  const res = await tp.as('carol', `{ models(first: 10, filter: { owner: "casia" }) { edges { node { name task modality visibility
    latestVersion { handler version inputs { name type shape } perItemDeviceSeconds } } } }
    endpoints(first: 10) { edges { node { name status owner { slug } } } } }`);
  const models = Object.fromEntries(res.models.edges.map((e: any) => [e.node.name, e.node]));
  expect(models['paddleocr-ch']).toMatchObject({ task: 'ocr', modality: 'IMAGE', visibility: 'ALLIANCE', latestVersion: { handler: 'ocr', version: 1 } });
  expect(models['silero-vad']).toMatchObject({ task: 'voice-activity-detection', modality: 'AUDIO', visibility: 'ALLIANCE', latestVersion: { handler: 'vad', version: 1 } });
  expect(models['paddleocr-ch'].latestVersion.inputs).toEqual([{ name: 'x', type: 'float32', shape: [-1, 3, -1, -1] }]);
  // Measured on the warm-up run at deployment: what batch jobs estimate their cost from.
  expect(models['silero-vad'].latestVersion.perItemDeviceSeconds).toBeGreaterThan(0);
  expect(res.endpoints.edges.map((e: any) => e.node).filter((n: any) => ['paddleocr-ch', 'silero-vad'].includes(n.name)))
    .toEqual(expect.arrayContaining([
      { name: 'paddleocr-ch', status: 'READY', owner: { slug: 'casia' } },
      { name: 'silero-vad', status: 'READY', owner: { slug: 'casia' } },
    ]));
});

it('paddleocr-ch reads printed Chinese text back, from base64 and from an uploaded blob; the caller pays', async () => {
  const before = (await tp.as('bob', QUOTA)).quota.usedUnits;
  const png = await renderText(['识别中文文本', '电话 12345678']);
  const fromBase64 = await infer('bob', 'paddleocr-ch', [{ imageBase64: png.toString('base64') }]);
  const lines = fromBase64.outputs[0].lines;
  expect(lines.map((l: any) => l.text.replace(/\s/g, ''))).toEqual(['识别中文文本', '电话12345678']);
  for (const line of lines) {
    expect(line.score).toBeGreaterThan(0.8);
    expect(line.box).toHaveLength(4);
  }
  const blobId = await upload(tp, 'bob', await renderText(['联盟平台'], 'jpeg'), 'image/jpeg');
  const fromBlob = await infer('bob', 'paddleocr-ch', [{ blobId }]);
  expect(fromBlob.outputs[0].lines.map((l: any) => l.text)).toEqual(['联盟平台']);
  const after = (await tp.as('bob', QUOTA)).quota.usedUnits;
  expect(after).toBeCloseTo(before + fromBase64.computeUnits + fromBlob.computeUnits, 6);
  expect(fromBase64.computeUnits).toBeGreaterThan(0);
});

it("a blob the caller may not read is NOT_FOUND; an image that is not an image is BAD_USER_INPUT", async () => {
  const carolsBlob = await upload(tp, 'carol', await renderText(['私有']), 'image/png');
  const res = await tp.gql(INFER, { id: endpoints['paddleocr-ch'], inputs: [{ blobId: carolsBlob }] }, { token: await tp.token('bob') });
  expect(codes(res)).toEqual(['NOT_FOUND']);
  const garbage = await tp.gql(INFER, { id: endpoints['paddleocr-ch'], inputs: [{ imageBase64: Buffer.from('not an image').toString('base64') }] },
    { token: await tp.token('bob') });
  expect(codes(garbage)).toEqual(['BAD_USER_INPUT']);
  expect(garbage.errors![0].message).toMatch(/image could not be decoded/);
});

it('silero-vad finds one segment covering the speech and none in the silences (44.1 kHz stereo too)', async () => {
  for (const [rate, channels] of [[16_000, 1], [44_100, 2]]) {
    const wav = wavBytes(silenceSpeechSilence(1, 2, 1, rate), rate, channels);
    const result = await infer('carol', 'silero-vad', [{ audioBase64: wav.toString('base64') }]);
    const { segments } = result.outputs[0];
    expect(segments).toHaveLength(1);
    expect(segments[0].start).toBeGreaterThan(0.85);
    expect(segments[0].start).toBeLessThan(1.15);
    expect(segments[0].end).toBeGreaterThan(2.85);
    expect(segments[0].end).toBeLessThan(3.2);
  }
  const silence = await infer('carol', 'silero-vad', [{ audioBase64: wavBytes(new Float32Array(32_000), 16_000).toString('base64') }]);
  expect(silence.outputs[0].segments).toEqual([]);
  const notWav = await tp.gql(INFER, { id: endpoints['silero-vad'], inputs: [{ audioBase64: Buffer.from('RIFF....WAVEjunk').toString('base64') }] },
    { token: await tp.token('carol') });
  expect(codes(notWav)).toEqual(['BAD_USER_INPUT']);
});

it('concurrent calls from several tenants share model runs: batchSize > 1 in results and in /metrics', async () => {
  const clips = [0.5, 1, 1.5, 2, 0.7, 1.2, 0.9, 1.8].map((speech) =>
    wavBytes(silenceSpeechSilence(0.5, speech, 0.5, 16_000), 16_000).toString('base64'));
  const users = ['alice', 'bob', 'carol', 'dave'];
  await Promise.all(users.map((u) => tp.token(u)));
  const results = await Promise.all(clips.map((audioBase64, i) => infer(users[i % users.length], 'silero-vad', [{ audioBase64 }])));
  for (const r of results) expect(r.outputs[0].segments).toHaveLength(1);
  expect(Math.max(...results.map((r) => r.batchSize))).toBeGreaterThan(1);
  const metrics = await (await fetch(`${tp.url}/metrics`)).text();
  const sum = Number(/alliance_inference_batch_size_sum\{endpoint="casia\/silero-vad"\} (\S+)/.exec(metrics)?.[1]);
  const count = Number(/alliance_inference_batch_size_count\{endpoint="casia\/silero-vad"\} (\S+)/.exec(metrics)?.[1]);
  expect(count).toBeGreaterThan(0);
  // Some batch held more than one clip: fewer batches than clips run through this endpoint.
  expect(sum / count).toBeGreaterThan(1);
  expect(metrics).toMatch(/alliance_inference_run_seconds_count\{endpoint="casia\/silero-vad"\} \d+/);
  expect(metrics).toMatch(/alliance_inference_queue_seconds_count\{endpoint="casia\/paddleocr-ch"\} \d+/);
  await tp.gql(INFER, { id: endpoints['paddleocr-ch'], inputs: [{ imageBase64: 'AAAA' }] }, { token: await tp.token('bob') });
  const after = await (await fetch(`${tp.url}/metrics`)).text();
  expect(after).toMatch(/alliance_inference_errors_total\{endpoint="casia\/paddleocr-ch",code="BAD_INPUT"\} [1-9]/);
});

it('a run that costs more than is left is charged what is left, never below zero; then QUOTA_EXCEEDED', async () => {
  const vad = (await tp.as('carol', `query($id: ID!) { node(id: $id) { ... on Endpoint { modelVersion { id } } } }`, { id: endpoints['silero-vad'] })).node;
  const versionUuid = Buffer.from(vad.modelVersion.id, 'base64url').toString().split(':')[1];
  // An estimate of almost nothing (a model whose measured cost was never recorded) admits the
  // call; two milli-units are left; the 4-second clip measurably costs more than that.
  await tp.platform.db.withSystem('test: forget the measured cost', (em) =>
    em.query('UPDATE model_version SET per_item_device_seconds = 0 WHERE id = $1', [versionUuid]));
  // The cached endpoint carries the measured cost for up to its TTL (resolvers/endpoints/infer-target-cache.ts).
  tp.platform.inferTargetCache.forgetAll();
  const used = (await tp.as('carol', QUOTA)).quota.usedUnits;
  await tp.as('admin', `mutation($input: SetQuotaInput!) { setQuota(input: $input) { availableUnits } }`,
    { input: { tenantSlug: 'iqiyi', budgetUnits: used + 0.002, guaranteedDevices: 1, borrowLimitDevices: 2 } });
  const audioBase64 = wavBytes(silenceSpeechSilence(1, 2, 1, 16_000), 16_000).toString('base64');
  const result = await infer('carol', 'silero-vad', [{ audioBase64 }]);
  expect(result.deviceSeconds).toBeGreaterThan(0.002);
  expect(result.computeUnits).toBeCloseTo(0.002, 6);
  expect((await tp.as('carol', QUOTA)).quota).toMatchObject({ availableUnits: 0 });
  const refused = await tp.gql(INFER, { id: endpoints['silero-vad'], inputs: [{ audioBase64 }] }, { token: await tp.token('carol') });
  expect(codes(refused)).toEqual(['QUOTA_EXCEEDED']);
});
