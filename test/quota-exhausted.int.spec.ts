// Quota exhausted mid-job: admission held what the estimate said, the real items cost more, the
// tenant's budget runs out. Running shards finish; no new shard starts beyond what the tenant can
// pay, and the job says why; available never goes below zero. Raising the quota lets it finish.
import { ledgerViolations } from '../tenants/ledger-invariants';
import { deployTensorEndpoint } from './harness/model-factory';
import { slowItem, slowModel } from './harness/slow-model';
import { startTestPlatform, type TestPlatform } from './harness/test-platform';
import { until } from './harness/wait';

jest.setTimeout(120_000);

let tp: TestPlatform;
beforeAll(async () => {
  tp = await startTestPlatform({ env: { WORKER_SLOTS: '1', SCHEDULER_TICK_MS: '100', MAX_SHARD_ITEMS: '10', RESERVE_MARGIN: '1' } });
});
afterAll(async () => {
  await tp?.close();
});

const sql = <T = any>(query: string, params: unknown[] = []) =>
  tp.platform.db.withSystem('test: inspect', (em) => em.query(query, params)) as Promise<T[]>;


it('stops starting shards when the budget is gone, keeps available ≥ 0, and resumes when the quota is raised', async () => {
  const { endpointId, modelVersionId } = await deployTensorEndpoint(tp, 'bob', 'whu', 'costly-matmul', slowModel(8, 768), { maxBatchSize: 10 });
  // The estimate is far too low (as if the warm-up had measured a trivial item)…
  const mvId = Buffer.from(modelVersionId, 'base64url').toString().split(':')[1];
  await sql(`UPDATE model_version SET per_item_device_seconds = 0.0000001 WHERE id = $1`, [mvId]);
  // …and the tenant has a small budget: enough to admit the job, not to run it all.
  await tp.as('admin', `mutation { setQuota(input: { tenantSlug: "whu", budgetUnits: 0.02, guaranteedDevices: 1, borrowLimitDevices: 0, weight: 1 }) { budgetUnits } }`);

  const res = await tp.as('bob', `mutation($input: SubmitJobInput!) { submitJob(input: $input) { job { id } } }`,
    { input: { endpointId, inputs: Array.from({ length: 200 }, (_, i) => slowItem(i)) } });
  const jobGlobal = res.submitJob.job.id;
  const jobId = Buffer.from(jobGlobal, 'base64url').toString().split(':')[1];

  const stalled = await until('the job to stall on quota', async () => {
    const [job] = await sql(`SELECT status, pending_reason, done_items FROM job WHERE id = $1`, [jobId]);
    return job.pending_reason?.includes('quota exhausted') && job;
  });
  expect(stalled.done_items).toBeGreaterThan(0);
  expect(stalled.done_items).toBeLessThan(200);
  // Nothing in flight any more, shards still waiting, and the budget is used but not overdrawn.
  await until('running shards to finish', async () =>
    (await sql(`SELECT count(*)::int AS n FROM job_shard WHERE job_id = $1 AND status IN ('DISPATCHED', 'RUNNING')`, [jobId]))[0].n === 0);
  const [{ pending }] = await sql(`SELECT count(*)::int AS pending FROM job_shard WHERE job_id = $1 AND status = 'PENDING'`, [jobId]);
  expect(pending).toBeGreaterThan(0);
  const quota = (await tp.as('bob', `{ quota { availableUnits usedUnits reservedUnits budgetUnits } }`)).quota;
  expect(quota.availableUnits).toBeGreaterThanOrEqual(0);
  expect(quota.usedUnits + quota.reservedUnits).toBeLessThanOrEqual(quota.budgetUnits + 1e-9);
  const visible = (await tp.as('bob', `query($id: ID!) { node(id: $id) { ... on Job { pendingReason } } }`, { id: jobGlobal })).node;
  expect(visible.pendingReason).toMatch(/quota exhausted/);
  expect(await tp.platform.db.withSystem('test: ledger invariants', (em) => ledgerViolations(em))).toEqual([]);

  // More budget: the job picks up where it stopped and completes, every item once.
  await tp.as('admin', `mutation { setQuota(input: { tenantSlug: "whu", budgetUnits: 1000, guaranteedDevices: 1, borrowLimitDevices: 0, weight: 1 }) { budgetUnits } }`);
  const finished = await until('the job to finish', async () => {
    const [job] = await sql(`SELECT status, done_items FROM job WHERE id = $1`, [jobId]);
    return job.status === 'SUCCEEDED' && job;
  });
  expect(finished.done_items).toBe(200);
  const [{ n }] = await sql(`SELECT count(DISTINCT item_index)::int AS n FROM job_result WHERE job_id = $1`, [jobId]);
  expect(n).toBe(200);
  expect(await tp.platform.db.withSystem('test: ledger invariants', (em) => ledgerViolations(em))).toEqual([]);
});
