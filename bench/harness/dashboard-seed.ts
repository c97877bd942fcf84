// Data for the dashboard-shaped reads (bench/graphql-read.bench.ts, test/load/): per demo tenant,
// `datasets` datasets with three versions each (two published, one draft), the SHARED ones
// granted to both other tenants, and `jobs` finished jobs on one stopped endpoint. Written in one
// transaction as the database owner with generate_series — the API would take minutes for the
// same rows, and the reads, not the writes, are what is measured.
//
// Rows of the three tenants interleave in created_at, so a page of any tenant's listing has
// other tenants' rows around it: a leak through row-level security would show up in it.
// Visibility by index i (1-based): i % 10 = 0 ALLIANCE, i % 10 in 1..4 SHARED, else PRIVATE.
import { Client } from 'pg';

export const DEMO_OWNERS = [
  { username: 'alice', tenant: 'casia' },
  { username: 'bob', tenant: 'whu' },
  { username: 'carol', tenant: 'iqiyi' },
] as const;

export interface SeedOptions {
  datasets: number;
  jobs: number;
  /**
   * PRIVATE datasets of whu with one published version each, older than everything else: rows
   * no other tenant may read, which a query filtering late (after scanning the table) still pays
   * for. 0 by default.
   */
  foreignPrivateVersions?: number;
}

export interface TenantTruth {
  slug: string;
  tenantId: string;
  /** Datasets of other tenants this tenant may read: ALLIANCE ones and SHARED ones granted to it. */
  foreignReadableDatasetIds: Set<string>;
  ownDatasets: number;
  ownJobs: number;
}

/** Seeds once per database; returns what each tenant may see, read back from the tables. */
export async function seedDashboardData(ownerUrl: string, opts: SeedOptions): Promise<Map<string, TenantTruth>> {
  const c = new Client({ connectionString: ownerUrl });
  await c.connect();
  try {
    await c.query('BEGIN');
    await c.query(`CREATE TEMP TABLE seed_tenant ON COMMIT DROP AS
      SELECT t.id, t.slug, u.id AS user_id, k.n
        FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS k(slug, username, n)
        JOIN tenant t ON t.slug = k.slug JOIN app_user u ON u.username = k.username`,
    [DEMO_OWNERS.map((o) => o.tenant), DEMO_OWNERS.map((o) => o.username)]);
    const { rows: [{ count }] } = await c.query('SELECT count(*)::int AS count FROM seed_tenant');
    if (count !== DEMO_OWNERS.length) throw new Error(`demo tenants or users missing (found ${count} of ${DEMO_OWNERS.length})`);

    await c.query(`INSERT INTO dataset (tenant_id, name, description, modality, license, visibility, last_version, created_by, created_at)
      SELECT st.id, 'seed-' || st.slug || '-' || lpad(i::text, 4, '0'), 'Seeded for the dashboard reads', 'TEXT', 'research',
             CASE WHEN i % 10 = 0 THEN 'ALLIANCE' WHEN i % 10 BETWEEN 1 AND 4 THEN 'SHARED' ELSE 'PRIVATE' END,
             3, st.user_id, timestamptz '2025-01-01' + ((i * 3 + st.n) * interval '1 second')
        FROM seed_tenant st, generate_series(1, $1::int) i`, [opts.datasets]);
    await c.query(`INSERT INTO dataset_version (dataset_id, tenant_id, version, item_count, size_bytes, published_at, created_by, created_at)
      SELECT d.id, d.tenant_id, v, 10 * v, 1000 * v, CASE WHEN v < 3 THEN d.created_at + v * interval '1 hour' END, d.created_by,
             d.created_at + v * interval '1 minute'
        FROM dataset d JOIN seed_tenant st ON st.id = d.tenant_id, generate_series(1, 3) v
       WHERE d.name LIKE 'seed-%'`);
    await c.query(`INSERT INTO dataset_grant (dataset_id, tenant_id, grantee_tenant_id, purpose, created_by, created_at)
      SELECT d.id, d.tenant_id, g.id, 'benchmark', d.created_by, d.created_at + interval '2 hours'
        FROM dataset d JOIN seed_tenant st ON st.id = d.tenant_id JOIN seed_tenant g ON g.id <> d.tenant_id
       WHERE d.name LIKE 'seed-%' AND d.visibility = 'SHARED'`);

    // One model, version and (stopped) endpoint per tenant, only so that jobs can reference one.
    await c.query(`INSERT INTO blob (tenant_id, sha256, size, content_type, uploaded_by)
      SELECT id, encode(sha256(convert_to('seed-model-' || id::text, 'UTF8')), 'hex'), 1, 'application/octet-stream', user_id FROM seed_tenant`);
    await c.query(`INSERT INTO model (tenant_id, name, task, modality, visibility, last_version, created_by)
      SELECT id, 'seed-model', 'benchmark', 'TENSOR', 'PRIVATE', 1, user_id FROM seed_tenant`);
    await c.query(`INSERT INTO model_version (model_id, tenant_id, version, blob_id, sha256, size_bytes, handler, inputs, outputs, per_item_device_seconds)
      SELECT m.id, m.tenant_id, 1, b.id, b.sha256, 1, 'tensor', '[]', '[]', 0.01
        FROM model m JOIN seed_tenant st ON st.id = m.tenant_id JOIN blob b ON b.tenant_id = m.tenant_id AND b.sha256 = encode(sha256(convert_to('seed-model-' || st.id::text, 'UTF8')), 'hex')
       WHERE m.name = 'seed-model'`);
    await c.query(`INSERT INTO endpoint (tenant_id, name, model_id, model_version_id, status, created_by)
      SELECT v.tenant_id, 'seed-endpoint', v.model_id, v.id, 'STOPPED', st.user_id
        FROM model_version v JOIN model m ON m.id = v.model_id AND m.name = 'seed-model' JOIN seed_tenant st ON st.id = v.tenant_id`);
    await c.query(`INSERT INTO job (tenant_id, submitted_by, endpoint_id, dataset_version_id, accelerator, status, total_items, done_items,
        estimate_device_seconds, estimate_milli, charged_milli, period, input_hash, created_at, started_at, finished_at)
      SELECT st.id, st.user_id, e.id,
             (SELECT v.id FROM dataset_version v JOIN dataset d ON d.id = v.dataset_id
               WHERE d.tenant_id = st.id AND d.name = 'seed-' || st.slug || '-' || lpad((1 + j % $2::int)::text, 4, '0') AND v.version = 1),
             'cpu', 'SUCCEEDED', 10, 10, 0.1, 100, 0, to_char(now(), 'YYYY-MM'), 'seed-' || j,
             timestamptz '2025-02-01' + ((j * 3 + st.n) * interval '1 second'), timestamptz '2025-02-01' + ((j * 3 + st.n) * interval '1 second'),
             timestamptz '2025-02-01' + ((j * 3 + st.n + 1) * interval '1 second')
        FROM seed_tenant st JOIN endpoint e ON e.tenant_id = st.id AND e.name = 'seed-endpoint', generate_series(1, $1::int) j`,
    [opts.jobs, opts.datasets]);
    if (opts.foreignPrivateVersions) {
      await c.query(`INSERT INTO dataset (tenant_id, name, modality, visibility, created_by, created_at)
        SELECT st.id, 'bulk-' || lpad(g::text, 7, '0'), 'TEXT', 'PRIVATE', st.user_id, timestamptz '2024-01-01' + g * interval '1 second'
          FROM seed_tenant st, generate_series(1, $1::int) g WHERE st.slug = 'whu'`, [opts.foreignPrivateVersions]);
      await c.query(`INSERT INTO dataset_version (dataset_id, tenant_id, version, item_count, published_at, created_by, created_at)
        SELECT d.id, d.tenant_id, 1, 0, d.created_at, d.created_by, d.created_at FROM dataset d WHERE d.name LIKE 'bulk-%'`);
    }
    await c.query('COMMIT');
    await c.query('ANALYZE');
    return await readTruth(c);
  } catch (err) {
    await c.query('ROLLBACK').catch(() => undefined);
    throw err;
  } finally {
    await c.end();
  }
}

/** What each demo tenant may read, straight from the tables (the owner bypasses RLS). */
async function readTruth(c: Client): Promise<Map<string, TenantTruth>> {
  const truth = new Map<string, TenantTruth>();
  for (const { tenant } of DEMO_OWNERS) {
    const { rows: [t] } = await c.query('SELECT id FROM tenant WHERE slug = $1', [tenant]);
    const { rows: foreign } = await c.query(
      `SELECT d.id FROM dataset d
        WHERE d.tenant_id <> $1 AND (d.visibility = 'ALLIANCE' OR (d.visibility = 'SHARED' AND EXISTS (
          SELECT 1 FROM dataset_grant g WHERE g.dataset_id = d.id AND g.grantee_tenant_id = $1 AND (g.expires_at IS NULL OR g.expires_at > now()))))`,
      [t.id]);
    const { rows: [own] } = await c.query(
      `SELECT (SELECT count(*)::int FROM dataset WHERE tenant_id = $1) AS datasets, (SELECT count(*)::int FROM job WHERE tenant_id = $1) AS jobs`, [t.id]);
    truth.set(tenant, {
      slug: tenant, tenantId: t.id, foreignReadableDatasetIds: new Set(foreign.map((r) => r.id as string)),
      ownDatasets: own.datasets, ownJobs: own.jobs,
    });
  }
  return truth;
}
