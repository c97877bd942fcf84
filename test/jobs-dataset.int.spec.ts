// The seed's story end to end: iQIYI shares an image dataset with the alliance; CASIA runs the
// alliance's Chinese OCR model over it as a batch job, follows it on its dashboard stream, and
// the job records which dataset version fed it. Real images, real PaddleOCR, real PostgreSQL.
import { renderText } from '../model-runtime/engine/__fixtures__/rendered-text';
import { ledgerViolations } from '../tenants/ledger-invariants';
import { uploadBlob } from './harness/model-factory';
import { startTestPlatform, type TestPlatform } from './harness/test-platform';

jest.setTimeout(180_000);

let tp: TestPlatform;
beforeAll(async () => {
  tp = await startTestPlatform({ env: { DEMO_MODELS: 'true', WORKER_SLOTS: '2', SCHEDULER_TICK_MS: '200', MAX_SHARD_ITEMS: '2' } });
});
afterAll(async () => {
  await tp?.close();
});

const TEXTS = ['视频描述数据', '跨模态检索', '紫东太初'];

it("runs PaddleOCR over another member's shared image dataset, streamed to the dashboard and charged to the runner", async () => {
  // iQIYI publishes an ALLIANCE dataset of rendered Chinese captions.
  const items = [];
  for (const [i, text] of TEXTS.entries()) {
    items.push({ blobId: await uploadBlob(tp, 'carol', 'iqiyi', await renderText([text]), 'image/png'), metadata: { caption: text, frame: i } });
  }
  const dataset = await tp.as('carol', `mutation { createDataset(input: { name: "caption-frames", modality: IMAGE, visibility: ALLIANCE, license: "CC-BY-4.0" }) { id } }`);
  const version = await tp.as('carol', `mutation($input: CreateDatasetVersionInput!) { createDatasetVersion(input: $input) { id } }`,
    { input: { datasetId: dataset.createDataset.id, items } });
  const versionId = version.createDatasetVersion.id;

  const ocr = (await tp.as('alice', `{ endpoints(first: 50) { edges { node { id name status } } } }`)).endpoints.edges
    .map((e: any) => e.node).find((e: any) => e.name === 'paddleocr-ch');
  expect(ocr.status).toBe('READY');

  const SUBMIT = `mutation($input: SubmitJobInput!) { submitJob(input: $input) { job { id status } } }`;
  // Unpublished: refused, nothing created.
  const early = await tp.gql(SUBMIT, { input: { endpointId: ocr.id, datasetVersionId: versionId } }, { token: await tp.token('alice') });
  expect(early.errors?.[0].extensions?.code).toMatch(/BAD_USER_INPUT|NOT_FOUND/);
  await tp.as('carol', `mutation($id: ID!) { publishDatasetVersion(id: $id) { published } }`, { id: versionId });

  // CASIA's dashboard listens to its tenant's job events and quota.
  const alice = await tp.token('alice');
  const client = tp.wsClient({ authorization: `Bearer ${alice}`, tenant: 'casia' });
  const dashboardEvents: any[] = [];
  const quotaUpdates: any[] = [];
  client.subscribe({ query: `subscription { tenantJobEvents { jobId seq type status progress { done total } } }` },
    { next: (v: any) => dashboardEvents.push(v.data.tenantJobEvents), error: () => undefined, complete: () => undefined });
  client.subscribe({ query: `subscription { quotaChanged { usedUnits reservedUnits tenant { slug } } }` },
    { next: (v: any) => quotaUpdates.push(v.data.quotaChanged), error: () => undefined, complete: () => undefined });
  // A stranger's dashboard on the same server.
  const bobClient = tp.wsClient({ authorization: `Bearer ${await tp.token('bob')}` });
  const bobEvents: any[] = [];
  bobClient.subscribe({ query: `subscription { tenantJobEvents { jobId seq } }` },
    { next: (v: any) => bobEvents.push(v), error: () => undefined, complete: () => undefined });
  await new Promise((r) => setTimeout(r, 300));

  const submitted = (await tp.as('alice', SUBMIT, { input: { endpointId: ocr.id, datasetVersionId: versionId } })).submitJob.job;
  let job: any;
  for (let i = 0; i < 1200; i++) {
    job = (await tp.as('alice', `query($id: ID!) { node(id: $id) { ... on Job { status chargedUnits progress { done failed total }
      datasetVersion { id dataset { name owner { slug } } } endpoint { name }
      results(first: 10) { edges { node { index itemId output error } } } } } }`, { id: submitted.id })).node;
    if (job.status === 'SUCCEEDED' || job.status === 'FAILED') break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(job.status).toBe('SUCCEEDED');
  expect(job.progress).toEqual({ done: 3, failed: 0, total: 3 });
  expect(job.datasetVersion).toEqual({ id: versionId, dataset: { name: 'caption-frames', owner: { slug: 'iqiyi' } } });
  expect(job.endpoint.name).toBe('paddleocr-ch');
  const texts = job.results.edges.map((e: any) => e.node.output.lines.map((l: any) => l.text).join(''));
  expect(texts).toEqual(TEXTS);
  for (const e of job.results.edges) expect(e.node.itemId).toEqual(expect.any(String));

  // The dashboard saw the job through to SUCCEEDED; the stranger saw nothing at all.
  for (let i = 0; i < 50 && !dashboardEvents.some((e) => e.type === 'SUCCEEDED'); i++) await new Promise((r) => setTimeout(r, 100));
  const mine = dashboardEvents.filter((e) => e.jobId === submitted.id);
  expect(mine[0].type).toBe('SUBMITTED');
  expect(mine[mine.length - 1]).toMatchObject({ type: 'SUCCEEDED', progress: { done: 3, total: 3 } });
  expect(mine.map((e) => e.seq)).toEqual([...mine.map((e) => e.seq)].sort((a, b) => a - b));
  expect(bobEvents).toEqual([]);
  expect(quotaUpdates.length).toBeGreaterThan(0);
  expect(quotaUpdates[quotaUpdates.length - 1].tenant.slug).toBe('casia');
  await client.dispose();
  await bobClient.dispose();

  // Charged to CASIA (the runner), with the ledger entries pointing at the job.
  const ledger = await tp.as('alice', `{ ledger(first: 100) { edges { node { kind units job { id } } } } }`);
  const jobEntries = ledger.ledger.edges.map((e: any) => e.node).filter((n: any) => n.job?.id === submitted.id);
  expect(jobEntries.map((n: any) => n.kind)).toEqual(expect.arrayContaining(['RESERVE', 'CAPTURE', 'RELEASE']));
  const captured = jobEntries.filter((n: any) => n.kind === 'CAPTURE').reduce((s: number, n: any) => s + n.units, 0);
  expect(captured).toBeCloseTo(job.chargedUnits, 6);
  expect(job.chargedUnits).toBeGreaterThan(0);
  const iqiyiLedger = await tp.as('carol', `{ ledger(first: 100) { edges { node { job { id } } } } }`);
  expect(iqiyiLedger.ledger.edges.filter((e: any) => e.node.job?.id === submitted.id)).toEqual([]);
  expect(await tp.platform.db.withSystem('test: ledger invariants', (em) => ledgerViolations(em))).toEqual([]);
});
