// Usage analytics over the real pipeline: random jobs (inline tensors and a dataset of images)
// and synchronous inference by three users of two tenants, run by the real scheduler and worker.
// Then `usage` must add up to exactly what the ledger captured in the window, for every
// grouping; each bucket must match what the test itself did; another tenant sees none of it;
// and `usageOfMyAssets` shows whu's use of casia's ALLIANCE dataset and models to casia only.
// Volume and time boundaries (days, windows cutting through jobs) are in usage-volume.int.spec.ts.
import sharp from 'sharp';
import { scaleModel } from '../model-runtime/engine/__fixtures__/tiny-models';
import { colourClassifierModel } from '../model-runtime/engine/__fixtures__/tiny-models';
import { asAppRole, blobOf, createDataset, createVersion, publishVersion, uuidOf } from './harness/datasets-factory';
import { deployTensorEndpoint, tensorItem } from './harness/model-factory';
import { startTestPlatform, type TestPlatform } from './harness/test-platform';

let tp: TestPlatform;
const GROUPINGS = ['DAY', 'MODEL', 'USER', 'ENDPOINT', 'DATASET'] as const;
const USAGE = `query($from: DateTime!, $to: DateTime!, $by: UsageGroupBy!) {
  usage(from: $from, to: $to, groupBy: $by) { key label deviceSeconds computeUnits jobs requests } }`;
const ASSETS = `query($from: DateTime!, $to: DateTime!) {
  usageOfMyAssets(from: $from, to: $to) { consumer { slug name } assetId assetName assetType jobs items requests computeUnits } }`;
const SUBMIT = `mutation($input: SubmitJobInput!) { submitJob(input: $input) { job { id } } }`;
const JOB = `query($id: ID!) { node(id: $id) { ... on Job { status chargedUnits progress { total done failed } } } }`;
const INFER = `mutation($id: ID!, $inputs: [JSON!]!) { infer(endpointId: $id, inputs: $inputs) { computeUnits } }`;

/** Seeded, so a failure can be replayed (change the seed to explore). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Run {
  user: 'alice' | 'dave' | 'bob';
  tenant: 'casia' | 'whu';
  kind: 'inline' | 'dataset' | 'infer';
  endpointId: string;
  modelId: string;
  items: number;
  jobId?: string;
}

const runs: Run[] = [];
let scale: { endpointId: string; modelId: string };
let colour: { endpointId: string; modelId: string };
let whuColourEndpoint: string;
let dataset: { id: string; versionId: string };
let from: string;
let to: string;

async function waitFor(id: string, user: string): Promise<any> {
  for (let i = 0; i < 600; i++) {
    const job = (await tp.as(user, JOB, { id })).node;
    if (['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(job.status)) return job;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`job ${id} did not finish`);
}

beforeAll(async () => {
  // A heavy cpu weight, so that even the tiny models' sub-millisecond runs cost whole milli-units.
  tp = await startTestPlatform({ env: { WORKER_SLOTS: '2', SCHEDULER_TICK_MS: '100', MAX_SHARD_ITEMS: '3', BILLING_WEIGHTS: 'cpu=5000,ascend-910b=20,h200=40' } });
  from = new Date(Date.now() - 60_000).toISOString();
  scale = await deployTensorEndpoint(tp, 'alice', 'casia', 'usage-scale', scaleModel(2), { visibility: 'ALLIANCE' });
  colour = await deployTensorEndpoint(tp, 'alice', 'casia', 'usage-colour', colourClassifierModel(), {
    visibility: 'ALLIANCE', handler: 'image-classification', config: { labels: ['red', 'green', 'blue'], size: [8, 8] },
  });
  // whu deploys its own endpoint of casia's model: usage of casia's model whoever deployed it.
  const whuDeploy = await tp.as('bob', `mutation($input: DeployEndpointInput!) { deployEndpoint(input: $input) { id status } }`,
    { input: { modelVersionId: (await tp.as('alice', `query($id: ID!) { node(id: $id) { ... on Model { latestVersion { id } } } }`, { id: colour.modelId })).node.latestVersion.id, name: 'whu-colour' } });
  whuColourEndpoint = whuDeploy.deployEndpoint.id;
  expect(whuDeploy.deployEndpoint.status).toBe('READY');

  const colours = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [200, 30, 30], [30, 30, 200]];
  const items = [];
  for (const [r, g, b] of colours) {
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r, g, b } } }).png().toBuffer();
    items.push({ blobId: await blobOf(tp, 'alice', png, 'image/png'), metadata: { colour: [r, g, b] } });
  }
  const ds = await createDataset(tp, 'alice', { visibility: 'ALLIANCE', modality: 'IMAGE' });
  const version = await createVersion(tp, 'alice', ds.id, items);
  await publishVersion(tp, 'alice', version.id);
  dataset = { id: ds.id, versionId: version.id };

  const random = mulberry32(20261129);
  const users = ['alice', 'dave', 'bob'] as const;
  const kinds = ['inline', 'dataset', 'infer'] as const;
  // Every user does every kind of work at least once, then random extra work, in random order.
  const plan = users.flatMap((user) => kinds.map((kind) => ({ user, kind })));
  for (let i = 0; i < 6; i++) plan.push({ user: users[Math.floor(random() * users.length)], kind: kinds[Math.floor(random() * kinds.length)] });
  plan.sort(() => random() - 0.5);
  for (const [i, { user, kind }] of plan.entries()) {
    const tenant = user === 'bob' ? 'whu' : 'casia';
    if (kind === 'inline') {
      const n = 1 + Math.floor(random() * 7);
      const inputs = Array.from({ length: n }, (_, k) => tensorItem([k, i, random()]));
      const job = (await tp.as(user, SUBMIT, { input: { endpointId: scale.endpointId, inputs } })).submitJob.job;
      runs.push({ user, tenant, kind, endpointId: scale.endpointId, modelId: scale.modelId, items: n, jobId: job.id });
    } else if (kind === 'dataset') {
      const endpointId = tenant === 'whu' ? whuColourEndpoint : colour.endpointId;
      const job = (await tp.as(user, SUBMIT, { input: { endpointId, datasetVersionId: dataset.versionId } })).submitJob.job;
      runs.push({ user, tenant, kind, endpointId, modelId: colour.modelId, items: colours.length, jobId: job.id });
    } else {
      const n = 1 + Math.floor(random() * 3);
      await tp.as(user, INFER, { id: scale.endpointId, inputs: Array.from({ length: n }, (_, k) => tensorItem([k, k, k])) });
      runs.push({ user, tenant, kind, endpointId: scale.endpointId, modelId: scale.modelId, items: n });
    }
  }
  for (const run of runs) if (run.jobId) expect((await waitFor(run.jobId, run.user)).status).toBe('SUCCEEDED');
  to = new Date(Date.now() + 60_000).toISOString();
}, 120_000);

afterAll(async () => {
  await tp?.close();
});

/** What the ledger and the measurements say for a tenant and window, read as system work. */
async function truth(slug: string) {
  return tp.platform.db.withSystem('test: usage truth', async (em) => {
    const [row] = await em.query(
      `SELECT (SELECT coalesce(sum(units_milli), 0) FROM ledger_entry e JOIN tenant t ON t.id = e.tenant_id
                WHERE t.slug = $1 AND e.kind = 'CAPTURE' AND e.created_at >= $2 AND e.created_at < $3)::bigint AS captured,
              (SELECT coalesce(sum(device_seconds), 0) FROM job_shard s JOIN tenant t ON t.id = s.tenant_id
                WHERE t.slug = $1 AND s.status = 'DONE' AND s.finished_at >= $2 AND s.finished_at < $3) AS shard_seconds,
              (SELECT coalesce(sum(device_ms), 0) / 1000 FROM usage_record u JOIN tenant t ON t.id = u.tenant_id
                WHERE t.slug = $1 AND u.bucket_start >= $2 AND u.bucket_start < $3) AS infer_seconds,
              (SELECT coalesce(sum(requests), 0) FROM usage_record u JOIN tenant t ON t.id = u.tenant_id
                WHERE t.slug = $1 AND u.bucket_start >= $2 AND u.bucket_start < $3)::int AS requests`,
      [slug, from, to]);
    return { units: Number(row.captured) / 1000, deviceSeconds: Number(row.shard_seconds) + Number(row.infer_seconds), requests: row.requests };
  });
}

const sum = (buckets: any[], field: string) => buckets.reduce((s, b) => s + b[field], 0);

describe('usage', () => {
  it.each(['casia', 'whu'] as const)('adds up to the ledger for every grouping (%s)', async (slug) => {
    const user = slug === 'casia' ? 'alice' : 'bob';
    const expected = await truth(slug);
    const mine = runs.filter((r) => r.tenant === slug);
    expect(expected.units).toBeGreaterThan(0);
    expect(expected.requests).toBe(mine.filter((r) => r.kind === 'infer').length);
    for (const by of GROUPINGS) {
      const buckets = (await tp.as(user, USAGE, { from, to, by })).usage;
      expect([by, Math.round(sum(buckets, 'computeUnits') * 1000)]).toEqual([by, Math.round(expected.units * 1000)]);
      expect(sum(buckets, 'deviceSeconds')).toBeCloseTo(expected.deviceSeconds, 9);
      expect(sum(buckets, 'requests')).toBe(expected.requests);
      // Every job ran on one day here, so jobs add up under DAY too.
      expect([by, sum(buckets, 'jobs')]).toEqual([by, mine.filter((r) => r.jobId).length]);
      expect(new Set(buckets.map((b: any) => b.key)).size).toBe(buckets.length);
    }
  });

  it('buckets match what each user, endpoint, model and dataset did', async () => {
    const casia = runs.filter((r) => r.tenant === 'casia');
    const count = (rs: Run[]) => ({ jobs: rs.filter((r) => r.jobId).length, requests: rs.filter((r) => r.kind === 'infer').length });
    const byUser = (await tp.as('alice', USAGE, { from, to, by: 'USER' })).usage;
    for (const user of ['alice', 'dave']) {
      const mine = casia.filter((r) => r.user === user);
      const bucket = byUser.find((b: any) => b.label === user);
      if (!mine.length) expect(bucket).toBeUndefined();
      else expect(bucket).toMatchObject(count(mine));
    }
    const byEndpoint = (await tp.as('alice', USAGE, { from, to, by: 'ENDPOINT' })).usage;
    expect(byEndpoint.map((b: any) => b.key).sort()).toEqual([...new Set(casia.map((r) => r.endpointId))].sort());
    for (const b of byEndpoint) expect(b).toMatchObject({ ...count(casia.filter((r) => r.endpointId === b.key)), label: expect.stringMatching(/^usage-/) });
    const byModel = (await tp.as('alice', USAGE, { from, to, by: 'MODEL' })).usage;
    for (const b of byModel) expect(b).toMatchObject(count(casia.filter((r) => r.modelId === b.key)));
    const byDataset = (await tp.as('alice', USAGE, { from, to, by: 'DATASET' })).usage;
    const overDataset = casia.filter((r) => r.kind === 'dataset');
    if (overDataset.length) expect(byDataset.find((b: any) => b.key === dataset.id)).toMatchObject(count(overDataset));
    expect(byDataset.find((b: any) => b.key === 'none')).toMatchObject({ ...count(casia.filter((r) => r.kind !== 'dataset')), label: '(no dataset)' });
    const byDay = (await tp.as('alice', USAGE, { from, to, by: 'DAY' })).usage;
    for (const b of byDay) expect(b.key).toMatch(/^\d{4}-\d{2}-\d{2}$/);
  });

  it('splits each day by model in one answer (breakdown), adding up to the day', async () => {
    const data = await tp.as('alice', `query($from: DateTime!, $to: DateTime!) { usage(from: $from, to: $to, groupBy: DAY) {
      key computeUnits requests breakdown(groupBy: MODEL) { key label computeUnits requests } } }`, { from, to });
    expect(data.usage.length).toBeGreaterThan(0);
    for (const day of data.usage) {
      expect(sum(day.breakdown, 'computeUnits')).toBeCloseTo(day.computeUnits, 6);
      expect(sum(day.breakdown, 'requests')).toBe(day.requests);
      for (const m of day.breakdown) expect([scale.modelId, colour.modelId]).toContain(m.key);
    }
  });

  it('shows another tenant none of it, and a tenant with no usage an empty list', async () => {
    const carol = (await tp.as('carol', USAGE, { from, to, by: 'MODEL' })).usage;
    expect(carol).toEqual([]);
    const whu = (await tp.as('bob', USAGE, { from, to, by: 'USER' })).usage;
    expect(whu.map((b: any) => b.label).every((l: string) => l === 'bob')).toBe(true);
    // The SQL function itself, called as the app role for iqiyi, returns nothing of casia's.
    const [iqiyi] = await tp.platform.db.withSystem('test', (em) => em.query(`SELECT id FROM tenant WHERE slug = 'iqiyi'`));
    const rows = await asAppRole(tp, { 'app.tenant_id': iqiyi.id }, async (c) =>
      (await c.query(`SELECT * FROM tenant_usage($1, $2, 'MODEL', NULL)`, [from, to])).rows);
    expect(rows).toEqual([]);
    const none = await asAppRole(tp, {}, async (c) => (await c.query(`SELECT * FROM tenant_usage($1, $2, 'DAY', NULL)`, [from, to])).rows);
    expect(none).toEqual([]);
  });

  it('refuses bad windows with BAD_USER_INPUT, and needs an acting tenant', async () => {
    const token = await tp.token('alice');
    const cases = [
      { from: to, to: from },
      { from, to: from },
      { from: '2025-01-01T00:00:00Z', to: '2026-01-03T00:00:00Z' },
    ];
    for (const vars of cases) {
      const res = await tp.gql(USAGE, { ...vars, by: 'DAY' }, { token });
      expect(res.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
      const assets = await tp.gql(ASSETS, vars, { token });
      expect(assets.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    }
    // Exactly 366 days is allowed.
    expect((await tp.gql(USAGE, { from: '2025-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z', by: 'DAY' }, { token })).errors).toBeUndefined();
    const admin = await tp.gql(USAGE, { from, to, by: 'DAY' }, { token: await tp.token('admin') });
    expect(admin.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('usageOfMyAssets', () => {
  it("shows casia whu's use of its ALLIANCE dataset and models, with whu's charges", async () => {
    const whu = runs.filter((r) => r.tenant === 'whu');
    const rows = (await tp.as('alice', ASSETS, { from, to })).usageOfMyAssets;
    for (const row of rows) expect(row.consumer).toEqual({ slug: 'whu', name: 'Wuhan University' });
    const find = (assetId: string) => rows.find((r: any) => r.assetId === assetId);
    const overDataset = whu.filter((r) => r.kind === 'dataset');
    const onScale = whu.filter((r) => r.modelId === scale.modelId);
    if (overDataset.length) {
      expect(find(dataset.id)).toMatchObject({ assetType: 'Dataset', jobs: overDataset.length, items: 5 * overDataset.length, requests: 0 });
      expect(find(colour.modelId)).toMatchObject({ assetType: 'Model', assetName: 'usage-colour', jobs: overDataset.length, items: 5 * overDataset.length });
    } else {
      expect(find(dataset.id)).toBeUndefined();
    }
    if (onScale.length) {
      expect(find(scale.modelId)).toMatchObject({
        assetName: 'usage-scale',
        jobs: onScale.filter((r) => r.jobId).length,
        requests: onScale.filter((r) => r.kind === 'infer').length,
        items: onScale.reduce((s, r) => s + r.items, 0),
      });
    }
    // Compute units are what whu was charged for exactly those uses.
    const charged = await tp.platform.db.withSystem('test', (em) => em.query(
      `SELECT (SELECT coalesce(sum(charged_milli), 0) FROM job WHERE id = ANY ($1::uuid[]))::bigint AS jobs,
              (SELECT coalesce(sum(units_milli), 0) FROM usage_record u JOIN tenant t ON t.id = u.tenant_id WHERE t.slug = 'whu')::bigint AS infer`,
      [whu.filter((r) => r.jobId).map((r) => uuidOf(r.jobId!))]));
    const modelRows = rows.filter((r: any) => r.assetType === 'Model');
    expect(Math.round(sum(modelRows, 'computeUnits') * 1000)).toBe(Number(charged[0].jobs) + Number(charged[0].infer));
    expect(whu.length).toBeGreaterThan(0);
  });

  it('shows a stranger and a consumer nothing of casia’s assets', async () => {
    expect((await tp.as('carol', ASSETS, { from, to })).usageOfMyAssets).toEqual([]);
    // whu owns no asset anybody used; casia's own use of its assets is not "another tenant's".
    expect((await tp.as('bob', ASSETS, { from, to })).usageOfMyAssets).toEqual([]);
    const [whu] = await tp.platform.db.withSystem('test', (em) => em.query(`SELECT id FROM tenant WHERE slug = 'whu'`));
    const rows = await asAppRole(tp, { 'app.tenant_id': whu.id }, async (c) =>
      (await c.query(`SELECT * FROM usage_of_my_assets($1, $2)`, [from, to])).rows);
    expect(rows).toEqual([]);
  });
});
