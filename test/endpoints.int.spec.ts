// A member uploads an ONNX model, registers it, deploys an endpoint and calls it — through real
// HTTP, real PostgreSQL with row-level security, and ONNX Runtime. Three tenants: casia (alice,
// dave), whu (bob, erin the VIEWER), iqiyi (carol).
import { Client } from 'pg';
import { loadConfig } from '../core/config';
import { startPlatform } from '../api/platform';
import { ledgerViolations } from '../tenants/ledger-invariants';
import { startTestPlatform, type TestPlatform } from './harness/test-platform';
import { counter } from './harness/platform-processes';
import { until } from './harness/wait';
import {
  DEPLOY, INFER, QUOTA, STOP, codes, deploy, floatInput, tensorModel, uniqueName,
} from './fixtures/model-factory';

let tp: TestPlatform;
beforeAll(async () => {
  tp = await startTestPlatform();
});
afterEach(async () => {
  expect(await tp.platform.db.withSystem('test: ledger invariants', (em) => ledgerViolations(em))).toEqual([]);
});
afterAll(async () => {
  await tp?.close();
});

async function infer(user: string, endpointId: string, inputs: unknown[], tenant?: string) {
  return tp.gql(INFER, { id: endpointId, inputs }, { token: await tp.token(user), tenant });
}

describe('a member model, end to end', () => {
  let endpointId: string;

  it('registers, deploys (READY, warmed) and answers with the tensor handler, charging measured time', async () => {
    const { version } = await tensorModel(tp, 'dave', 3);
    expect(version).toMatchObject({
      version: 1, handler: 'tensor',
      inputs: [{ name: 'x', type: 'float32', shape: [-1, 3] }],
      outputs: [{ name: 'y', type: 'float32', shape: [-1, 3] }],
    });
    const endpoint = await deploy(tp, 'dave', version.id, { maxBatchSize: 4, maxQueueDelayMs: 1 });
    expect(endpoint).toMatchObject({ status: 'READY', failureReason: null });
    endpointId = endpoint.id;

    const before = (await tp.as('dave', QUOTA)).quota;
    const res = await infer('dave', endpointId, [floatInput([[1, 2, 3]]), floatInput([[0.5, 0, -1], [2, 2, 2]])]);
    expect(res.errors).toBeUndefined();
    const result = res.data!.infer;
    expect(result.outputs).toEqual([
      { y: { type: 'float32', dims: [1, 3], data: [3, 6, 9] } },
      { y: { type: 'float32', dims: [2, 3], data: [1.5, 0, -3, 6, 6, 6] } },
    ]);
    expect(result.deviceSeconds).toBeGreaterThan(0);
    // Rounded up to the ledger's resolution: a request that ran is never free.
    expect(result.computeUnits).toBeGreaterThanOrEqual(0.001);
    expect(result.computeUnits).toBeCloseTo(Math.ceil(result.deviceSeconds * 1000 - 1e-9) / 1000, 6);
    const after = (await tp.as('dave', QUOTA)).quota;
    expect(after.usedUnits).toBeCloseTo(before.usedUnits + result.computeUnits, 6);
    expect(after.availableUnits).toBeCloseTo(before.availableUnits - result.computeUnits, 6);
  });

  it('aggregates usage per caller, endpoint, user and minute, and charges it in aggregated ledger entries', async () => {
    const casia = "(SELECT id FROM tenant WHERE slug = 'casia')";
    const usageEntries = () => tp.platform.db.withSystem('test: usage entries', (em) =>
      em.query(`SELECT count(*)::int AS n, coalesce(sum(units_milli), 0)::bigint AS milli FROM ledger_entry WHERE entry_key LIKE 'usage:%' AND tenant_id = ${casia}`));
    await tp.platform.holds.flush();
    const entriesBefore = (await usageEntries())[0].n;
    const results = await Promise.all([0, 1, 2].map(() => infer('dave', endpointId, [floatInput([[1, 1, 1]])])));
    for (const r of results) expect(r.errors).toBeUndefined();
    // The same process reads what it answered: a flush settles what is pending (tenants/quota-holds.ts).
    await tp.platform.holds.flush();
    const rows = await tp.platform.db.withSystem('test: usage rows', (em) =>
      em.query(`SELECT requests, items, units_milli FROM usage_record WHERE endpoint_id = $1`, [Buffer.from(endpointId, 'base64url').toString().split(':')[1]]));
    // Normally one row; two when the requests straddled a minute boundary.
    expect(rows.length).toBeLessThanOrEqual(2);
    expect(rows.reduce((n: number, r: any) => n + r.requests, 0)).toBe(4);
    expect(rows.reduce((n: number, r: any) => n + r.items, 0)).toBe(5);
    const ledger = await usageEntries();
    // Three concurrent requests are settled together: fewer CAPTUREs than requests.
    expect(ledger[0].n - entriesBefore).toBeGreaterThanOrEqual(1);
    expect(ledger[0].n - entriesBefore).toBeLessThan(3);
    expect(Number(ledger[0].milli)).toBe(rows.reduce((n: number, r: any) => n + Number(r.units_milli), 0));
  });

  it('refuses bad tensors, unknown names and an empty input list with BAD_USER_INPUT, and charges nothing', async () => {
    const before = (await tp.as('dave', QUOTA)).quota.usedUnits;
    const cases: [unknown[], RegExp][] = [
      [[{ z: { type: 'float32', dims: [1, 3], data: [1, 2, 3] } }], /unknown input 'z'/],
      [[{}], /missing input 'x'/],
      [[{ x: { type: 'float32', dims: [1, 4], data: [1, 2, 3, 4] } }], /x/],
      [[{ x: { type: 'float32', dims: [1, 3], data: [1, 2] } }], /x/],
      [[floatInput([[1, 2, 3]]), { x: { type: 'int64', dims: [1, 3], data: [1, 2, 3] } }], /inputs\[1\]/],
      [[], /inputs is empty/],
    ];
    for (const [inputs, message] of cases) {
      const res = await infer('dave', endpointId, inputs);
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
      expect(res.errors![0].message).toMatch(message);
    }
    expect((await tp.as('dave', QUOTA)).quota.usedUnits).toBe(before);
    // The runtime is unharmed.
    expect((await infer('dave', endpointId, [floatInput([[1, 2, 3]])])).errors).toBeUndefined();
  });

  it('the runtime runs without GraphQL: per-item outputs and errors for batch jobs, one failure for sync calls', async () => {
    const uuid = Buffer.from(endpointId, 'base64url').toString().split(':')[1];
    const bad = { x: { type: 'float32', dims: [1, 3], data: [1, 2] } };
    const isolated = await tp.platform.models.runtime.infer(uuid, [floatInput([[1, 1, 1]]), bad, floatInput([[2, 2, 2]])], { isolateFailures: true });
    expect(isolated.items.map((i) => (i.error ? i.error.code : (i.output as any).y.data))).toEqual([[3, 3, 3], 'BAD_INPUT', [6, 6, 6]]);
    expect(isolated.items[1].error!.message).toMatch(/^inputs\[1\]: /);
    expect(isolated.deviceSeconds).toBeGreaterThan(0);
    await expect(tp.platform.models.runtime.infer(uuid, [floatInput([[1, 1, 1]]), bad])).rejects.toMatchObject({ code: 'BAD_INPUT', inputIndex: 1 });
  });

  it('a VIEWER may look but not call (inference costs its tenant money)', async () => {
    const { version } = await tensorModel(tp, 'bob', 2, 'PRIVATE');
    const endpoint = await deploy(tp, 'bob', version.id);
    const res = await infer('erin', endpoint.id, [floatInput([[1, 2, 3]])]);
    expect(codes(res)).toEqual(['FORBIDDEN']);
    const seen = await tp.as('erin', `{ endpoints { edges { node { id } } } }`);
    expect(seen.endpoints.edges.map((e: any) => e.node.id)).toContain(endpoint.id);
  });
});

describe('visibility: an endpoint is callable iff its model is visible', () => {
  it("another tenant's PRIVATE-model endpoint is NOT_FOUND everywhere, like an id that never existed", async () => {
    const { version, model } = await tensorModel(tp, 'carol', 5, 'PRIVATE');
    const endpoint = await deploy(tp, 'carol', version.id);
    const missing = Buffer.from('Endpoint:00000000-0000-4000-8000-000000000000').toString('base64url');
    const foreign = await infer('alice', endpoint.id, [floatInput([[1, 2, 3]])]);
    const never = await infer('alice', missing, [floatInput([[1, 2, 3]])]);
    expect(codes(foreign)).toEqual(['NOT_FOUND']);
    expect(foreign.errors![0].message.replace(endpoint.id, 'X')).toBe(never.errors![0].message.replace(missing, 'X'));
    for (const id of [endpoint.id, version.id, model.id]) {
      const res = await tp.gql(`query($id: ID!) { node(id: $id) { id } }`, { id }, { token: await tp.token('alice') });
      expect(codes(res)).toEqual(['NOT_FOUND']);
    }
    const listed = await tp.as('alice', `{ endpoints(first: 100) { edges { node { id } } } models(first: 100) { edges { node { id } } } }`);
    expect(listed.endpoints.edges.map((e: any) => e.node.id)).not.toContain(endpoint.id);
    expect(listed.models.edges.map((e: any) => e.node.id)).not.toContain(model.id);
    // Nor can it be stopped, or deployed again by the other tenant.
    expect(codes(await tp.gql(STOP, { id: endpoint.id }, { token: await tp.token('alice') }))).toEqual(['NOT_FOUND']);
    const redeploy = await tp.gql(DEPLOY, { input: { modelVersionId: version.id, name: uniqueName('steal') } }, { token: await tp.token('alice') });
    expect(codes(redeploy)).toEqual(['NOT_FOUND']);
    // The owner calls it.
    expect((await infer('carol', endpoint.id, [floatInput([[1, 2, 3]])])).data!.infer.outputs[0].y.data).toEqual([5, 10, 15]);
  });

  it('an ALLIANCE model is callable by every member, charged to the caller; only the owner stops it', async () => {
    const { version } = await tensorModel(tp, 'alice', 7, 'ALLIANCE');
    const endpoint = await deploy(tp, 'alice', version.id);
    const casiaBefore = (await tp.as('alice', QUOTA)).quota.usedUnits;
    const iqiyiBefore = (await tp.as('carol', QUOTA)).quota.usedUnits;
    const res = await infer('carol', endpoint.id, [floatInput([[1, 0, 0]])]);
    expect(res.data!.infer.outputs[0].y.data).toEqual([7, 0, 0]);
    expect((await tp.as('carol', QUOTA)).quota.usedUnits).toBeCloseTo(iqiyiBefore + res.data!.infer.computeUnits, 6);
    expect((await tp.as('alice', QUOTA)).quota.usedUnits).toBe(casiaBefore);
    const listed = await tp.as('carol', `{ endpoints(first: 100) { edges { node { id owner { slug } modelVersion { model { owner { slug } visibility } } } } } }`);
    expect(listed.endpoints.edges.find((e: any) => e.node.id === endpoint.id).node).toMatchObject({
      owner: { slug: 'casia' }, modelVersion: { model: { owner: { slug: 'casia' }, visibility: 'ALLIANCE' } },
    });
    expect(codes(await tp.gql(STOP, { id: endpoint.id }, { token: await tp.token('carol') }))).toEqual(['FORBIDDEN']);
  });

  it('the model owner can count usage of its endpoints by other tenants; the caller reads its own; a third tenant neither', async () => {
    const { version } = await tensorModel(tp, 'bob', 11, 'ALLIANCE');
    const endpoint = await deploy(tp, 'bob', version.id);
    expect((await infer('carol', endpoint.id, [floatInput([[1, 1, 1]])])).errors).toBeUndefined();
    await tp.platform.holds.flush();
    const endpointUuid = Buffer.from(endpoint.id, 'base64url').toString().split(':')[1];
    const ids: Record<string, string> = Object.fromEntries((await tp.platform.db.withSystem('test', (em) => em.query('SELECT slug, id FROM tenant')))
      .map((r: any) => [r.slug, r.id]));
    const u = new URL(tp.database.ownerUrl);
    u.username = 'alliance_app';
    u.password = process.env.APP_DATABASE_PASSWORD!;
    const countAs = async (slug: string) => {
      const client = new Client({ connectionString: u.toString() });
      await client.connect();
      try {
        await client.query('BEGIN');
        await client.query(`SELECT set_config('app.tenant_id', $1, true)`, [ids[slug]]);
        return (await client.query(`SELECT count(*)::int AS n FROM usage_record WHERE endpoint_id = $1`, [endpointUuid])).rows[0].n;
      } finally {
        await client.query('ROLLBACK');
        await client.end();
      }
    };
    expect(await countAs('iqiyi')).toBe(1);
    expect(await countAs('whu')).toBe(1);
    expect(await countAs('casia')).toBe(0);
  });
});

describe("infer's early lookup (started while the rate limit is checked)", () => {
  // api/graphql/infer-lookahead.ts reads the endpoint before the operation is admitted. These
  // are the answers it must not change: ids written into the document as well as in variables,
  // row-level security, malformed ids, and an operation the budget refuses running nothing.
  const literal = (id: string) => `mutation { infer(endpointId: ${JSON.stringify(id)}, inputs: [{ x: { type: "float32", dims: [1, 3], data: [1, 2, 3] } }]) { outputs computeUnits } }`;

  it('reads the id from the document as from variables, under the caller\'s row-level security', async () => {
    const { version } = await tensorModel(tp, 'carol', 3, 'PRIVATE');
    const endpoint = await deploy(tp, 'carol', version.id);
    const own = await tp.gql(literal(endpoint.id), {}, { token: await tp.token('carol') });
    expect(own.errors).toBeUndefined();
    expect(own.data!.infer.outputs[0].y.data).toEqual([3, 6, 9]);
    const foreign = await tp.gql(literal(endpoint.id), {}, { token: await tp.token('alice') });
    expect(codes(foreign)).toEqual(['NOT_FOUND']);
    const malformed = await tp.gql(literal('not-an-id'), {}, { token: await tp.token('carol') });
    expect(codes(malformed)).toEqual(['BAD_USER_INPUT']);
    // Not the only root field: no early lookup, the same answers.
    const two = await tp.gql(`mutation($id: ID!) { a: infer(endpointId: $id, inputs: [{ x: { type: "float32", dims: [1, 3], data: [1, 1, 1] } }]) { outputs }
      b: infer(endpointId: $id, inputs: [{ x: { type: "float32", dims: [1, 3], data: [2, 2, 2] } }]) { outputs } }`, { id: endpoint.id }, { token: await tp.token('carol') });
    expect(two.errors).toBeUndefined();
    expect([two.data!.a.outputs[0].y.data, two.data!.b.outputs[0].y.data]).toEqual([[3, 3, 3], [6, 6, 6]]);
  });

  it('repeated calls are answered from memory: far fewer hot-path round trips than calls (alliance_db_hot_path_seconds)', async () => {
    const { version } = await tensorModel(tp, 'carol', 3, 'PRIVATE');
    const endpoint = await deploy(tp, 'carol', version.id);
    const token = await tp.token('carol');
    const count = (fn: string) => counter(tp.url, 'alliance_db_hot_path_seconds_count', `function="${fn}"`);
    const calls = async () => ({ lease: await count('app_rate_limit_lease'), lookup: await count('app_infer_endpoint'), take: await count('app_quota_hold_take') });
    const before = await calls();
    for (let i = 0; i < 20; i++) expect((await tp.gql(literal(endpoint.id), {}, { token })).errors).toBeUndefined();
    const after = await calls();
    // The endpoint is looked up once (then cached until the catalog changes); the rate limit is
    // spent from leases and the compute budget from a hold, both growing with the caller's rate.
    expect(after.lookup - before.lookup).toBeLessThanOrEqual(1);
    expect(after.lease - before.lease).toBeLessThan(10);
    expect(after.take - before.take).toBeLessThan(10);
    expect(after.lookup + after.lease + after.take - (before.lookup + before.lease + before.take)).toBeLessThan(20);
  });

  it('an infer the hourly budget refuses runs nothing and charges nothing', async () => {
    const { version } = await tensorModel(tp, 'carol', 2, 'PRIVATE');
    const endpoint = await deploy(tp, 'carol', version.id);
    const uuid = Buffer.from(endpoint.id, 'base64url').toString().split(':')[1];
    const usageRows = async () => (await tp.platform.holds.flush(), tp.platform.db.withSystem('test: usage of one endpoint', (em) =>
      em.query(`SELECT coalesce(sum(requests), 0)::int AS requests FROM usage_record WHERE endpoint_id = $1`, [uuid])));
    const setLimit = (points: number | null) => tp.as('admin', `mutation($points: Int) { setRateLimit(tenantSlug: "iqiyi", pointsPerHour: $points) { pointsPerHour } }`, { points });
    const before = (await tp.as('carol', QUOTA)).quota;
    const used = Number((await tp.gql(`{ __typename }`, {}, { token: await tp.token('carol') })).headers.get('x-ratelimit-used'));
    await setLimit(used);
    try {
      const refused = await tp.gql(literal(endpoint.id), {}, { token: await tp.token('carol') });
      expect(codes(refused)).toEqual(['RATE_LIMITED']);
    } finally {
      await setLimit(null);
    }
    expect(await usageRows()).toEqual([{ requests: 0 }]);
    expect((await tp.as('carol', QUOTA)).quota).toEqual(before);
    // The same call, admitted, runs and is charged.
    expect((await tp.gql(literal(endpoint.id), {}, { token: await tp.token('carol') })).data!.infer.outputs[0].y.data).toEqual([2, 4, 6]);
    expect(await usageRows()).toEqual([{ requests: 1 }]);
  });
});

describe('endpoint lifecycle', () => {
  it('a stopped endpoint answers CONFLICT saying so; stopping twice is harmless; its name is free again', async () => {
    const { version } = await tensorModel(tp, 'dave', 2);
    const name = uniqueName('stoppable');
    const endpoint = await deploy(tp, 'dave', version.id, { name });
    const duplicate = await tp.gql(DEPLOY, { input: { modelVersionId: version.id, name } }, { token: await tp.token('dave') });
    expect(codes(duplicate)).toEqual(['CONFLICT']);
    expect((await tp.as('dave', STOP, { id: endpoint.id })).stopEndpoint.status).toBe('STOPPED');
    expect((await tp.as('dave', STOP, { id: endpoint.id })).stopEndpoint.status).toBe('STOPPED');
    const res = await infer('dave', endpoint.id, [floatInput([[1, 2, 3]])]);
    expect(codes(res)).toEqual(['CONFLICT']);
    expect(res.errors![0].message).toMatch(/is STOPPED/);
    expect(tp.platform.models.runtime.isDeployed(Buffer.from(endpoint.id, 'base64url').toString().split(':')[1])).toBe(false);
    expect((await deploy(tp, 'dave', version.id, { name })).status).toBe('READY');
  });

  it('an accelerator this process does not serve ends FAILED with the reason; an unknown one is BAD_USER_INPUT', async () => {
    const { version } = await tensorModel(tp, 'dave', 4);
    const failed = await deploy(tp, 'dave', version.id, { accelerator: 'h200' });
    expect(failed.status).toBe('FAILED');
    expect(failed.failureReason).toMatch(/accelerator 'h200'/);
    const res = await infer('dave', failed.id, [floatInput([[1, 2, 3]])]);
    expect(codes(res)).toEqual(['CONFLICT']);
    expect(res.errors![0].message).toMatch(/FAILED to deploy/);
    const unknown = await tp.gql(DEPLOY, { input: { modelVersionId: version.id, name: uniqueName('x'), accelerator: 'tpu-v9' } },
      { token: await tp.token('dave') });
    expect(codes(unknown)).toEqual(['BAD_USER_INPUT']);
    for (const bad of [{ maxBatchSize: 0 }, { maxQueueDelayMs: -1 }, { minReplicas: 2, maxReplicas: 1 }, { name: 'has space' }]) {
      const r = await tp.gql(DEPLOY, { input: { modelVersionId: version.id, name: uniqueName('x'), ...bad } }, { token: await tp.token('dave') });
      expect(codes(r)).toEqual(['BAD_USER_INPUT']);
    }
  });

  it('concurrent calls are batched together (batchSize > 1 in results and in /metrics)', async () => {
    const { version } = await tensorModel(tp, 'dave', 1);
    // A long delay: the batch goes when it is full, so four concurrent calls make one batch of four.
    const endpoint = await deploy(tp, 'dave', version.id, { maxBatchSize: 4, maxQueueDelayMs: 5000 });
    const results = await Promise.all([1, 2, 3, 4].map((v) => infer('dave', endpoint.id, [floatInput([[v, v, v]])])));
    results.forEach((res, i) => {
      expect(res.data!.infer.outputs[0].y.data).toEqual([i + 1, i + 1, i + 1]);
      expect(res.data!.infer.batchSize).toBe(4);
    });
    const metrics = await (await fetch(`${tp.url}/metrics`)).text();
    const label = `endpoint="casia/${endpoint.name}"`;
    expect(metrics).toMatch(new RegExp(`alliance_inference_batch_size_bucket\\{le="2",${label}\\} 0`));
    expect(metrics).toMatch(new RegExp(`alliance_inference_batch_size_bucket\\{le="4",${label}\\} 1`));
    expect(metrics).toMatch(new RegExp(`alliance_inference_requests_total\\{${label}\\} 4`));
  });
});

describe('quota', () => {
  it('an exhausted budget answers QUOTA_EXCEEDED with the numbers and charges nothing', async () => {
    const { version } = await tensorModel(tp, 'carol', 9);
    const endpoint = await deploy(tp, 'carol', version.id);
    expect((await infer('carol', endpoint.id, [floatInput([[1, 2, 3]])])).errors).toBeUndefined();
    const used = (await tp.as('carol', QUOTA)).quota.usedUnits;
    // The admin lowers iqiyi's budget to what it has used: nothing is left.
    await tp.as('admin', `mutation($input: SetQuotaInput!) { setQuota(input: $input) { availableUnits } }`,
      { input: { tenantSlug: 'iqiyi', budgetUnits: used, guaranteedDevices: 1, borrowLimitDevices: 2 } });
    const res = await infer('carol', endpoint.id, [floatInput([[1, 2, 3]])]);
    expect(codes(res)).toEqual(['QUOTA_EXCEEDED']);
    expect(res.errors![0].extensions).toMatchObject({ availableUnits: 0, usedUnits: used });
    expect(res.errors![0].extensions!.requestedUnits).toBeGreaterThan(0);
    expect((await tp.as('carol', QUOTA)).quota).toMatchObject({ usedUnits: used, availableUnits: 0 });
  });
});

describe('quotaChanged', () => {
  it("follows synchronous charges: the caller's subscribers see the new totals, coalesced; another tenant's see nothing", async () => {
    const { version } = await tensorModel(tp, 'alice', 5, 'ALLIANCE');
    const endpoint = await deploy(tp, 'alice', version.id);
    const watch = async (user: string) => {
      const updates: Array<{ usedUnits: number; tenant: { slug: string } }> = [];
      const client = tp.wsClient({ authorization: `Bearer ${await tp.token(user)}` });
      const subscribed = new Promise<void>((resolve) => client.on('connected', () => resolve()));
      client.subscribe({ query: `subscription { quotaChanged { usedUnits tenant { slug } } }` },
        { next: (v: any) => updates.push(v.data.quotaChanged), error: () => undefined, complete: () => undefined });
      await subscribed;
      return { updates, client };
    };
    const bob = await watch('bob');
    const carol = await watch('carol');
    await new Promise((r) => setTimeout(r, 300)); // both subscriptions registered server-side
    // The earlier tests charged iqiyi: its last notice may still be owed (notices are coalesced to
    // one per 250 ms, with a trailing one). Let it arrive, then count from a quiet start.
    for (let seen = -1; seen !== carol.updates.length;) {
      seen = carol.updates.length;
      await new Promise((r) => setTimeout(r, 500));
    }
    carol.updates.length = 0;
    const before = (await tp.as('bob', QUOTA)).quota.usedUnits;
    // A burst of calls: a notice per call would be a NOTIFY per call; the totals are what matter.
    const results = await Promise.all(Array.from({ length: 12 }, () => infer('bob', endpoint.id, [floatInput([[1, 2, 3]])])));
    const charged = results.reduce((sum, r) => sum + r.data!.infer.computeUnits, 0);
    const expected = before + charged;
    try {
      // The trailing notice carries the burst's final total.
      await until('the final total on bob\'s subscription', async () =>
        bob.updates.some((u) => Math.abs(u.usedUnits - expected) < 1e-6), 10_000);
      expect(bob.updates.every((u) => u.tenant.slug === 'whu')).toBe(true);
      expect(bob.updates.length).toBeLessThan(12);
      expect(carol.updates).toEqual([]);
    } finally {
      await bob.client.dispose();
      await carol.client.dispose();
    }
  });
});

describe('restart', () => {
  it('READY endpoints are deployed again (warm) when the platform starts on the same database', async () => {
    const { version } = await tensorModel(tp, 'alice', 6, 'ALLIANCE');
    const endpoint = await deploy(tp, 'alice', version.id);
    const stopped = await deploy(tp, 'alice', version.id);
    await tp.as('alice', STOP, { id: stopped.id });
    const second = await startPlatform(loadConfig({
      NODE_ENV: 'test', PORT: '0', HOST: '127.0.0.1', DATABASE_URL: tp.database.ownerUrl,
      APP_DATABASE_PASSWORD: process.env.APP_DATABASE_PASSWORD, SYSTEM_DATABASE_PASSWORD: process.env.SYSTEM_DATABASE_PASSWORD,
      DATA_DIR: tp.platform.config.dataDir, LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent', JWKS_COOLDOWN_SEC: '0',
    }), { seedDemo: false });
    try {
      const uuid = (id: string) => Buffer.from(id, 'base64url').toString().split(':')[1];
      expect(second.models.runtime.isDeployed(uuid(endpoint.id))).toBe(true);
      expect(second.models.runtime.isDeployed(uuid(stopped.id))).toBe(false);
      // A token of the second platform's own realm (its issuer is its own origin).
      const tokenRes = await fetch(`${second.issuer}/protocol/openid-connect/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'password', client_id: 'alliance-cli', username: 'bob', password: 'bob' }),
      });
      const token = ((await tokenRes.json()) as { access_token: string }).access_token;
      const res = await fetch(`${second.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify({ query: INFER, variables: { id: endpoint.id, inputs: [floatInput([[1, 2, 3]])] } }),
      });
      const body = (await res.json()) as { data?: any; errors?: unknown };
      expect(body.errors).toBeUndefined();
      expect(body.data.infer.outputs[0].y.data).toEqual([6, 12, 18]);
    } finally {
      await second.close();
    }
  });
});
