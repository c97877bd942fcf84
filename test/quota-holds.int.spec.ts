// Synchronous inference is charged from prepaid holds (tenants/quota-holds.ts): requests are
// admitted against units already reserved in the database and settled in aggregated CAPTUREs.
// What must hold, with real processes: every answered request is charged exactly once and
// exactly what it says; the budget is never overdrawn however many processes share it; an idle
// hold goes back; a crashed process's hold is released once its lease lapses; reads in the
// answering process see everything it answered; another tenant's budget never moves.
import path from 'node:path';
import { ledgerViolations } from '../tenants/ledger-invariants';
import { counter, kill, spawnPlatform } from './harness/platform-processes';
import { startSecondPlatform } from './harness/second-platform';
import { startTestPlatform, type ApiClient, type TestPlatform } from './harness/test-platform';
import { until } from './harness/wait';
import { INFER, QUOTA, codes, deploy, floatInput, tensorModel } from './fixtures/model-factory';

jest.setTimeout(120_000);

let tp: TestPlatform;
beforeAll(async () => {
  tp = await startTestPlatform();
});
afterEach(async () => {
  await tp.platform.holds.flush();
  expect(await tp.platform.db.withSystem('test: ledger invariants', (em) => ledgerViolations(em))).toEqual([]);
});
afterAll(async () => {
  await tp?.close();
});

const milli = (units: number) => Math.round(units * 1000);

/** `issuer`: the platform whose realm signs the token (a second in-process platform has its own). */
async function infer(client: ApiClient, user: string, endpointId: string, k = 1, issuer: TestPlatform = tp) {
  return client.gql(INFER, { id: endpointId, inputs: [floatInput([[k, k, k]])] }, { token: await issuer.token(user) });
}

/** The tenant's balance row and open holds as stored (system view). */
async function stored(slug: string) {
  const [row] = await tp.platform.db.withSystem('test: stored balance', (em) => em.query(`
    SELECT b.granted_milli::bigint AS granted, b.reserved_milli::bigint AS reserved, b.used_milli::bigint AS used,
           (SELECT count(*)::int FROM quota_hold h WHERE h.tenant_id = t.id AND h.closed_at IS NULL) AS open_holds
      FROM tenant t JOIN quota_balance b ON b.tenant_id = t.id AND b.period = to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM')
     WHERE t.slug = $1`, [slug]));
  return { granted: Number(row.granted), reserved: Number(row.reserved), used: Number(row.used), openHolds: row.open_holds as number };
}

async function setBudget(slug: string, units: number) {
  const res = await tp.as('admin', `mutation($input: SetQuotaInput!) { setQuota(input: $input) { budgetUnits } }`,
    { input: { tenantSlug: slug, budgetUnits: units, guaranteedDevices: 1, borrowLimitDevices: 2 } });
  expect(res.setQuota.budgetUnits).toBe(units);
}

it('answers a tenant\'s requests from one hold: few round trips, every request charged exactly, reads exact, another tenant untouched', async () => {
  const { version } = await tensorModel(tp, 'dave', 2);
  const endpoint = await deploy(tp, 'dave', version.id);
  const whuBefore = (await tp.as('bob', QUOTA)).quota;
  const before = (await tp.as('dave', QUOTA)).quota;
  const takes = () => counter(tp.url, 'alliance_db_hot_path_seconds_count', 'function="app_quota_hold_take"');
  const takesBefore = await takes();
  let charged = 0;
  for (let i = 0; i < 30; i++) {
    const res = await infer(tp, 'dave', endpoint.id, i);
    expect(res.errors).toBeUndefined();
    expect(res.data!.infer.outputs[0].y.data).toEqual([2 * i, 2 * i, 2 * i]);
    charged += milli(res.data!.infer.computeUnits);
  }
  // Thirty requests, far fewer takes: the hold grows with the tenant's rate.
  expect((await takes()) - takesBefore).toBeLessThanOrEqual(10);
  // The process that answered reads exactly what it charged; its own hold counts as available.
  const after = (await tp.as('dave', QUOTA)).quota;
  expect(milli(after.usedUnits) - milli(before.usedUnits)).toBe(charged);
  expect(milli(after.availableUnits)).toBe(milli(before.availableUnits) - charged);
  expect(after.reservedUnits).toBe(before.reservedUnits);
  // The ledger has it too (settled), in fewer CAPTUREs than requests.
  const s = await stored('casia');
  expect(s.used).toBe(milli(after.usedUnits));
  expect((await tp.as('bob', QUOTA)).quota).toEqual(whuBefore);
  expect((await stored('whu')).openHolds).toBe(0);
});

it('a busy tenant\'s hold grows ahead of need: its requests stop waiting for takes, and every one is charged exactly', async () => {
  const { version } = await tensorModel(tp, 'bob', 3);
  const endpoint = await deploy(tp, 'bob', version.id);
  const takesBy = (waited: string) => counter(tp.url, 'alliance_db_hot_path_seconds_count', ['function="app_quota_hold_take"', `waited="${waited}"`]);
  const casiaUsedBefore = (await stored('casia')).used;
  const before = (await tp.as('bob', QUOTA)).quota;
  let [waitedBefore, aheadBefore] = [0, 0];
  let charged = 0;
  for (let i = 0; i < 200; i++) {
    // The first requests grow the hold on their path while it learns the tenant's pace.
    if (i === 50) [waitedBefore, aheadBefore] = [await takesBy('yes'), await takesBy('no')];
    const res = await infer(tp, 'bob', endpoint.id, i);
    expect(res.errors).toBeUndefined();
    expect(res.data!.infer.outputs[0].y.data).toEqual([3 * i, 3 * i, 3 * i]);
    charged += milli(res.data!.infer.computeUnits);
  }
  // Then 150 requests, several holds' worth: grown on demand, some would have waited. Grown
  // ahead, none did.
  expect((await takesBy('yes')) - waitedBefore).toBe(0);
  expect((await takesBy('no')) - aheadBefore).toBeGreaterThanOrEqual(1);
  const after = (await tp.as('bob', QUOTA)).quota;
  expect(milli(after.usedUnits) - milli(before.usedUnits)).toBe(charged);
  expect(milli(after.availableUnits)).toBe(milli(before.availableUnits) - charged);
  expect(after.reservedUnits).toBe(before.reservedUnits);
  expect((await stored('whu')).used).toBe(milli(after.usedUnits));
  expect((await stored('casia')).used).toBe(casiaUsedBefore);
  // Idle, the hold goes back with everything taken ahead: nothing stays reserved.
  await until('the idle hold closed', async () => (await stored('whu')).openHolds === 0, 10_000);
  expect((await stored('whu')).reserved).toBe(0);
});

it('goes back when idle: the hold is closed and its rest released', async () => {
  const { version } = await tensorModel(tp, 'bob', 3);
  const endpoint = await deploy(tp, 'bob', version.id);
  const before = await stored('whu');
  expect((await infer(tp, 'bob', endpoint.id)).errors).toBeUndefined();
  // Right after the answer the hold is open and part of reserved in the database…
  const open = await stored('whu');
  expect(open.openHolds).toBe(1);
  expect(open.reserved).toBeGreaterThan(before.reserved);
  // …and about a second of idling later it is gone: reserved is back, the use is charged.
  const closed = await until('the idle hold closed', async () => {
    const s = await stored('whu');
    return s.openHolds === 0 && s;
  }, 10_000);
  expect(closed.reserved).toBe(before.reserved);
  expect(closed.used).toBeGreaterThan(before.used);
  const memo = await tp.platform.db.withSystem('test: release entry', (em) => em.query(
    `SELECT e.memo FROM ledger_entry e JOIN tenant t ON t.id = e.tenant_id WHERE t.slug = 'whu' AND e.kind = 'RELEASE' AND e.hold_id IS NOT NULL
      ORDER BY e.created_at DESC LIMIT 1`));
  expect(memo[0].memo).toMatch(/closed/);
});

it('two processes sharing one small budget never overdraw it, and charge exactly what they answered', async () => {
  const { version } = await tensorModel(tp, 'carol', 4, 'PRIVATE');
  const endpoint = await deploy(tp, 'carol', version.id);
  // Learn the per-request price, then leave iqiyi 40 requests' worth.
  const probe = await infer(tp, 'carol', endpoint.id);
  expect(probe.errors).toBeUndefined();
  const used = (await tp.as('carol', QUOTA)).quota.usedUnits;
  await setBudget('iqiyi', (milli(used) + 40) / 1000);
  // Its own process memory and holds; the same database and blob store (a second replica).
  const second = await startSecondPlatform(tp, { DATA_DIR: tp.dataDir });
  try {
    let charged = 0;
    let refused = 0;
    const caller = async (client: TestPlatform) => {
      for (let i = 0; i < 200; i++) {
        const res = await infer(client, 'carol', endpoint.id, 1, client);
        if (res.errors) {
          expect(codes(res)).toEqual(['QUOTA_EXCEEDED']);
          refused++;
          return;
        }
        charged += milli(res.data!.infer.computeUnits);
      }
    };
    await Promise.all([caller(tp), caller(tp), caller(second), caller(second)]);
    expect(refused).toBe(4);
    await Promise.all([second.platform.holds.flush(undefined, { close: true }), tp.platform.holds.flush(undefined, { close: true })]);
    const s = await stored('iqiyi');
    expect(s.reserved).toBe(0);
    // Never more than the budget, and every answered request is in the ledger, once.
    expect(s.used).toBeLessThanOrEqual(s.granted);
    expect(s.used).toBe(milli(used) + charged);
    // The budget was spent to its last units: what is left is less than a few requests' price.
    expect(s.granted - s.used).toBeLessThan(10);
  } finally {
    await second.close();
    await setBudget('iqiyi', 1000);
  }
  // The second process settled and released everything when it stopped.
  expect((await stored('iqiyi')).openHolds).toBe(0);
});

it('a crashed process\'s hold is released once its lease lapses; nothing is charged twice', async () => {
  const { version } = await tensorModel(tp, 'carol', 5, 'ALLIANCE');
  const endpoint = await deploy(tp, 'carol', version.id);
  const SPLIT = { HEARTBEAT_SECONDS: '1', DEVICE_TIMEOUT_SECONDS: '3', WORKER_SLOTS: '0' };
  const [api, worker] = await Promise.all([
    spawnPlatform(tp, 'api', { ...SPLIT, QUOTA_HOLD_TTL_MS: '1000' }, { preload: [path.join(__dirname, 'harness/no-onnxruntime.js')] }),
    spawnPlatform(tp, 'worker', { ...SPLIT, WORKER_NODE: 'holds-w1' }),
  ]);
  try {
    const before = await stored('iqiyi');
    const viaApi = tp.at(api.url);
    const res = await until('the worker serving the endpoint', async () => {
      const r = await infer(viaApi, 'carol', endpoint.id);
      return !r.errors && r;
    }, 30_000);
    await kill(api); // before it settles: its hold stays open in the database
    const crashed = await stored('iqiyi');
    expect(crashed.openHolds).toBe(1);
    expect(crashed.reserved).toBeGreaterThan(before.reserved);
    // Another process releases it once the lease (1 s here) has lapsed.
    const released = await until('the lapsed hold released', async () => {
      await tp.platform.holds.sweepNow();
      const s = await stored('iqiyi');
      return s.openHolds === 0 && s;
    }, 15_000);
    expect(released.reserved).toBe(before.reserved);
    // What the crashed process had not settled is not charged; what it had, once.
    expect([before.used, before.used + milli(res.data!.infer.computeUnits)]).toContain(released.used);
    const memo = await tp.platform.db.withSystem('test: release entry', (em) => em.query(
      `SELECT e.memo FROM ledger_entry e JOIN tenant t ON t.id = e.tenant_id WHERE t.slug = 'iqiyi' AND e.kind = 'RELEASE' AND e.hold_id IS NOT NULL
        ORDER BY e.created_at DESC LIMIT 1`));
    expect(memo[0].memo).toMatch(/expired/);
  } finally {
    await Promise.all([kill(api), kill(worker)]);
  }
});

it('a settlement is applied once: replaying one whose acknowledgement was lost changes nothing', async () => {
  const { version } = await tensorModel(tp, 'alice', 6);
  const endpoint = await deploy(tp, 'alice', version.id);
  expect((await infer(tp, 'alice', endpoint.id)).errors).toBeUndefined();
  await tp.platform.holds.flush();
  const [hold] = await tp.platform.db.withSystem('test: the open hold', (em) => em.query(
    `SELECT h.id, h.tenant_id, h.period, h.settled_seq, h.held_milli::bigint AS held FROM quota_hold h JOIN tenant t ON t.id = h.tenant_id
      WHERE t.slug = 'casia' AND h.closed_at IS NULL`));
  expect(hold.settled_seq).toBeGreaterThanOrEqual(1);
  const before = await stored('casia');
  const entries = async () => Number((await tp.platform.db.withSystem('test: entries', (em) => em.query(
    `SELECT count(*)::int AS n FROM ledger_entry WHERE hold_id = $1`, [hold.id])))[0].n);
  const entriesBefore = await entries();
  // The process retries its last settlement as it was (same number) after a lost acknowledgement.
  const replay = await tp.platform.db.withSystem('test: replay a settlement', (em) => em.query(
    `SELECT app_quota_hold_settle($1, $2, $3, $4, 5, false, 'replayed', '[]'::jsonb, false, 60000) AS charged`,
    [hold.id, hold.tenant_id, hold.period, hold.settled_seq]));
  expect(replay[0].charged).toBeNull();
  expect(await stored('casia')).toEqual(before);
  expect(await entries()).toBe(entriesBefore);
  // (That later numbers are applied is what every other test here checks: charges land.)
});
