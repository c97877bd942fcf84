// Split mode with real processes: two worker processes (`api/main.ts worker`) serve the API's
// cluster; one is killed with SIGKILL in the middle of a shard. The shard's lease lapses, the
// scheduler re-runs it on the other worker, and the job ends with exactly one result per item
// and a charge equal to the device time of the shards that were committed — nothing twice.
import { ledgerViolations } from '../tenants/ledger-invariants';
import { deployTensorEndpoint } from './harness/model-factory';
import { kill, spawnPlatform, type PlatformChild } from './harness/platform-processes';
import { slowItem, slowModel } from './harness/slow-model';
import { startTestPlatform, type TestPlatform } from './harness/test-platform';
import { until } from './harness/wait';

jest.setTimeout(180_000);

let tp: TestPlatform;
const workers: PlatformChild[] = [];

async function startWorker(node: string): Promise<PlatformChild> {
  const worker = await spawnPlatform(tp, 'worker', {
    WORKER_NODE: node, WORKER_SLOTS: '1', SHARD_LEASE_SECONDS: '3', HEARTBEAT_SECONDS: '1', DEVICE_TIMEOUT_SECONDS: '3',
  });
  workers.push(worker);
  return worker;
}

const sql = <T = any>(query: string, params: unknown[] = []) =>
  tp.platform.db.withSystem('test: inspect', (em) => em.query(query, params)) as Promise<T[]>;

beforeAll(async () => {
  tp = await startTestPlatform({ env: { WORKER_SLOTS: '0', SCHEDULER_TICK_MS: '200', SHARD_LEASE_SECONDS: '3', DEVICE_TIMEOUT_SECONDS: '3', MAX_SHARD_ITEMS: '40' } });
});
afterAll(async () => {
  await Promise.all(workers.map(kill));
  await tp?.close();
});

it('re-runs the shard of a SIGKILLed worker elsewhere; results and charges recorded once', async () => {
  const { endpointId } = await deployTensorEndpoint(tp, 'alice', 'casia', 'slow-matmul', slowModel(), { maxBatchSize: 4 });
  const [w1] = await Promise.all([startWorker('crash-w1'), startWorker('crash-w2')]);
  await until('two live devices', async () => (await sql(`SELECT count(*)::int AS n FROM device WHERE node LIKE 'crash-%'`))[0].n === 2);

  const items = 240;
  const submitted = await tp.as('alice', `mutation($input: SubmitJobInput!) { submitJob(input: $input) { job { id } } }`,
    { input: { endpointId, inputs: Array.from({ length: items }, (_, i) => slowItem(i)) } });
  const jobId = Buffer.from(submitted.submitJob.job.id, 'base64url').toString().split(':')[1];

  // Wait until w1 is running a shard, then kill it without warning.
  const victim = await until('a shard running on crash-w1', async () =>
    (await sql(`SELECT id, attempt FROM job_shard WHERE job_id = $1 AND node = 'crash-w1' AND status = 'RUNNING'`, [jobId]))[0]);
  await kill(w1);

  const job = await until('the job to finish', async () => {
    const [row] = await sql(`SELECT status, done_items, failed_items, charged_milli, attempts FROM job WHERE id = $1`, [jobId]);
    return ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(row.status) && row;
  }, 150_000);
  expect(job.status).toBe('SUCCEEDED');
  expect(job.done_items).toBe(items);
  expect(job.attempts).toBeGreaterThanOrEqual(1);

  // The killed shard ran again, under a newer attempt, on the surviving worker.
  const [rerun] = await sql(`SELECT status, attempt, node FROM job_shard WHERE id = $1`, [victim.id]);
  expect(rerun).toMatchObject({ status: 'DONE', node: 'crash-w2' });
  expect(rerun.attempt).toBeGreaterThan(victim.attempt);

  // Exactly one result per item.
  const [results] = await sql(`SELECT count(*)::int AS n, count(DISTINCT item_index)::int AS distinct_n, min(item_index) AS lo, max(item_index) AS hi FROM job_result WHERE job_id = $1`, [jobId]);
  expect(results).toEqual({ n: items, distinct_n: items, lo: 0, hi: items - 1 });

  // Charged once: the job's charge is the sum of its shards' captures, one CAPTURE per shard.
  const [captures] = await sql(`SELECT count(*)::int AS n, count(DISTINCT entry_key)::int AS keys, sum(units_milli)::bigint AS milli FROM ledger_entry WHERE job_id = $1 AND kind = 'CAPTURE'`, [jobId]);
  const [shards] = await sql(`SELECT count(*)::int AS n, sum(charged_milli)::bigint AS milli, sum(round(device_seconds * 1000))::bigint AS measured FROM job_shard WHERE job_id = $1`, [jobId]);
  expect(captures.n).toBe(shards.n);
  expect(captures.keys).toBe(shards.n);
  expect(Number(captures.milli)).toBe(Number(job.charged_milli));
  expect(Number(shards.milli)).toBe(Number(job.charged_milli));
  expect(Number(shards.measured)).toBe(Number(job.charged_milli));
  expect(await tp.platform.db.withSystem('test: ledger invariants', (em) => ledgerViolations(em))).toEqual([]);
});
