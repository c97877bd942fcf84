// Per-tenant rate limits by query cost, through real HTTP and graphql-ws clients on real
// PostgreSQL: headers, the rateLimit field, an admin's per-tenant budget spent to the point and
// refused one point past it, other tenants untouched, callers without a tenant limited per user,
// and two API processes on one database spending from one budget.
import { connectedClient, wsRun } from './harness/limits-helpers';
import { startSecondPlatform } from './harness/second-platform';
import { startTestPlatform, type TestPlatform } from './harness/test-platform';

const DEFAULT_BUDGET = 1000;
let tp: TestPlatform;
beforeAll(async () => {
  tp = await startTestPlatform({ env: { RATE_LIMIT_POINTS_PER_HOUR: String(DEFAULT_BUDGET) } });
});
afterAll(async () => {
  await tp?.close();
});

// Windows are fixed clock hours: a test that straddles one would see its budget refilled.
beforeEach(async () => {
  const msToHour = 3_600_000 - (Date.now() % 3_600_000);
  if (msToHour < 20_000) await new Promise((resolve) => setTimeout(resolve, msToHour + 1_000));
});

const RATE = `{ rateLimit { limit cost remaining used resetAt } }`;
/** Costs exactly n points: n aliased lookups. */
const costing = (n: number) => `{ ${Array.from({ length: n }, (_, i) => `a${i}: viewer { username }`).join(' ')} }`;

function headersOf(res: { headers: Headers }) {
  const get = (name: string) => res.headers.get(name);
  return {
    limit: Number(get('x-ratelimit-limit')),
    remaining: Number(get('x-ratelimit-remaining')),
    used: Number(get('x-ratelimit-used')),
    reset: Number(get('x-ratelimit-reset')),
    present: ['x-ratelimit-limit', 'x-ratelimit-remaining', 'x-ratelimit-used', 'x-ratelimit-reset'].every((h) => get(h) !== null),
  };
}

async function setLimit(slug: string, pointsPerHour: number | null, tenant = tp) {
  return tenant.as('admin', `mutation($slug: String!, $points: Int) {
    setRateLimit(tenantSlug: $slug, pointsPerHour: $points) { tenant { slug } pointsPerHour isDefault used resetAt }
  }`, { slug, points: pointsPerHour });
}

describe('headers and the rateLimit field', () => {
  it('every response carries x-ratelimit-* and they decrease with each operation', async () => {
    const token = await tp.token('dave');
    const first = await tp.gql(RATE, {}, { token });
    const second = await tp.gql(RATE, {}, { token });
    const [a, b] = [headersOf(first), headersOf(second)];
    expect(a.present && b.present).toBe(true);
    expect(a.limit).toBe(DEFAULT_BUDGET);
    expect(b.remaining).toBe(a.remaining - 1);
    expect(b.used).toBe(a.used + 1);
    // The field and the headers tell the same story.
    const field = second.data!.rateLimit;
    expect(field).toMatchObject({ limit: DEFAULT_BUDGET, cost: 1, remaining: b.remaining, used: b.used });
    expect(Math.floor(Date.parse(field.resetAt) / 1000)).toBe(b.reset);
    // A fixed hourly window of the database clock.
    expect(Date.parse(field.resetAt) % 3_600_000).toBe(0);
    expect(Date.parse(field.resetAt)).toBeGreaterThan(Date.now());
  });

  it('reports the budget on responses that charged nothing (invalid documents), without spending it', async () => {
    const token = await tp.token('dave');
    const before = headersOf(await tp.gql(RATE, {}, { token }));
    const invalid = await tp.gql(`{ nope }`, {}, { token });
    expect(invalid.status).toBe(400);
    const h = headersOf(invalid);
    expect(h.present).toBe(true);
    expect(h.used).toBe(before.used);
  });

  it('leaves failed authentication without headers (no budget to report)', async () => {
    const res = await tp.gql(RATE);
    expect(res.status).toBe(401);
    expect(res.headers.get('x-ratelimit-limit')).toBeNull();
  });
});

describe('setRateLimit', () => {
  it('is for alliance admins only, and checks its input', async () => {
    const alice = await tp.gql(`mutation { setRateLimit(tenantSlug: "casia", pointsPerHour: 5) { pointsPerHour } }`, {}, { token: await tp.token('alice') });
    expect(alice.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const admin = await tp.token('admin');
    const zero = await tp.gql(`mutation { setRateLimit(tenantSlug: "casia", pointsPerHour: 0) { pointsPerHour } }`, {}, { token: admin });
    expect(zero.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    const unknown = await tp.gql(`mutation { setRateLimit(tenantSlug: "nope", pointsPerHour: 5) { pointsPerHour } }`, {}, { token: admin });
    expect(unknown.errors?.[0].extensions?.code).toBe('NOT_FOUND');
  });

  it('sets and restores a tenant budget', async () => {
    const set = (await setLimit('whu', 777)).setRateLimit;
    expect(set).toMatchObject({ tenant: { slug: 'whu' }, pointsPerHour: 777, isDefault: false });
    expect((await tp.as('bob', RATE)).rateLimit.limit).toBe(777);
    const restored = (await setLimit('whu', null)).setRateLimit;
    expect(restored).toMatchObject({ pointsPerHour: DEFAULT_BUDGET, isDefault: true });
    expect((await tp.as('bob', RATE)).rateLimit.limit).toBe(DEFAULT_BUDGET);
  });
});

describe('a small tenant budget spent to the point', () => {
  it('passes up to the budget, refuses past it with RATE_LIMITED and the reset time, on HTTP and WebSocket', async () => {
    await setLimit('iqiyi', 10);
    const token = await tp.token('carol');
    for (let i = 0; i < 7; i++) expect((await tp.gql(costing(1), {}, { token })).errors).toBeUndefined();
    expect(headersOf(await tp.gql(`{ __typename }`, {}, { token: await tp.token('carol') })).remaining).toBe(2);

    // 2 left: a 3-point operation is refused and spends nothing …
    const tooDear = await tp.gql(costing(3), {}, { token });
    expect(tooDear.status).toBe(429);
    expect(tooDear.errors?.[0].extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 10, remaining: 2, cost: 3 });
    // … so exactly the 2 left can still be spent.
    const last = await tp.gql(costing(2), {}, { token });
    expect(last.errors).toBeUndefined();
    expect(headersOf(last)).toMatchObject({ remaining: 0, used: 10, limit: 10 });

    const refused = await tp.gql(costing(1), {}, { token });
    expect(refused.status).toBe(429);
    expect(refused.data ?? null).toBeNull();
    const error = refused.errors![0];
    expect(error.extensions).toMatchObject({ code: 'RATE_LIMITED', limit: 10, remaining: 0, cost: 1 });
    const resetAt = Date.parse(error.extensions!.resetAt);
    expect(resetAt % 3_600_000).toBe(0);
    expect(error.message).toContain(error.extensions!.resetAt);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(headersOf(refused)).toMatchObject({ present: true, remaining: 0, reset: resetAt / 1000 });

    const ws = await connectedClient(tp, 'carol');
    try {
      const overWs = await wsRun(ws, costing(1));
      expect(overWs.errors?.[0].extensions).toMatchObject({ code: 'RATE_LIMITED', remaining: 0, resetAt: error.extensions!.resetAt });
    } finally {
      await ws.dispose();
    }

    // Another tenant is untouched.
    const bob = await tp.gql(RATE, {}, { token: await tp.token('bob') });
    expect(bob.errors).toBeUndefined();
    expect(bob.data!.rateLimit.limit).toBe(DEFAULT_BUDGET);
  });

  it('refuses an operation dearer than the whole budget, saying so', async () => {
    await setLimit('iqiyi', 5);
    const res = await tp.gql(costing(6), {}, { token: await tp.token('carol') });
    expect(res.errors?.[0].extensions).toMatchObject({ code: 'RATE_LIMITED', cost: 6, limit: 5 });
    expect(res.errors?.[0].message).toMatch(/more than the whole hourly budget/);
  });
});

describe('WebSocket operations', () => {
  it('spend from the same budget as HTTP, charged when they are subscribed', async () => {
    const token = await tp.token('erin');
    const before = headersOf(await tp.gql(RATE, {}, { token }));
    const ws = await connectedClient(tp, 'erin');
    try {
      const result = await wsRun(ws, `{ rateLimit { cost used remaining } ${costing(4).slice(1, -1)} }`);
      expect(result.data!.rateLimit).toMatchObject({ cost: 5, used: before.used + 5 });
    } finally {
      await ws.dispose();
    }
    const after = headersOf(await tp.gql(RATE, {}, { token }));
    expect(after.used).toBe(before.used + 5 + 1);
  });
});

describe('subscriptions', () => {
  it('are charged their cost once, when they subscribe', async () => {
    const token = await tp.token('erin');
    // An invalid document reports the budget without spending any: a free probe.
    const probe = async () => headersOf(await tp.gql(`{ nope }`, {}, { token })).used;
    const before = await probe();
    const ws = await connectedClient(tp, 'erin');
    try {
      ws.subscribe({ query: 'subscription { quotaChanged { period budgetUnits } }' }, { next: () => undefined, error: () => undefined, complete: () => undefined });
      let used = before;
      while (used === before) used = await probe();
      expect(used).toBe(before + 1); // quotaChanged: one object
      expect(await probe()).toBe(before + 1); // and nothing more while it stays open
    } finally {
      await ws.dispose();
    }
  });
});

describe('callers without an acting tenant', () => {
  it('are limited per user, apart from every tenant', async () => {
    const admin = await tp.token('admin');
    const alice = await tp.token('alice');
    const aliceBefore = headersOf(await tp.gql(RATE, {}, { token: alice }));
    // 1 + 9 × (1 + 99 × 1) = 901 of the admin's own 1000.
    const dear = `{ tenants(first: 9) { edges { node { members(first: 99) { edges { node { user { username } } } } } } } }`;
    const spent = await tp.gql(`${dear.slice(0, -1)} rateLimit { cost used limit } }`, {}, { token: admin });
    expect(spent.errors).toBeUndefined();
    expect(spent.data!.rateLimit).toMatchObject({ cost: 902, limit: DEFAULT_BUDGET });
    const again = await tp.gql(dear, {}, { token: admin });
    expect(again.status).toBe(429);
    expect(again.errors?.[0].message).toMatch(/user admin/);
    // casia's budget did not move.
    expect(headersOf(await tp.gql(RATE, {}, { token: alice })).used).toBe(aliceBefore.used + 1);
  });
});

describe('two API processes on one database', () => {
  let tp2: TestPlatform;
  beforeAll(async () => {
    tp2 = await startSecondPlatform(tp, { RATE_LIMIT_POINTS_PER_HOUR: String(DEFAULT_BUDGET) });
  });
  afterAll(async () => {
    await tp2?.close();
  });

  it('spend from one budget: concurrent operations on both admit exactly the budget', async () => {
    const used = headersOf(await tp.gql(RATE, {}, { token: await tp.token('alice') })).used;
    await setLimit('casia', used + 20);
    const [t1, t2] = [await tp.token('alice'), await tp2.token('alice')];
    const results = await Promise.all(Array.from({ length: 40 }, (_, i) =>
      (i % 2 ? tp2 : tp).gql(costing(1), {}, { token: i % 2 ? t2 : t1 })));
    const admitted = results.filter((r) => r.status === 200 && !r.errors);
    const refused = results.filter((r) => r.status === 429 && r.errors?.[0].extensions?.code === 'RATE_LIMITED');
    expect(admitted).toHaveLength(20);
    expect(refused).toHaveLength(20);
    // Both processes see the same, exhausted, budget.
    for (const platform of [tp, tp2]) {
      const h = headersOf(await platform.gql(costing(1), {}, { token: platform === tp ? t1 : t2 }));
      expect(h).toMatchObject({ remaining: 0, used: used + 20, limit: used + 20 });
    }
    // The admin's change on one process applies on the other at once.
    await setLimit('casia', used + 21, tp2);
    expect((await tp.gql(costing(1), {}, { token: t1 })).errors).toBeUndefined();
  });
});
