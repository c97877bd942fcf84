// Fair sharing on a real cluster: two tenants with weights 1 and 3 saturate a 4-slot cluster
// and receive slot-time in that proportion (Slurm fair-share over decayed usage); a third
// tenant below its guarantee then takes its guaranteed slots at the next shard boundaries,
// without waiting for the borrowers' jobs to finish.
import { ledgerViolations } from '../tenants/ledger-invariants';
import { deployTensorEndpoint } from './harness/model-factory';
import { slowItem, slowModel } from './harness/slow-model';
import { startTestPlatform, type TestPlatform } from './harness/test-platform';
import { until } from './harness/wait';

jest.setTimeout(240_000);

let tp: TestPlatform;
const sql = <T = any>(query: string, params: unknown[] = []) =>
  tp.platform.db.withSystem('test: inspect', (em) => em.query(query, params)) as Promise<T[]>;

beforeAll(async () => {
  tp = await startTestPlatform({ env: { WORKER_SLOTS: '4', SCHEDULER_TICK_MS: '100', MAX_SHARD_ITEMS: '6' } });
});
afterAll(async () => {
  await tp?.close();
});

async function setQuota(slug: string, guaranteed: number, borrow: number, weight: number) {
  await tp.as('admin', `mutation($input: SetQuotaInput!) { setQuota(input: $input) { weight } }`,
    { input: { tenantSlug: slug, budgetUnits: 100000, guaranteedDevices: guaranteed, borrowLimitDevices: borrow, weight } });
}

async function submit(user: string, endpointId: string, items: number): Promise<string> {
  const res = await tp.as(user, `mutation($input: SubmitJobInput!) { submitJob(input: $input) { job { id } } }`,
    { input: { endpointId, inputs: Array.from({ length: items }, (_, i) => slowItem(i)) } });
  return Buffer.from(res.submitJob.job.id, 'base64url').toString().split(':')[1];
}


it('divides a saturated cluster 1:3 by weight, then honours a late guarantee at the next shard boundary', async () => {
  // Both jobs wait (no slot may be borrowed yet), then the limits open in one step: neither
  // tenant starts with a head start that fair share would later have to pay back.
  await setQuota('casia', 0, 0, 1);
  await setQuota('whu', 0, 0, 3);
  await setQuota('iqiyi', 2, 0, 1);
  // Everyone shares one ALLIANCE model so the work per item is identical.
  const { endpointId } = await deployTensorEndpoint(tp, 'alice', 'casia', 'fair-matmul', slowModel(), { visibility: 'ALLIANCE', maxBatchSize: 6 });

  const casiaJob = await submit('alice', endpointId, 600);
  const whuJob = await submit('bob', endpointId, 600);
  await until('both jobs to wait at their borrow limit', async () =>
    (await sql(`SELECT count(*)::int AS n FROM job WHERE id IN ($1, $2) AND pending_reason LIKE '%borrow%'`, [casiaJob, whuJob]))[0].n === 2);
  await tp.platform.db.withSystem('test: open both borrow limits at once', (em) =>
    em.query(`UPDATE quota_policy SET borrow_limit_devices = 4 WHERE tenant_id IN (SELECT tenant_id FROM job WHERE id IN ($1, $2))`, [casiaJob, whuJob]));

  // Let both saturate the cluster for a while, then bring in the guaranteed tenant.
  await until('whu to have run 60 shards', async () =>
    (await sql(`SELECT count(*)::int AS n FROM job_shard WHERE job_id = $1 AND status = 'DONE'`, [whuJob]))[0].n >= 60);
  const [{ t: windowStart }] = await sql(`SELECT max(first) AS t FROM (SELECT min(dispatched_at) AS first FROM job_shard WHERE job_id IN ($1, $2) GROUP BY job_id) f`, [casiaJob, whuJob]);
  const arrival = new Date();
  const iqiyiJob = await submit('carol', endpointId, 120);
  const guaranteedAt = await until('iqiyi to hold its 2 guaranteed slots', async () => {
    const [row] = await sql(`SELECT count(*)::int AS n FROM job_shard WHERE job_id = $1 AND status IN ('DISPATCHED', 'RUNNING')`, [iqiyiJob]);
    return row.n >= 2 && new Date();
  });
  const [borrowers] = await sql(`SELECT count(*)::int AS open FROM job_shard WHERE job_id IN ($1, $2) AND status = 'PENDING'`, [casiaJob, whuJob]);
  // The borrowers still had work waiting: iqiyi did not wait for their jobs to end.
  expect(borrowers.open).toBeGreaterThan(0);
  // Within a few shard lengths of arriving (shards here last well under a second each).
  const [{ longest }] = await sql(`SELECT max(extract(epoch FROM finished_at - dispatched_at)) AS longest FROM job_shard WHERE status = 'DONE'`);
  expect((guaranteedAt.getTime() - arrival.getTime()) / 1000).toBeLessThan(3 * Number(longest) + 2);

  await until('all jobs to finish', async () =>
    (await sql(`SELECT count(*)::int AS n FROM job WHERE id IN ($1, $2, $3) AND finished_at IS NOT NULL`, [casiaJob, whuJob, iqiyiJob]))[0].n === 3);

  // Slot-time while both borrowers were saturating, until the third tenant arrived.
  const shares = await sql<{ tenant: string; seconds: number }>(
    `SELECT t.slug AS tenant,
            sum(extract(epoch FROM least(s.finished_at, $3::timestamptz) - greatest(s.dispatched_at, $2::timestamptz))) AS seconds
       FROM job_shard s JOIN tenant t ON t.id = s.tenant_id
      WHERE s.job_id IN ($1, $4) AND s.dispatched_at < $3 AND s.finished_at > $2
      GROUP BY t.slug`,
    [casiaJob, windowStart, arrival, whuJob]);
  const by = Object.fromEntries(shares.map((s) => [s.tenant, Number(s.seconds)]));
  const ratio = by.casia / by.whu;
  // Weights 1 : 3 → slot-time within 10% of 1/3.
  expect(ratio).toBeGreaterThan((1 / 3) * 0.9);
  expect(ratio).toBeLessThan((1 / 3) * 1.1);
  expect(await tp.platform.db.withSystem('test: ledger invariants', (em) => ledgerViolations(em))).toEqual([]);
});
