// The runtime's bounds, seen through the API: a session pool of one (least recently used
// evicted, reloaded and re-warmed on next use, answers unchanged) and a bounded queue (requests
// beyond it answer RATE_LIMITED at once; the endpoint keeps serving).
import { ledgerViolations } from '../tenants/ledger-invariants';
import { startTestPlatform, type TestPlatform } from './harness/test-platform';
import { INFER, codes, deploy, floatInput, tensorModel } from './fixtures/model-factory';

let tp: TestPlatform;
beforeAll(async () => {
  tp = await startTestPlatform({ env: { MODEL_MAX_SESSIONS: '1', INFER_MAX_QUEUE: '2' } });
});
afterEach(async () => {
  expect(await tp.platform.db.withSystem('test: ledger invariants', (em) => ledgerViolations(em))).toEqual([]);
});
afterAll(async () => {
  await tp?.close();
});

async function infer(endpointId: string, inputs: unknown[]) {
  return tp.gql(INFER, { id: endpointId, inputs }, { token: await tp.token('dave') });
}

it('with room for one session, two endpoints evict each other and reload on use, answering correctly', async () => {
  const a = await deploy(tp, 'dave', (await tensorModel(tp, 'dave', 2)).version.id);
  const b = await deploy(tp, 'dave', (await tensorModel(tp, 'dave', 3)).version.id);
  const before = await tp.platform.models.runtime.stats();
  for (let round = 0; round < 3; round++) {
    expect((await infer(a.id, [floatInput([[1, 1, 1]])])).data!.infer.outputs[0].y.data).toEqual([2, 2, 2]);
    expect((await infer(b.id, [floatInput([[1, 1, 1]])])).data!.infer.outputs[0].y.data).toEqual([3, 3, 3]);
  }
  const after = await tp.platform.models.runtime.stats();
  expect(after.loadedSessions).toBe(1);
  expect(after.evictions - before.evictions).toBeGreaterThanOrEqual(5);
  expect(after.reloads - before.reloads).toBeGreaterThanOrEqual(5);
});

it('requests beyond the queue bound answer RATE_LIMITED at once, and the endpoint keeps serving', async () => {
  // Batches wait a long time for companions, so queued requests stay queued.
  const endpoint = await deploy(tp, 'dave', (await tensorModel(tp, 'dave', 5)).version.id, { maxBatchSize: 64, maxQueueDelayMs: 1500 });
  await tp.token('dave');
  const results = await Promise.all([1, 2, 3, 4].map((v) => infer(endpoint.id, [floatInput([[v, v, v]])])));
  const refused = results.filter((r) => codes(r).includes('RATE_LIMITED'));
  const served = results.filter((r) => !r.errors);
  expect(refused.length).toBe(2);
  expect(refused[0].errors![0].message).toMatch(/overloaded/);
  expect(served.length).toBe(2);
  for (const r of served) expect(r.data!.infer.batchSize).toBe(2);
  expect((await infer(endpoint.id, [floatInput([[1, 2, 3]])])).data!.infer.outputs[0].y.data).toEqual([5, 10, 15]);
  const metrics = await (await fetch(`${tp.url}/metrics`)).text();
  expect(metrics).toMatch(/alliance_inference_errors_total\{endpoint="casia\/[^"]+",code="OVERLOADED"\} 2/);
});
