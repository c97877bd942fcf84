// Batch jobs end to end on one all-in-one platform: submit → scheduler → worker → results,
// exact charging, idempotency, cancellation, live events with replay, and another tenant that
// sees nothing of any of it.
import { scaleModel } from '../model-runtime/engine/__fixtures__/tiny-models';
import { ledgerViolations } from '../tenants/ledger-invariants';
import { deployTensorEndpoint, tensorItem } from './harness/model-factory';
import { startTestPlatform, type TestPlatform } from './harness/test-platform';

let tp: TestPlatform;
let endpointId: string;

const SUBMIT = `mutation($input: SubmitJobInput!) { submitJob(input: $input) {
  dryRun estimate { deviceSeconds computeUnits admissible reason availableUnits }
  job { id status progress { total done failed fraction } reservedUnits chargedUnits } } }`;
const JOB = `query($id: ID!) { node(id: $id) { ... on Job { id status pendingReason attempts error chargedUnits reservedUnits
  progress { total done failed fraction } results(first: 100) { totalCount edges { node { index output error } } } } } }`;
const QUOTA = `{ quota { reservedUnits usedUnits availableUnits budgetUnits } }`;

beforeAll(async () => {
  tp = await startTestPlatform({ env: { WORKER_SLOTS: '2', SCHEDULER_TICK_MS: '200', MAX_SHARD_ITEMS: '4' } });
  ({ endpointId } = await deployTensorEndpoint(tp, 'alice', 'casia', 'scale-by-two', scaleModel(2)));
});
afterEach(async () => {
  expect(await tp.platform.db.withSystem('test: ledger invariants', (em) => ledgerViolations(em))).toEqual([]);
});
afterAll(async () => {
  await tp?.close();
});

async function waitFor(id: string, user = 'alice', done = (j: any) => ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(j.status)): Promise<any> {
  for (let i = 0; i < 600; i++) {
    const job = (await tp.as(user, JOB, { id })).node;
    if (done(job)) return job;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error('job did not finish');
}

it('runs a job over inline inputs, one result per item, charging what the shards measured', async () => {
  const before = (await tp.as('alice', QUOTA)).quota;
  const inputs = Array.from({ length: 10 }, (_, i) => tensorItem([i, i + 1, i + 2]));
  const submitted = (await tp.as('alice', SUBMIT, { input: { endpointId, inputs } })).submitJob;
  expect(submitted.dryRun).toBe(false);
  expect(submitted.job.progress).toEqual({ total: 10, done: 0, failed: 0, fraction: 0 });
  const held = (await tp.as('alice', QUOTA)).quota;
  expect(held.reservedUnits).toBeGreaterThanOrEqual(submitted.job.reservedUnits - 1e-9);

  const job = await waitFor(submitted.job.id);
  expect(job.status).toBe('SUCCEEDED');
  expect(job.progress).toEqual({ total: 10, done: 10, failed: 0, fraction: 1 });
  expect(job.results.totalCount).toBe(10);
  const outputs = job.results.edges.map((e: any) => e.node);
  expect(outputs.map((o: any) => o.index)).toEqual([...Array(10).keys()]);
  for (const o of outputs) expect(o.output.y.data).toEqual([o.index * 2, (o.index + 1) * 2, (o.index + 2) * 2]);

  // Charged exactly what the shards recorded, and the quota moved by exactly that.
  const shards: { charged: string; seconds: number }[] = await tp.platform.db.withSystem('test', (em) => em.query(
    `SELECT s.charged_milli AS charged, s.device_seconds AS seconds FROM job_shard s JOIN job j ON j.id = s.job_id WHERE j.total_items = 10`));
  expect(shards).toHaveLength(3);
  // Each shard is charged its measured device time × the cpu billing weight (1), in milli-units.
  for (const shard of shards) expect(Number(shard.charged)).toBe(Math.round(shard.seconds * 1000));
  expect(job.chargedUnits * 1000).toBeCloseTo(shards.reduce((sum, s) => sum + Number(s.charged), 0), 6);
  const after = (await tp.as('alice', QUOTA)).quota;
  expect(after.reservedUnits).toBeCloseTo(before.reservedUnits, 6);
  expect(after.usedUnits).toBeCloseTo(before.usedUnits + job.chargedUnits, 6);
});

it('estimates on dryRun without submitting, and refuses what the budget cannot hold', async () => {
  const inputs = [tensorItem([1, 2, 3])];
  const dry = (await tp.as('alice', SUBMIT, { input: { endpointId, inputs, dryRun: true } })).submitJob;
  expect(dry).toMatchObject({ dryRun: true, job: null, estimate: { admissible: true, reason: null } });
  expect(dry.estimate.computeUnits).toBeGreaterThan(0);
  const jobs = await tp.as('alice', `{ jobs { totalCount } }`);
  const count = jobs.jobs.totalCount;

  await tp.as('admin', `mutation { setQuota(input: { tenantSlug: "casia", budgetUnits: 0.0001, guaranteedDevices: 1, borrowLimitDevices: 2, weight: 2 }) { budgetUnits } }`);
  const many = Array.from({ length: 500 }, () => tensorItem([1, 1, 1]));
  const dryBig = (await tp.as('alice', SUBMIT, { input: { endpointId, inputs: many, dryRun: true } })).submitJob;
  expect(dryBig.estimate.admissible).toBe(false);
  expect(dryBig.estimate.reason).toMatch(/compute units/);
  const refused = await tp.gql(SUBMIT, { input: { endpointId, inputs: many } }, { token: await tp.token('alice') });
  expect(refused.errors?.[0].extensions?.code).toBe('QUOTA_EXCEEDED');
  expect(refused.errors?.[0].extensions).toMatchObject({ availableUnits: expect.any(Number), requestedUnits: expect.any(Number) });
  expect((await tp.as('alice', `{ jobs { totalCount } }`)).jobs.totalCount).toBe(count);
  await tp.as('admin', `mutation { setQuota(input: { tenantSlug: "casia", budgetUnits: 10000, guaranteedDevices: 1, borrowLimitDevices: 2, weight: 2 }) { budgetUnits } }`);
});

it('creates one job for 20 concurrent identical submissions; another input under the same key is a CONFLICT', async () => {
  const input = { endpointId, inputs: [tensorItem([7, 7, 7])], idempotencyKey: 'nightly-2026-11-29' };
  const token = await tp.token('alice');
  const results = await Promise.all(Array.from({ length: 20 }, () => tp.gql(SUBMIT, { input }, { token })));
  for (const r of results) expect(r.errors).toBeUndefined();
  const ids = new Set(results.map((r) => r.data!.submitJob.job.id));
  expect(ids.size).toBe(1);
  const reserves = await tp.platform.db.withSystem('test', (em) => em.query(
    `SELECT count(*)::int AS n FROM ledger_entry e JOIN job j ON j.id = e.job_id WHERE j.idempotency_key = 'nightly-2026-11-29' AND e.kind = 'RESERVE' AND e.entry_key LIKE 'reserve:job:%'`));
  expect(reserves[0].n).toBe(1);
  const conflict = await tp.gql(SUBMIT, { input: { ...input, inputs: [tensorItem([8, 8, 8])] } }, { token });
  expect(conflict.errors?.[0].extensions?.code).toBe('CONFLICT');
  await waitFor([...ids][0]);
});

it('answers bad input with the contract codes and writes nothing', async () => {
  const token = await tp.token('alice');
  const cases: [unknown, string][] = [
    [{ endpointId, inputs: [] }, 'BAD_USER_INPUT'],
    [{ endpointId, inputs: [tensorItem([1, 2, 3])], priority: 1000 }, 'BAD_USER_INPUT'],
    [{ endpointId }, 'BAD_USER_INPUT'],
    [{ endpointId: 'garbage', inputs: [tensorItem([1, 2, 3])] }, 'BAD_USER_INPUT'],
    [{ endpointId: Buffer.from('Endpoint:00000000-0000-4000-8000-000000000000').toString('base64url'), inputs: [tensorItem([1, 2, 3])] }, 'NOT_FOUND'],
  ];
  const before = (await tp.as('alice', `{ jobs { totalCount } }`)).jobs.totalCount;
  for (const [input, code] of cases) {
    const res = await tp.gql(SUBMIT, { input }, { token });
    expect([JSON.stringify(input), res.errors?.[0].extensions?.code]).toEqual([JSON.stringify(input), code]);
  }
  const viewer = await tp.gql(SUBMIT, { input: { endpointId, inputs: [tensorItem([1, 2, 3])] } }, { token: await tp.token('erin') });
  expect(viewer.errors?.[0].extensions?.code).toMatch(/NOT_FOUND|FORBIDDEN/);
  expect((await tp.as('alice', `{ jobs { totalCount } }`)).jobs.totalCount).toBe(before);
});

it('records a per-item error for an item the handler cannot read, and the job goes on', async () => {
  const inputs = [tensorItem([1, 2, 3]), { x: { type: 'float32', dims: [1, 3], data: [1] } }, { nonsense: true }, tensorItem([3, 2, 1])];
  const submitted = (await tp.as('alice', SUBMIT, { input: { endpointId, inputs } })).submitJob;
  const job = await waitFor(submitted.job.id);
  expect(job.status).toBe('SUCCEEDED');
  expect(job.progress).toMatchObject({ total: 4, done: 2, failed: 2, fraction: 1 });
  const byIndex = Object.fromEntries(job.results.edges.map((e: any) => [e.node.index, e.node]));
  expect(byIndex[0].output.y.data).toEqual([2, 4, 6]);
  expect(byIndex[1].error).toMatch(/data|dims|length/i);
  expect(byIndex[2].error).toMatch(/x/);
  expect(byIndex[3].output.y.data).toEqual([6, 4, 2]);
});

it('cancels a job, releasing what it did not use; a finished job cannot be cancelled', async () => {
  // No worker slot free for whu (no quota guarantee), so the job waits: cancel it while PENDING.
  await tp.as('admin', `mutation { setQuota(input: { tenantSlug: "whu", budgetUnits: 100, guaranteedDevices: 0, borrowLimitDevices: 0, weight: 1 }) { budgetUnits } }`);
  const { endpointId: whuEndpoint } = await deployTensorEndpoint(tp, 'bob', 'whu', 'whu-scale', scaleModel(3));
  const submitted = (await tp.as('bob', SUBMIT, { input: { endpointId: whuEndpoint, inputs: [tensorItem([1, 1, 1])] } })).submitJob;
  const pending = await waitFor(submitted.job.id, 'bob', (j) => Boolean(j.pendingReason) && j.pendingReason !== 'waiting for the scheduler');
  expect(pending.status).toBe('PENDING');
  expect(pending.pendingReason).toMatch(/borrow|guarantee|limit/i);
  const cancelled = await tp.as('bob', `mutation($id: ID!) { cancelJob(id: $id) { status } }`, { id: submitted.job.id });
  expect(cancelled.cancelJob.status).toBe('CANCELLED');
  const quota = (await tp.as('bob', QUOTA)).quota;
  expect(quota).toMatchObject({ reservedUnits: 0, usedUnits: 0, availableUnits: 100 });
  const again = await tp.gql(`mutation($id: ID!) { cancelJob(id: $id) { status } }`, { id: submitted.job.id }, { token: await tp.token('bob') });
  expect(again.errors?.[0].extensions?.code).toBe('CONFLICT');
});

it("keeps another tenant's jobs invisible: node, list, cancel and subscription all NOT_FOUND", async () => {
  const submitted = (await tp.as('alice', SUBMIT, { input: { endpointId, inputs: [tensorItem([1, 2, 3])] } })).submitJob;
  const bob = await tp.token('bob');
  expect((await tp.gql(JOB, { id: submitted.job.id }, { token: bob })).errors?.[0].extensions?.code).toBe('NOT_FOUND');
  expect((await tp.gql(`mutation($id: ID!) { cancelJob(id: $id) { status } }`, { id: submitted.job.id }, { token: bob })).errors?.[0].extensions?.code).toBe('NOT_FOUND');
  const list = await tp.as('bob', `{ jobs(first: 100) { edges { node { id } } } }`);
  expect(list.jobs.edges.map((e: any) => e.node.id)).not.toContain(submitted.job.id);
  const client = tp.wsClient({ authorization: `Bearer ${bob}` });
  const error = await new Promise<any>((resolve) => {
    client.subscribe({ query: `subscription($id: ID!) { jobEvents(jobId: $id) { seq } }`, variables: { id: submitted.job.id } },
      { next: (v) => resolve(v), error: (e) => resolve(e), complete: () => resolve(null) });
  });
  const errors = Array.isArray(error) ? error : error?.errors;
  expect(errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  await client.dispose();
  await waitFor(submitted.job.id);
});

it('streams a job’s events live, and a reconnect with afterSeq gets every later event exactly once', async () => {
  const inputs = Array.from({ length: 16 }, (_, i) => tensorItem([i, i, i]));
  const token = await tp.token('alice');
  const submitted = (await tp.as('alice', SUBMIT, { input: { endpointId, inputs } })).submitJob;
  const SUB = `subscription($id: ID!, $after: Int) { jobEvents(jobId: $id, afterSeq: $after) { jobId seq type status progress { done failed total } } }`;

  // First connection: take the first two events, then drop the socket.
  const first: any[] = [];
  const c1 = tp.wsClient({ authorization: `Bearer ${token}` });
  await new Promise<void>((resolve, reject) => {
    const stop = c1.subscribe({ query: SUB, variables: { id: submitted.job.id } }, {
      next: (v: any) => { first.push(v.data.jobEvents); if (first.length === 2) { stop(); resolve(); } },
      error: reject, complete: () => resolve(),
    });
  });
  await c1.dispose();
  expect(first.map((e) => e.seq)).toEqual([1, 2]);

  // Second connection resumes after the last seq seen and runs to the end of the job.
  const rest: any[] = [];
  const c2 = tp.wsClient({ authorization: `Bearer ${token}` });
  await new Promise<void>((resolve, reject) => {
    c2.subscribe({ query: SUB, variables: { id: submitted.job.id, after: 2 } }, {
      next: (v: any) => rest.push(v.data.jobEvents), error: reject, complete: () => resolve(),
    });
  });
  await c2.dispose();
  const seqs = [...first, ...rest].map((e) => e.seq);
  expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
  const last = rest[rest.length - 1];
  expect(last.type).toBe('SUCCEEDED');
  expect(last.progress).toEqual({ done: 16, failed: 0, total: 16 });
  const stored = await tp.platform.db.withSystem('test', (em) => em.query(`SELECT max(seq)::int AS n FROM job_event e JOIN job j ON j.id = e.job_id WHERE j.total_items = 16`));
  expect(seqs.length).toBe(stored[0].n);
});

it('shows the shared cluster to every member: live devices, busy ones, and the queue', async () => {
  const cluster = (await tp.as('bob', `{ cluster { devices { id node kind busy lastHeartbeatAt } pendingJobs runningJobs utilization queues { tenantSlug pendingJobs runningDevices } } }`)).cluster;
  expect(cluster.devices).toHaveLength(2);
  for (const d of cluster.devices) expect(d).toMatchObject({ kind: 'cpu', node: expect.any(String) });
  expect(cluster.utilization).toBeGreaterThanOrEqual(0);
  expect(cluster.utilization).toBeLessThanOrEqual(1);
  // bob sees no queue entries of casia's jobs; the admin sees every tenant's.
  expect(cluster.queues.every((q: any) => q.tenantSlug === 'whu')).toBe(true);
});
