// Row-level security itself, not the application code, keeps tenants apart: queries without any
// WHERE clause, on the app role, see only the scoped tenant's rows; the role cannot escape.
import { Client } from 'pg';
import { startTestPlatform, type TestPlatform } from './harness/test-platform';

let tp: TestPlatform;
let appUrl: string;

beforeAll(async () => {
  tp = await startTestPlatform();
  const u = new URL(tp.database.ownerUrl);
  u.username = 'alliance_app';
  u.password = process.env.APP_DATABASE_PASSWORD!;
  appUrl = u.toString();
});
afterAll(async () => {
  await tp?.close();
});

async function asApp<T>(settings: Record<string, string>, work: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: appUrl });
  await client.connect();
  try {
    await client.query('BEGIN');
    for (const [k, v] of Object.entries(settings)) await client.query('SELECT set_config($1, $2, true)', [k, v]);
    return await work(client);
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
    await client.end();
  }
}

async function tenantIds(): Promise<Record<string, string>> {
  const owner = new Client({ connectionString: tp.database.ownerUrl });
  await owner.connect();
  try {
    const rows = (await owner.query('SELECT id, slug FROM tenant')).rows;
    return Object.fromEntries(rows.map((r) => [r.slug, r.id]));
  } finally {
    await owner.end();
  }
}

it('a transaction scoped to tenant A sees none of B’s rows, with no WHERE clause', async () => {
  const ids = await tenantIds();
  // Write something tenant-owned for both tenants through the API (audit events from membership changes).
  await tp.token('dave');
  await tp.as('alice', `mutation { addMember(tenantSlug: "casia", username: "dave", role: ADMIN) { role } }`);
  await tp.token('erin');
  await tp.as('bob', `mutation { addMember(tenantSlug: "whu", username: "erin", role: MEMBER) { role } }`);

  const seen = await asApp({ 'app.tenant_id': ids.casia }, async (c) => ({
    tenants: (await c.query('SELECT slug FROM tenant')).rows.map((r) => r.slug),
    memberships: (await c.query('SELECT DISTINCT tenant_id FROM membership')).rows.map((r) => r.tenant_id),
    audit: (await c.query('SELECT DISTINCT tenant_id FROM audit_event')).rows.map((r) => r.tenant_id),
  }));
  expect(seen.tenants).toEqual(['casia']);
  expect(seen.memberships).toEqual([ids.casia]);
  expect(seen.audit).toEqual([ids.casia]);
});

it('with no tenant set, the app role sees no tenant-owned rows at all', async () => {
  const counts = await asApp({}, async (c) => ({
    tenant: (await c.query('SELECT count(*)::int AS n FROM tenant')).rows[0].n,
    membership: (await c.query('SELECT count(*)::int AS n FROM membership')).rows[0].n,
    audit: (await c.query('SELECT count(*)::int AS n FROM audit_event')).rows[0].n,
  }));
  expect(counts).toEqual({ tenant: 0, membership: 0, audit: 0 });
});

it('the app role cannot write into another tenant', async () => {
  const ids = await tenantIds();
  await expect(asApp({ 'app.tenant_id': ids.casia }, (c) => c.query(
    `INSERT INTO audit_event (tenant_id, action) VALUES ($1, 'forged')`, [ids.whu]))).rejects.toThrow(/row-level security/);
  await expect(asApp({ 'app.tenant_id': ids.casia }, async (c) => {
    const res = await c.query(`DELETE FROM membership WHERE tenant_id = $1`, [ids.whu]);
    return res.rowCount;
  })).resolves.toBe(0);
});

it('the app role is not owner, not superuser, has no BYPASSRLS, and cannot switch RLS off', async () => {
  await asApp({}, async (c) => {
    const role = (await c.query(`SELECT rolsuper, rolbypassrls, rolcreaterole FROM pg_roles WHERE rolname = current_user`)).rows[0];
    expect(role).toEqual({ rolsuper: false, rolbypassrls: false, rolcreaterole: false });
    const owned = (await c.query(`SELECT count(*)::int AS n FROM pg_tables WHERE tableowner = current_user`)).rows[0].n;
    expect(owned).toBe(0);
    const forced = (await c.query(`SELECT relname FROM pg_class WHERE relname IN ('tenant','membership','audit_event','app_user')
      AND relrowsecurity AND relforcerowsecurity ORDER BY relname`)).rows.map((r) => r.relname);
    expect(forced).toEqual(['app_user', 'audit_event', 'membership', 'tenant']);
  });
  // row_security=off makes PostgreSQL raise instead of silently filtering: no bypass.
  await expect(asApp({}, async (c) => {
    await c.query('SET LOCAL row_security = off');
    return c.query('SELECT * FROM membership');
  })).rejects.toThrow(/row-level security/);
  await expect(asApp({}, (c) => c.query('ALTER TABLE membership DISABLE ROW LEVEL SECURITY'))).rejects.toThrow(/must be owner/);
  await expect(asApp({}, (c) => c.query('SET ROLE alliance_system'))).rejects.toThrow(/permission denied/);
});

it('every table in the schema has RLS enabled and forced', async () => {
  const owner = new Client({ connectionString: tp.database.ownerUrl });
  await owner.connect();
  try {
    const rows = (await owner.query(`SELECT relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind = 'r' AND c.relname <> 'migrations'
        AND NOT (c.relrowsecurity AND c.relforcerowsecurity)`)).rows;
    expect(rows).toEqual([]);
  } finally {
    await owner.end();
  }
});

it('cannot shadow tables with temporary ones: no TEMP right, definer functions search pg_temp last', async () => {
  await expect(asApp({}, (c) => c.query('CREATE TEMP TABLE dataset_grant (x int)'))).rejects.toThrow(/permission denied/);
  const owner = new Client({ connectionString: tp.database.ownerUrl });
  await owner.connect();
  try {
    const rows = (await owner.query(`SELECT p.proname, p.proconfig FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = 'public' AND p.prosecdef`)).rows;
    expect(rows.length).toBeGreaterThan(3);
    for (const r of rows) expect([r.proname, r.proconfig]).toEqual([r.proname, expect.arrayContaining(['search_path=pg_catalog, public, pg_temp'])]);
  } finally {
    await owner.end();
  }
});
