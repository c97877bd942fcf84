// The per-process cache of the endpoint as a caller's tenant sees it
// (resolvers/endpoints/infer-target-cache.ts), against real PostgreSQL and two real API
// processes on one database. Changes are made as members make them (GraphQL), or in the
// database itself where no mutation exists (a model's visibility) — the triggers must announce
// both. Tenants: casia (alice), whu (bob), iqiyi (carol).
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { createTokenVerifier } from '../api/auth/token-verifier';
import { fromGlobalId } from '../core/global-id';
import type { InferTargetCache } from '../resolvers/endpoints/infer-target-cache';
import { IdentityService } from '../tenants/identity';
import { CHANNELS } from '../tenants/job-events';
import type { RequestScope } from '../tenants/request-scope';
import { STOP, deploy, tensorModel } from './fixtures/model-factory';
import { changeWhileListenerIsCut } from './harness/listener-cut';
import { counter } from './harness/platform-processes';
import { startSecondPlatform } from './harness/second-platform';
import { startTestPlatform, type TestPlatform } from './harness/test-platform';
import { until } from './harness/wait';

let tp: TestPlatform;
let tp2: TestPlatform;
let owner: Client;
const scopes = new Map<string, RequestScope>();

beforeAll(async () => {
  tp = await startTestPlatform();
  tp2 = await startSecondPlatform(tp);
  owner = new Client({ connectionString: tp.database.ownerUrl });
  await owner.connect();
  // Scopes built as the platform builds a request's (api/graphql/context.ts): a real token from
  // the realm, verified, then the user's memberships choose the acting tenant. The database is
  // shared, so one scope serves both processes.
  const verifier = createTokenVerifier({ issuer: tp.platform.issuer, audience: tp.platform.config.keycloakAudience, cacheSeconds: 0 });
  const identities = new IdentityService(tp.platform.db);
  for (const user of ['alice', 'bob', 'carol']) {
    const scope = await identities.resolveScope(await verifier.verify(await tp.token(user)));
    expect(scope.tenant).toBeDefined();
    scopes.set(user, scope);
  }
});
afterAll(async () => {
  await owner?.end();
  await tp2?.close();
  await tp?.close();
});

const cacheOf = (p: TestPlatform): InferTargetCache => p.platform.inferTargetCache;
const scope = (user: string): RequestScope => scopes.get(user)!;
const uuid = (globalId: string, type = 'Endpoint'): string => fromGlobalId(globalId, type);
const tenantOf = (user: string): string => scope(user).tenant!.tenantId;
/** Lookups that went to the database in that process. */
const lookups = (p: TestPlatform) => counter(p.url, 'alliance_db_hot_path_seconds_count', 'function="app_infer_endpoint"');

/**
 * Returns once every notice committed so far has been handled by the processes' listeners.
 * PostgreSQL delivers notices in commit order on one queue per database, so a marker sent now
 * arrives after all of them. It rides the membership channel: the identity cache forgets an
 * unknown user id as a no-op, so the marker changes nothing — in particular it does not empty
 * the endpoint cache, which would hide a missing trigger.
 */
async function noticesHandled(...platforms: TestPlatform[]): Promise<void> {
  const marker = randomUUID();
  const arrived = platforms.map((p) => new Promise<void>((resolve) => {
    const off = p.platform.jobs.listener.on(CHANNELS.membership, (payload) => {
      if (payload === marker) {
        off();
        resolve();
      }
    });
  }));
  await owner.query(`SELECT pg_notify($1, $2)`, [CHANNELS.membership, marker]);
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    Promise.all(arrived),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('notices were not delivered within 10 s')), 10_000); }),
  ]).finally(() => clearTimeout(timer));
}

/** Gets twice: the second answer must come from memory. Returns the answer. */
async function warm(p: TestPlatform, user: string, endpointId: string) {
  const first = await cacheOf(p).get(scope(user), endpointId);
  const before = await lookups(p);
  const again = await cacheOf(p).get(scope(user), endpointId);
  expect(await lookups(p)).toBe(before);
  expect(again).toBe(first);
  return first;
}

async function share(ownerUser: string, modelId: string, tenantSlug: string, expiresAt?: Date): Promise<string> {
  const grant = await tp.as(ownerUser, `mutation($input: ShareModelInput!) { shareModel(input: $input) { id } }`,
    { input: { modelId, tenantSlug, expiresAt: expiresAt?.toISOString() } });
  return grant.shareModel.id;
}

async function tensorEndpoint(user: string, k: number, visibility: 'PRIVATE' | 'SHARED' | 'ALLIANCE') {
  const { model, version } = await tensorModel(tp, user, k, visibility);
  const endpoint = await deploy(tp, user, version.id);
  expect(endpoint.status).toBe('READY');
  return { modelId: model.id, versionId: version.id, endpointGlobalId: endpoint.id, id: uuid(endpoint.id), name: endpoint.name };
}

it('the key is complete: no policy the lookup passes through reads the user or the admin flag', async () => {
  // The cache keys entries by acting tenant only (see InferTargetCache). If a policy on these
  // tables starts reading another part of the identity, this fails and the key must grow.
  const { rows: policies } = await owner.query(
    `SELECT tablename, policyname, coalesce(qual, '') || ' ' || coalesce(with_check, '') AS expr FROM pg_policies
      WHERE tablename IN ('endpoint', 'model_version', 'model', 'model_grant') AND cmd IN ('SELECT', 'ALL')
        AND 'alliance_app' = ANY (roles)`);
  expect(policies.map((p) => p.policyname).sort()).toEqual(['endpoint_read', 'model_grant_owner', 'model_read', 'model_version_read']);
  const { rows: functions } = await owner.query(
    `SELECT proname, prosrc AS expr FROM pg_proc WHERE proname IN ('app_granted_model_ids', 'app_model_grant_expires_at')`);
  expect(functions).toHaveLength(2);
  for (const { expr } of [...policies, ...functions]) {
    expect(expr).not.toMatch(/app_user_id|app_is_alliance_admin|current_setting|current_user|session_user/);
  }
});

it('the schema announces the writes that can change an answer, and not the per-item time the platform keeps measuring', async () => {
  const ep = await tensorEndpoint('alice', 1, 'PRIVATE');
  const version = uuid(ep.versionId, 'ModelVersion');
  await noticesHandled(tp);
  let notices = 0;
  const off = tp.platform.jobs.listener.on(CHANNELS.catalog, () => { notices += 1; });
  const announced = async (sql: string, params: unknown[] = []): Promise<number> => {
    notices = 0;
    await owner.query(sql, params);
    await noticesHandled(tp);
    return notices;
  };
  try {
    expect(await announced(`UPDATE model_version SET per_item_device_seconds = 0.5 WHERE id = $1`, [version])).toBe(0);
    expect(await announced(`UPDATE model_version SET handler = handler WHERE id = $1`, [version])).toBe(1);
    // One notice per statement, however many rows it touched.
    expect(await announced(`UPDATE endpoint SET updated_at = now() WHERE tenant_id = $1`, [tenantOf('alice')])).toBe(1);
    expect(await announced(`UPDATE model SET license = license WHERE id = $1`, [uuid(ep.modelId, 'Model')])).toBe(1);
    const created = await tp.as('admin', `mutation { createTenant(input: { slug: "cache-gone", name: "Gone" }) { id } }`);
    expect(await announced(`DELETE FROM tenant WHERE id = $1`, [uuid(created.createTenant.id, 'Tenant')])).toBe(1);
    // A write that is rolled back announces nothing.
    await owner.query('BEGIN');
    await owner.query(`UPDATE endpoint SET updated_at = now() WHERE id = $1`, [ep.id]);
    await owner.query('ROLLBACK');
    expect(await announced(`SELECT 1`)).toBe(0);
  } finally {
    off();
  }
});

it('answers a repeated lookup from memory: the same answer, no round trip; concurrent misses share one', async () => {
  const ep = await tensorEndpoint('alice', 2, 'PRIVATE');
  await noticesHandled(tp); // the deployment's own notices (READY) are behind us
  const before = await lookups(tp);
  const first = await cacheOf(tp).get(scope('alice'), ep.id);
  expect(first).toEqual({
    id: ep.id, name: ep.name, status: 'READY', failure_reason: null, accelerator: 'cpu',
    model_version_id: uuid(ep.versionId, 'ModelVersion'), handler: 'tensor', per_item_device_seconds: expect.any(Number),
    model_id: uuid(ep.modelId, 'Model'), owner_tenant_id: tenantOf('alice'),
  });
  expect(await lookups(tp)).toBe(before + 1);
  for (let i = 0; i < 5; i++) expect(await cacheOf(tp).get(scope('alice'), ep.id)).toEqual(first);
  expect(await lookups(tp)).toBe(before + 1);

  // Concurrent misses for one key: one round trip, one answer.
  const other = await tensorEndpoint('alice', 3, 'PRIVATE');
  await noticesHandled(tp);
  const n = await lookups(tp);
  const answers = await Promise.all([1, 2, 3, 4].map(() => cacheOf(tp).get(scope('alice'), other.id)));
  expect(await lookups(tp)).toBe(n + 1);
  expect(new Set(answers).size).toBe(1);
  expect(answers[0]?.id).toBe(other.id);
});

it('a lookup that raced a drop neither stores its answer nor is joined by later callers', async () => {
  const ep = await tensorEndpoint('alice', 4, 'PRIVATE');
  await noticesHandled(tp);
  const cache = cacheOf(tp);
  // forgetAll is what a notice does; calling it directly puts it exactly while a lookup is in flight.
  let n = await lookups(tp);
  const early = cache.get(scope('alice'), ep.id);
  cache.forgetAll();
  const late = cache.get(scope('alice'), ep.id); // began after the drop: its own round trip
  expect((await early)?.id).toBe(ep.id);
  expect((await late)?.id).toBe(ep.id);
  expect(await lookups(tp)).toBe(n + 2);

  cache.forgetAll();
  n = await lookups(tp);
  const raced = cache.get(scope('alice'), ep.id);
  cache.forgetAll();
  expect((await raced)?.id).toBe(ep.id);
  await cache.get(scope('alice'), ep.id); // the raced answer was not stored: asked again
  expect(await lookups(tp)).toBe(n + 2);
  await cache.get(scope('alice'), ep.id); // and this one was
  expect(await lookups(tp)).toBe(n + 2);
});

it('stopEndpoint: the next lookup sees STOPPED, in the process that stopped it and in another', async () => {
  const ep = await tensorEndpoint('alice', 5, 'ALLIANCE');
  await noticesHandled(tp, tp2);
  for (const p of [tp, tp2]) expect((await warm(p, 'alice', ep.id))?.status).toBe('READY');
  // A caller of another tenant with its own entry (ALLIANCE: carol sees it too).
  for (const p of [tp, tp2]) expect((await warm(p, 'carol', ep.id))?.status).toBe('READY');

  expect((await tp.as('alice', STOP, { id: ep.endpointGlobalId })).stopEndpoint.status).toBe('STOPPED');
  await noticesHandled(tp, tp2);
  for (const p of [tp, tp2]) {
    for (const user of ['alice', 'carol']) {
      expect(await cacheOf(p).get(scope(user), ep.id)).toMatchObject({ id: ep.id, status: 'STOPPED' });
    }
  }
});

it('a revoked grant hides the endpoint from the grantee at once, in both processes', async () => {
  const ep = await tensorEndpoint('bob', 6, 'SHARED');
  const grantId = await share('bob', ep.modelId, 'casia');
  await noticesHandled(tp, tp2);
  for (const p of [tp, tp2]) expect((await warm(p, 'alice', ep.id))?.owner_tenant_id).toBe(tenantOf('bob'));

  expect((await tp2.as('bob', `mutation($id: ID!) { revokeModelGrant(id: $id) }`, { id: grantId })).revokeModelGrant).toBe(true);
  await noticesHandled(tp, tp2);
  for (const p of [tp, tp2]) expect(await cacheOf(p).get(scope('alice'), ep.id)).toBeUndefined();
  // The owner still sees its endpoint.
  for (const p of [tp, tp2]) expect((await cacheOf(p).get(scope('bob'), ep.id))?.status).toBe('READY');
});

it.each(['SHARED', 'ALLIANCE'] as const)('a %s model made PRIVATE hides its endpoint from other tenants at once, in both processes', async (visibility) => {
  const ep = await tensorEndpoint('bob', visibility === 'SHARED' ? 7 : 8, visibility);
  if (visibility === 'SHARED') await share('bob', ep.modelId, 'iqiyi');
  await noticesHandled(tp, tp2);
  for (const p of [tp, tp2]) expect((await warm(p, 'carol', ep.id))?.id).toBe(ep.id);
  for (const p of [tp, tp2]) expect((await warm(p, 'bob', ep.id))?.id).toBe(ep.id);

  // No mutation changes a model's visibility: an operator's write, which the trigger announces all the same.
  await owner.query(`UPDATE model SET visibility = 'PRIVATE' WHERE id = $1`, [uuid(ep.modelId, 'Model')]);
  await noticesHandled(tp, tp2);
  for (const p of [tp, tp2]) {
    expect(await cacheOf(p).get(scope('carol'), ep.id)).toBeUndefined();
    expect((await cacheOf(p).get(scope('bob'), ep.id))?.id).toBe(ep.id);
  }
});

it('an entry seen through an expiring grant ends with the grant, with no write in between', async () => {
  const ep = await tensorEndpoint('bob', 9, 'SHARED');
  const expiresAt = new Date(Date.now() + 2_500);
  await share('bob', ep.modelId, 'iqiyi', expiresAt);
  await noticesHandled(tp, tp2);
  let catalogNotices = 0;
  const offs = [tp, tp2].map((p) => p.platform.jobs.listener.on(CHANNELS.catalog, () => { catalogNotices += 1; }));
  try {
    for (const p of [tp, tp2]) expect((await warm(p, 'carol', ep.id))?.id).toBe(ep.id);
    expect(Date.now()).toBeLessThan(expiresAt.getTime()); // the entries were cached while the grant was live

    // The test and the database share this machine's clock; 50 ms for the timestamp's rounding.
    await until('the grant to expire', async () => Date.now() > expiresAt.getTime() + 50, 10_000);
    for (const p of [tp, tp2]) {
      const n = await lookups(p);
      expect(await cacheOf(p).get(scope('carol'), ep.id)).toBeUndefined();
      expect(await lookups(p)).toBe(n + 1); // the entry had gone; the database said no
    }
    expect(catalogNotices).toBe(0);
  } finally {
    for (const off of offs) off();
  }
  // The owner's entry is not bounded by anyone's grant.
  expect((await cacheOf(tp).get(scope('bob'), ep.id))?.id).toBe(ep.id);
});

it("another tenant never sees a PRIVATE model's endpoint, and one tenant's entry is never served to another", async () => {
  const ep = await tensorEndpoint('alice', 10, 'PRIVATE');
  await noticesHandled(tp);
  // alice's entry first: same endpoint id, other tenants.
  expect((await warm(tp, 'alice', ep.id))?.id).toBe(ep.id);
  for (const user of ['bob', 'carol']) {
    const n = await lookups(tp);
    expect(await cacheOf(tp).get(scope(user), ep.id)).toBeUndefined();
    expect(await cacheOf(tp).get(scope(user), ep.id)).toBeUndefined();
    expect(await lookups(tp)).toBe(n + 2); // misses are asked every time, never remembered
  }
  // The other order: a miss remembered for bob would also be wrong for alice.
  const second = await tensorEndpoint('alice', 11, 'PRIVATE');
  await noticesHandled(tp);
  expect(await cacheOf(tp).get(scope('bob'), second.id)).toBeUndefined();
  expect((await cacheOf(tp).get(scope('alice'), second.id))?.id).toBe(second.id);

  // A SHARED model granted to one tenant: the grantee's entry is not the third tenant's.
  const shared = await tensorEndpoint('bob', 12, 'SHARED');
  await share('bob', shared.modelId, 'casia');
  await noticesHandled(tp);
  expect((await warm(tp, 'alice', shared.id))?.id).toBe(shared.id);
  expect(await cacheOf(tp).get(scope('carol'), shared.id)).toBeUndefined();
});

it('a lost LISTEN connection drops every entry once it is back (its notices may have been missed)', async () => {
  const ep = await tensorEndpoint('bob', 13, 'ALLIANCE');
  await noticesHandled(tp);
  expect((await warm(tp, 'carol', ep.id))?.id).toBe(ep.id);
  await changeWhileListenerIsCut(tp, owner, () =>
    owner.query(`UPDATE model SET visibility = 'PRIVATE' WHERE id = $1`, [uuid(ep.modelId, 'Model')]));
  expect(await cacheOf(tp).get(scope('carol'), ep.id)).toBeUndefined();
});
