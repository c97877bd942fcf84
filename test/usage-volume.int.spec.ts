// Property test of usage analytics on generated history: a few hundred jobs of two tenants over
// two months (shards finishing hours apart, across midnights, some jobs cancelled with shards
// that stopped early or never ran; RESERVE/RELEASE noise) and a thousand inference minute
// buckets, written as system work by test/harness/usage-facts.ts. For random windows — minutes
// to two months, cutting through jobs and days — every grouping must equal the TypeScript
// oracle bucket by bucket, and the units must equal the ledger's CAPTUREs in the window.
import { uuidOf } from './harness/datasets-factory';
import { startTestPlatform, type TestPlatform } from './harness/test-platform';
import {
  assetOracle, createUsageWorld, generateFacts, insertFacts, usageOracle, type Facts, type GroupBy, type World,
} from './harness/usage-facts';

let tp: TestPlatform;
let world: World;
let facts: Facts;
const START = new Date('2026-03-01T00:00:00Z');
const DAYS = 60;
const MINUTE = 60_000;
const GROUPINGS: GroupBy[] = ['DAY', 'MODEL', 'USER', 'ENDPOINT', 'DATASET'];
const USAGE = `query($from: DateTime!, $to: DateTime!, $by: UsageGroupBy!) {
  usage(from: $from, to: $to, groupBy: $by) { key label deviceSeconds computeUnits jobs requests } }`;
const ASSETS = `query($from: DateTime!, $to: DateTime!) {
  usageOfMyAssets(from: $from, to: $to) { consumer { slug } assetId assetName assetType jobs items requests computeUnits } }`;

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
const SEED = Number(process.env.USAGE_SEED ?? 6_2026);
const random = mulberry32(SEED);

/** A random window, minute-aligned (inference usage is kept per minute), from a minute to the whole span. */
function randomWindow(): { from: Date; to: Date } {
  const spanMinutes = (DAYS + 2) * 24 * 60;
  const lengths = [1, 37, 60 * 5, 60 * 24, 60 * 24 * 3 + 17, 60 * 24 * 20, spanMinutes];
  const length = lengths[Math.floor(random() * lengths.length)];
  const start = START.getTime() - 24 * 60 * MINUTE + Math.floor(random() * Math.max(1, spanMinutes - length)) * MINUTE;
  return { from: new Date(start), to: new Date(start + length * MINUTE) };
}

beforeAll(async () => {
  tp = await startTestPlatform();
  await tp.platform.db.withSystem('test: generated usage history', async (em) => {
    world = await createUsageWorld(em);
    facts = generateFacts(world, random, { start: START, days: DAYS, jobs: 300, inferenceRows: 1200 });
    await insertFacts(em, facts);
  });
}, 120_000);

afterAll(async () => {
  await tp?.close();
});

async function ledgerTotal(tenantId: string, from: Date, to: Date): Promise<number> {
  const [row] = await tp.platform.db.withSystem('test: ledger total', (em) => em.query(
    `SELECT coalesce(sum(units_milli), 0)::bigint AS milli FROM ledger_entry
      WHERE tenant_id = $1 AND kind = 'CAPTURE' AND created_at >= $2 AND created_at < $3`, [tenantId, from, to]));
  return Number(row.milli);
}

const rawKey = (key: string, by: GroupBy) => (key === 'none' ? null : by === 'DAY' ? key : uuidOf(key));

describe(`usage on generated history (seed ${SEED})`, () => {
  it('equals the oracle bucket by bucket, and the ledger in total, for random windows and every grouping', async () => {
    let nonEmpty = 0;
    for (let i = 0; i < 24; i++) {
      const { from, to } = randomWindow();
      for (const [user, slug] of [['alice', 'casia'], ['bob', 'whu']] as const) {
        const tenantId = world.tenants[slug];
        const ledger = await ledgerTotal(tenantId, from, to);
        for (const by of GROUPINGS) {
          const buckets = (await tp.as(user, USAGE, { from: from.toISOString(), to: to.toISOString(), by })).usage;
          const expected = usageOracle(facts, tenantId, from, to, by);
          const context = `${slug} ${by} [${from.toISOString()}, ${to.toISOString()})`;
          expect([context, buckets.reduce((s: number, b: any) => s + Math.round(b.computeUnits * 1000), 0)]).toEqual([context, ledger]);
          const actual = new Map(buckets.map((b: any) => [rawKey(b.key, by), b]));
          expect([context, [...actual.keys()].sort()]).toEqual([context, [...expected.keys()].sort()]);
          for (const [key, want] of expected) {
            const got: any = actual.get(key);
            expect([context, key, got.jobs, got.requests, Math.round(got.computeUnits * 1000)])
              .toEqual([context, key, want.jobs.size, want.requests, want.unitsMilli]);
            expect(got.deviceSeconds).toBeCloseTo(want.deviceSeconds, 6);
          }
          if (buckets.length) nonEmpty += 1;
        }
      }
    }
    expect(nonEmpty).toBeGreaterThan(100);
    // Those answers came first from the live tables, then more and more from the daily roll-up:
    // by now every closed day is rolled up.
    const [state] = await tp.platform.db.withSystem('test', (em) => em.query(
      `SELECT rolled_until::text AS until, (SELECT count(*)::int FROM usage_day) AS rows FROM usage_rollup`));
    expect(state.until).toBe(new Date(Date.now() - 3_600_000).toISOString().slice(0, 10));
    expect(state.rows).toBeGreaterThan(300);
  });

  it('answers the same from the daily roll-up as from the live tables, for every grouping and usageOfMyAssets', async () => {
    const windows = Array.from({ length: 8 }, randomWindow);
    windows.push({ from: START, to: new Date(START.getTime() + (DAYS + 1) * 86_400_000) });
    const answer = async () => {
      const out: unknown[] = [];
      for (const { from, to } of windows) {
        const vars = { from: from.toISOString(), to: to.toISOString() };
        for (const by of GROUPINGS) out.push((await tp.as('alice', USAGE, { ...vars, by })).usage);
        out.push((await tp.as('bob', USAGE, { ...vars, by: 'DATASET' })).usage);
        out.push((await tp.as('alice', ASSETS, vars)).usageOfMyAssets);
        out.push((await tp.as('bob', ASSETS, vars)).usageOfMyAssets);
      }
      return JSON.parse(JSON.stringify(out, (_k, v) => (typeof v === 'number' ? Math.round(v * 1e6) / 1e6 : v)));
    };
    const rolledUp = await answer();
    // Forget the roll-up and stop it from starting again (a concurrent roller's lock).
    await tp.platform.db.withSystem('test: forget the roll-up', (em) => em.query(`DELETE FROM usage_day; UPDATE usage_rollup SET rolled_until = NULL`));
    const { Client } = await import('pg');
    const blocker = new Client({ connectionString: tp.database.ownerUrl });
    await blocker.connect();
    try {
      await blocker.query(`BEGIN; SELECT pg_advisory_xact_lock(hashtext('alliance-hub usage_roll_up'))`);
      const live = await answer();
      expect(live).toEqual(rolledUp);
      const [state] = await tp.platform.db.withSystem('test', (em) => em.query(`SELECT count(*)::int AS rows FROM usage_day`));
      expect(state.rows).toBe(0);
    } finally {
      await blocker.query('ROLLBACK');
      await blocker.end();
    }
  });

  it('names the buckets: owner/name for another tenant’s assets, (no dataset) and (deleted user) for none', async () => {
    const window = { from: START.toISOString(), to: new Date(START.getTime() + (DAYS + 1) * 86_400_000).toISOString() };
    const models = (await tp.as('alice', USAGE, { ...window, by: 'MODEL' })).usage;
    expect(models.map((b: any) => b.label).sort()).toEqual(['facts-m1', 'facts-m2', 'whu/facts-m3']);
    const datasets = (await tp.as('alice', USAGE, { ...window, by: 'DATASET' })).usage;
    expect(datasets.map((b: any) => b.label).sort()).toEqual(['(no dataset)', 'facts-d1', 'whu/facts-d2']);
    const users = (await tp.as('alice', USAGE, { ...window, by: 'USER' })).usage;
    expect(users.map((b: any) => b.label).sort()).toEqual(['(deleted user)', 'alice', 'dave']);
    const days = (await tp.as('alice', USAGE, { ...window, by: 'DAY' })).usage;
    expect(days.map((b: any) => b.key)).toEqual([...days.map((b: any) => b.key)].sort());
    // Sorted by compute units otherwise, largest first.
    expect(models.map((b: any) => b.computeUnits)).toEqual([...models.map((b: any) => b.computeUnits)].sort((a, b) => b - a));
  });

  it('usageOfMyAssets equals the oracle for each owner; a stranger sees nothing', async () => {
    for (let i = 0; i < 12; i++) {
      const { from, to } = i === 0 ? { from: START, to: new Date(START.getTime() + (DAYS + 1) * 86_400_000) } : randomWindow();
      for (const [user, slug, other] of [['alice', 'casia', 'whu'], ['bob', 'whu', 'casia']] as const) {
        const rows = (await tp.as(user, ASSETS, { from: from.toISOString(), to: to.toISOString() })).usageOfMyAssets;
        const expected = assetOracle(world, facts, world.tenants[slug], from, to);
        const context = `${slug} [${from.toISOString()}, ${to.toISOString()})`;
        expect([context, rows.length]).toEqual([context, expected.size]);
        for (const r of rows) {
          expect(r.consumer.slug).toBe(other);
          const want = expected.get(`${world.tenants[other]}/${uuidOf(r.assetId)}`)!;
          expect([context, r.assetId, r.jobs, r.items, r.requests, Math.round(r.computeUnits * 1000)])
            .toEqual([context, r.assetId, want.jobs, want.items, want.requests, want.unitsMilli]);
        }
        if (i === 0) {
          // The whole span: every asset that was used shows up, PRIVATE facts-m2 only to nobody.
          expect(rows.length).toBeGreaterThan(0);
          expect(rows.map((r: any) => r.assetName)).not.toContain('facts-m2');
        }
      }
    }
    const carol = (await tp.as('carol', ASSETS, { from: START.toISOString(), to: new Date(START.getTime() + 61 * 86_400_000).toISOString() }));
    expect(carol.usageOfMyAssets).toEqual([]);
  });
});
