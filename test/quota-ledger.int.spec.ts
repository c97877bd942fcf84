// Quota policies and the ledger: admins set budgets, tenants see only their own numbers, holds
// never overdraw under concurrency, captures post once, and balances equal the ledger's sums.
import { randomUUID } from 'node:crypto';
import { ledgerViolations } from '../tenants/ledger-invariants';
import { QuotaLedger, periodOf } from '../tenants/quota-ledger';
import { startTestPlatform, type TestPlatform } from './harness/test-platform';

let tp: TestPlatform;
const ledger = new QuotaLedger();
beforeAll(async () => {
  tp = await startTestPlatform();
});
afterEach(async () => {
  expect(await tp.platform.db.withSystem('test: ledger invariants', (em) => ledgerViolations(em))).toEqual([]);
});
afterAll(async () => {
  await tp?.close();
});

const QUOTA = `{ quota { period budgetUnits reservedUnits usedUnits availableUnits guaranteedDevices borrowLimitDevices runningDevices weight tenant { slug } } }`;
const SET = `mutation($input: SetQuotaInput!) { setQuota(input: $input) { budgetUnits availableUnits guaranteedDevices borrowLimitDevices weight tenant { slug } } }`;

async function tenantId(slug: string): Promise<string> {
  return tp.platform.db.withSystem('test', async (em) => (await em.query('SELECT id FROM tenant WHERE slug = $1', [slug]))[0].id);
}

it('each demo tenant has a quota for the current period', async () => {
  const casia = await tp.as('alice', QUOTA);
  expect(casia.quota).toEqual({
    period: periodOf(), budgetUnits: 10000, reservedUnits: 0, usedUnits: 0, availableUnits: 10000,
    guaranteedDevices: 1, borrowLimitDevices: 2, runningDevices: 0, weight: 2, tenant: { slug: 'casia' },
  });
  expect((await tp.as('bob', QUOTA)).quota.budgetUnits).toBe(5000);
});

it('only alliance admins set quotas; the change is visible, audited and in the ledger', async () => {
  const input = { tenantSlug: 'iqiyi', budgetUnits: 7500.5, guaranteedDevices: 2, borrowLimitDevices: 3, weight: 1.5 };
  const denied = await tp.gql(SET, { input }, { token: await tp.token('carol') });
  expect(denied.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  const set = await tp.as('admin', SET, { input });
  expect(set.setQuota).toEqual({ budgetUnits: 7500.5, availableUnits: 7500.5, guaranteedDevices: 2, borrowLimitDevices: 3, weight: 1.5, tenant: { slug: 'iqiyi' } });
  expect((await tp.as('carol', QUOTA)).quota.budgetUnits).toBe(7500.5);
  const entries = await tp.as('carol', `{ ledger(first: 10) { totalCount edges { node { kind units memo } } } }`);
  expect(entries.ledger.edges.map((e: any) => [e.node.kind, e.node.units])).toEqual([['GRANT', 5000], ['ADJUST', 2500.5]]);
  for (const bad of [{ budgetUnits: -1 }, { guaranteedDevices: -2 }, { weight: 0 }, { budgetUnits: Number.MAX_VALUE }]) {
    const res = await tp.gql(SET, { input: { ...input, ...bad } }, { token: await tp.token('admin') });
    expect(res.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  }
  const unknown = await tp.gql(SET, { input: { ...input, tenantSlug: 'nope' } }, { token: await tp.token('admin') });
  expect(unknown.errors?.[0].extensions?.code).toBe('NOT_FOUND');
});

it("another tenant's ledger entries are NOT_FOUND and never listed", async () => {
  const whuLedger = await tp.as('bob', `{ ledger { edges { node { id } } } }`);
  const whuEntry = whuLedger.ledger.edges[0].node.id;
  const res = await tp.gql(`query($id: ID!) { node(id: $id) { id } }`, { id: whuEntry }, { token: await tp.token('alice') });
  expect(res.errors?.[0].extensions?.code).toBe('NOT_FOUND');
  const own = await tp.as('alice', `{ ledger { edges { node { id } } } }`);
  expect(own.ledger.edges.map((e: any) => e.node.id)).not.toContain(whuEntry);
});

it('concurrent holds never overdraw: exactly as many fit as the budget allows', async () => {
  const id = await tenantId('whu');
  const period = periodOf();
  // whu has 5000 units; 20 concurrent holds of 1,300 units: exactly 3 fit.
  const attempts = await Promise.allSettled(Array.from({ length: 20 }, () => tp.platform.db.withSystem('test: concurrent reserve', (em) =>
    ledger.reserve(em, { tenantId: id, period, milli: 1_300_000, key: `reserve:${randomUUID()}`, jobId: randomUUID() }))));
  const ok = attempts.filter((a) => a.status === 'fulfilled').length;
  expect(ok).toBe(3);
  const failures = attempts.filter((a): a is PromiseRejectedResult => a.status === 'rejected');
  expect(failures.every((f) => f.reason.code === 'QUOTA_EXCEEDED')).toBe(true);
  expect(failures[0].reason.details).toMatchObject({ requestedUnits: 1300, budgetUnits: 5000 });
  const quota = (await tp.as('bob', QUOTA)).quota;
  expect(quota).toMatchObject({ reservedUnits: 3900, availableUnits: 1100, usedUnits: 0 });
});

it('captures post once per key, consume the hold, and the rest is released exactly', async () => {
  const id = await tenantId('casia');
  const period = periodOf();
  const jobId = randomUUID();
  await tp.platform.db.withSystem('test', async (em) => {
    await ledger.reserve(em, { tenantId: id, period, milli: 10_000, key: `reserve:${jobId}`, jobId });
    expect(await ledger.capture(em, { tenantId: id, period, milli: 2_500, key: `capture:shard-1`, jobId })).toBe(true);
    // The same shard reported again (a re-run after a crash): not charged twice.
    expect(await ledger.capture(em, { tenantId: id, period, milli: 2_500, key: `capture:shard-1`, jobId })).toBe(false);
    expect(await ledger.capture(em, { tenantId: id, period, milli: 1_250, key: `capture:shard-2`, jobId })).toBe(true);
    expect(await ledger.jobHold(em, jobId)).toBe(6_250);
    expect(await ledger.releaseRest(em, { tenantId: id, period, key: `release:${jobId}`, jobId })).toBe(6_250);
    expect(await ledger.releaseRest(em, { tenantId: id, period, key: `release:${jobId}`, jobId })).toBe(0);
    expect(await ledger.jobHold(em, jobId)).toBe(0);
  });
  const quota = (await tp.as('alice', QUOTA)).quota;
  expect(quota).toMatchObject({ usedUnits: 3.75, reservedUnits: 0, availableUnits: 10000 - 3.75 });
});

it('usage without a hold cannot take available below zero', async () => {
  const id = await tenantId('iqiyi');
  const period = periodOf();
  const before = (await tp.as('carol', QUOTA)).quota.availableUnits * 1000;
  await expect(tp.platform.db.withSystem('test', (em) =>
    ledger.capture(em, { tenantId: id, period, milli: before + 1, key: `usage:${randomUUID()}` }))).rejects.toMatchObject({ code: 'QUOTA_EXCEEDED' });
  expect((await tp.as('carol', QUOTA)).quota.availableUnits * 1000).toBe(before);
});
