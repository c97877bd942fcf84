// Rate-limit leases (tenants/rate-limiter.ts): each API process takes slices of a subject's
// hourly budget and spends them in memory. Through real HTTP on real PostgreSQL and two API
// processes: far fewer round trips than operations with exact numbers, one budget shared exactly
// under concurrent load, unspent slices given back, an admin's lowered budget holding at once in
// the other process, and other tenants untouched.
import { CHANNELS } from '../tenants/job-events';
import { counter } from './harness/platform-processes';
import { startSecondPlatform } from './harness/second-platform';
import { startTestPlatform, type GraphQLResponse, type TestPlatform } from './harness/test-platform';
import { until } from './harness/wait';

const BUDGET = 100_000;
let tp: TestPlatform;
let tp2: TestPlatform;
beforeAll(async () => {
  tp = await startTestPlatform({ env: { RATE_LIMIT_POINTS_PER_HOUR: String(BUDGET) } });
  tp2 = await startSecondPlatform(tp, { RATE_LIMIT_POINTS_PER_HOUR: String(BUDGET) });
});
afterAll(async () => {
  await tp2?.close();
  await tp?.close();
});

// Windows are fixed clock hours: a test that straddles one would see its budget refilled.
beforeEach(async () => {
  const msToHour = 3_600_000 - (Date.now() % 3_600_000);
  if (msToHour < 30_000) await new Promise((resolve) => setTimeout(resolve, msToHour + 1_000));
});

const RATE = `{ rateLimit { limit cost remaining used } }`;
const ONE_POINT = `{ a0: viewer { username } }`;

const leaseCalls = () => counter(tp.url, 'alliance_db_hot_path_seconds_count', 'function="app_rate_limit_lease"');
/** Lease round trips an operation waited for (waited="yes"), and those taken ahead of need ("no"). */
async function leasesBy(): Promise<{ waited: number; ahead: number }> {
  const sum = (waited: string) => counter(tp.url, 'alliance_db_hot_path_seconds_count', ['function="app_rate_limit_lease"', `waited="${waited}"`]);
  return { waited: await sum('yes'), ahead: await sum('no') };
}
const chargeCalls = () => counter(tp.url, 'alliance_db_hot_path_seconds_count', 'function="app_rate_limit_charge"');

async function tenantId(slug: string): Promise<string> {
  const rows = await tp.platform.db.withSystem('test: a tenant id', (em) => em.query(`SELECT id FROM tenant WHERE slug = $1`, [slug]));
  return rows[0].id;
}

/** The shared row's used in the current window: what every process has taken, spent or not. */
async function sharedUsed(slug: string): Promise<number> {
  const rows = await tp.platform.db.withSystem('test: a tenant\'s shared rate-limit row', (em) => em.query(
    `SELECT coalesce((SELECT u.used FROM rate_limit_usage u JOIN tenant t ON t.id = u.subject_id
                       WHERE u.subject_type = 'TENANT' AND t.slug = $1 AND u.window_start = date_trunc('hour', now())), 0) AS used`,
    [slug],
  ));
  return Number(rows[0].used);
}

/** What the caller's budget says, without spending any: an invalid document charges nothing. */
async function probe(client: TestPlatform, username: string): Promise<{ used: number; limit: number }> {
  const res = await client.gql(`{ nope }`, {}, { token: await client.token(username) });
  return { used: Number(res.headers.get('x-ratelimit-used')), limit: Number(res.headers.get('x-ratelimit-limit')) };
}

async function setLimit(slug: string, pointsPerHour: number | null, client = tp) {
  return client.as('admin', `mutation($slug: String!, $points: Int) { setRateLimit(tenantSlug: $slug, pointsPerHour: $points) { pointsPerHour } }`,
    { slug, points: pointsPerHour });
}

const isRefusal = (r: GraphQLResponse) => r.status === 429 && r.errors?.length === 1 && r.errors[0].extensions?.code === 'RATE_LIMITED';
const isAdmitted = (r: GraphQLResponse) => r.status === 200 && !r.errors;

describe('one process', () => {
  it('many operations in sequence make far fewer lease round trips than operations, with exact numbers after each; other tenants untouched', async () => {
    const token = await tp.token('alice');
    const others = { whu: await sharedUsed('whu'), iqiyi: await sharedUsed('iqiyi'), bob: await probe(tp, 'bob') };
    const [leasesBefore, chargesBefore] = [await leaseCalls(), await chargeCalls()];
    const first = (await tp.gql(RATE, {}, { token })).data!.rateLimit;
    const OPERATIONS = 150;
    for (let i = 1; i <= OPERATIONS; i++) {
      const res = await tp.gql(RATE, {}, { token });
      expect(res.errors).toBeUndefined();
      // Exact after each operation, in the field and in the headers alike.
      expect(res.data!.rateLimit).toEqual({ limit: BUDGET, cost: 1, used: first.used + i, remaining: BUDGET - first.used - i });
      expect(Number(res.headers.get('x-ratelimit-used'))).toBe(first.used + i);
    }
    const leases = (await leaseCalls()) - leasesBefore;
    expect(leases).toBeGreaterThan(0);
    expect(leases).toBeLessThanOrEqual(OPERATIONS / 10);
    expect(await chargeCalls()).toBe(chargesBefore);
    // The shared row holds what was spent plus this process's unspent slice, at most 1% of the budget.
    const held = (await sharedUsed('casia')) - (first.used + OPERATIONS);
    expect(held).toBeGreaterThanOrEqual(0);
    expect(held).toBeLessThanOrEqual(BUDGET / 100);
    // Other tenants' budgets did not move.
    expect({ whu: await sharedUsed('whu'), iqiyi: await sharedUsed('iqiyi'), bob: await probe(tp, 'bob') }).toEqual(others);
  });

  it('a busy subject leases its next slice ahead of need: once its pace is known, no operation waits for a lease, and numbers stay exact', async () => {
    // carol's tenant (iqiyi) is quiet here: its first operations lease on their path while the
    // limiter learns its pace.
    const token = await tp.token('carol');
    const first = await tp.gql(ONE_POINT, {}, { token });
    expect(isAdmitted(first)).toBe(true);
    const base = Number(first.headers.get('x-ratelimit-used'));
    const WARM_UP = 50;
    const OPERATIONS = 300;
    let before = await leasesBy();
    for (let i = 1; i <= OPERATIONS; i++) {
      if (i === WARM_UP + 1) before = await leasesBy();
      const res = await tp.gql(ONE_POINT, {}, { token });
      expect(isAdmitted(res)).toBe(true);
      expect(Number(res.headers.get('x-ratelimit-used'))).toBe(base + i);
    }
    const after = await leasesBy();
    // 250 operations, more than a second of spending (what one slice covers): leased on demand,
    // some would have waited. Leased ahead, none did.
    expect(after.waited - before.waited).toBe(0);
    expect(after.ahead - before.ahead).toBeGreaterThanOrEqual(1);
    // Leased ahead or not, the shared row holds what was spent plus one slice of at most 1%.
    const held = (await sharedUsed('iqiyi')) - (base + OPERATIONS);
    expect(held).toBeGreaterThanOrEqual(0);
    expect(held).toBeLessThanOrEqual(BUDGET / 100);
    await until('the unspent slice to be given back', async () => (await sharedUsed('iqiyi')) === base + OPERATIONS, 10_000);
  });

  it('after the subject idles, the shared row holds exactly the points spent: the unspent slice went back', async () => {
    const token = await tp.token('dave');
    // Spend until this process holds a slice beyond what it spent (a burst leases ahead).
    let spent = 0;
    await until('this process to hold an unspent slice of casia', async () => {
      const res = await tp.gql(ONE_POINT, {}, { token });
      expect(isAdmitted(res)).toBe(true);
      spent = Number(res.headers.get('x-ratelimit-used'));
      return (await sharedUsed('casia')) > spent + 1; // +1: at most one more operation than we read
    }, 10_000);
    await until('the unspent slice to be given back', async () => (await sharedUsed('casia')) === spent, 10_000);
    // Nothing else moved, and the next operation counts on from there.
    expect(await probe(tp, 'dave')).toEqual({ used: spent, limit: BUDGET });
    expect(Number((await tp.gql(ONE_POINT, {}, { token })).headers.get('x-ratelimit-used'))).toBe(spent + 1);
  });
});

describe('two API processes on one database', () => {
  it('hammering one tenant\'s small budget concurrently admit exactly the budget; every refusal is RATE_LIMITED with 429', async () => {
    const used = (await probe(tp, 'bob')).used;
    // Large enough that leases take more than one operation's points (1% of it), small enough to run out.
    const SLICE = 300;
    await setLimit('whu', used + SLICE);
    const casiaBefore = await probe(tp, 'alice');
    // Each process alone tries the whole budget, so neither runs out of operations while it
    // still holds unspent points.
    const PER_PROCESS = SLICE;
    const CONCURRENCY = 6;
    const results: GraphQLResponse[] = [];
    const hammer = async (client: TestPlatform, username: string) => {
      const token = await client.token(username);
      let sent = 0;
      await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
        while (sent < PER_PROCESS) {
          sent += 1;
          results.push(await client.gql(ONE_POINT, {}, { token }));
        }
      }));
    };
    await Promise.all([hammer(tp, 'bob'), hammer(tp2, 'erin')]);
    const admitted = results.filter(isAdmitted);
    const refused = results.filter(isRefusal);
    expect(results).toHaveLength(2 * PER_PROCESS);
    expect(admitted).toHaveLength(SLICE);
    expect(refused).toHaveLength(results.length - SLICE);
    for (const r of refused) expect(r.errors![0].extensions).toMatchObject({ limit: used + SLICE, cost: 1 });
    // Nothing is left unspent anywhere: the shared row is exactly the budget, both processes say so.
    expect(await sharedUsed('whu')).toBe(used + SLICE);
    for (const [client, username] of [[tp, 'bob'], [tp2, 'erin']] as const) {
      expect(await probe(client, username)).toEqual({ used: used + SLICE, limit: used + SLICE });
    }
    // Another tenant's budget is its own.
    expect(await probe(tp, 'alice')).toEqual(casiaBefore);
    expect(isAdmitted(await tp2.gql(ONE_POINT, {}, { token: await tp2.token('alice') }))).toBe(true);
    await setLimit('whu', null);
  });

  it('an admin lowering a budget through one process holds in the other as soon as it hears of it', async () => {
    const iqiyi = await tenantId('iqiyi');
    // The first process hears the change notice; its limiter heard it first (subscribed at start).
    let noticed = false;
    const off = tp.platform.jobs.listener.on(CHANNELS.rateLimit, (payload) => {
      if (payload === iqiyi) noticed = true;
    });
    // A steady stream of carol's operations on the first process, so it holds a slice of iqiyi's
    // budget when the change comes; each remembers whether it was sent after the notice.
    const token = await tp.token('carol');
    const sentAfterNotice: GraphQLResponse[] = [];
    let admittedBefore = 0;
    let last: GraphQLResponse | undefined;
    let stop = false;
    const stream = (async () => {
      while (!stop) {
        const after = noticed;
        last = await tp.gql(ONE_POINT, {}, { token });
        if (after) sentAfterNotice.push(last);
        else if (isAdmitted(last)) admittedBefore += 1;
      }
    })();
    try {
      await until('the first process to hold an unspent slice of iqiyi', async () =>
        last !== undefined && isAdmitted(last) && (await sharedUsed('iqiyi')) > Number(last.headers.get('x-ratelimit-used')) + 1, 10_000);
      // Below what is spent already: once the change is heard, nothing more may pass.
      await setLimit('iqiyi', 1, tp2);
      await until('the first process to hear of the change', async () => noticed, 10_000);
      await until('operations sent after the notice', async () => sentAfterNotice.length >= 20, 10_000);
    } finally {
      stop = true;
      await stream;
      off();
    }
    expect(admittedBefore).toBeGreaterThan(0);
    for (const r of sentAfterNotice) {
      expect(isRefusal(r)).toBe(true);
      expect(r.errors![0].extensions).toMatchObject({ limit: 1, remaining: 0 });
    }
    // The dropped slice went back: the shared row holds exactly what was spent.
    const spent = Number(sentAfterNotice[sentAfterNotice.length - 1].headers.get('x-ratelimit-used'));
    await until('the dropped slice to be given back', async () => (await sharedUsed('iqiyi')) === spent, 10_000);
    await setLimit('iqiyi', null, tp2);
  });
});
