// Usage analytics at scale: a year of history for 20 tenants, generated in SQL, then the time of
// `tenant_usage` and `usage_of_my_assets` (the SQL behind `usage` and `usageOfMyAssets`) for one
// tenant over 30 days and over 365 days: in the steady state (closed days rolled up into
// usage_day), on the live tables alone with the indexes of
// migrations/1764921600000-create-usage-indexes.ts, and on the live tables without them.
// Run (any PostgreSQL ≥ 15 the current user may create databases on):
//   cd /work/main && DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres node -r @swc-node/register bench/usage.bench.ts
// Volume per tenant and year: 30 jobs a day × 6 shards (65,700 shards, one CAPTURE each, plus a
// RESERVE and a RELEASE per job) and 720 inference minute-buckets a day (262,800 usage_record
// rows, one `usage:` CAPTURE each) — ×20 tenants: 1.3 M shards, 5.3 M usage rows, 7 M ledger
// entries. Prints medians of 7 runs (process.hrtime, the only wall-clock reading) and the plans;
// writes bench/results/usage.json.
import 'reflect-metadata';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Client } from 'pg';
import { ensureDatabase, runMigrations } from '../tenants/database';

const TENANTS = Number(process.env.TENANTS ?? 20);
const DAYS = Number(process.env.DAYS ?? 365);
const JOBS_PER_DAY = Number(process.env.JOBS_PER_DAY ?? 30);
const SHARDS_PER_JOB = 6;
const INFERENCE_SLOTS_PER_DAY = 48; // × 5 endpoints × 3 users = 720 rows a day
const START = '2025-01-01T00:00:00Z';
const RUNS = 7;
const NEW_INDEXES = ['ledger_entry_job_capture_idx', 'job_shard_done_idx'];

async function generate(c: Client): Promise<void> {
  const step = async (label: string, sql: string) => {
    const t = process.hrtime.bigint();
    const res = await c.query(sql);
    console.log(`  ${label}: ${res.rowCount ?? 0} rows in ${(Number(process.hrtime.bigint() - t) / 1e9).toFixed(1)} s`);
  };
  await c.query(`SELECT setseed(0.42)`);
  await step('tenants', `INSERT INTO tenant (slug, name) SELECT 'bench-' || g, 'Bench ' || g FROM generate_series(1, ${TENANTS}) g`);
  await c.query(`CREATE TEMP TABLE bt AS SELECT row_number() OVER (ORDER BY substr(slug, 7)::int) - 1 AS n, id FROM tenant WHERE slug LIKE 'bench-%'`);
  await step('users', `INSERT INTO app_user (subject, username) SELECT 'bench-' || t || '-' || u, 'bench-' || t || '-' || u
    FROM generate_series(0, ${TENANTS - 1}) t, generate_series(1, 3) u`);
  await step('memberships', `INSERT INTO membership (tenant_id, user_id, role)
    SELECT bt.id, u.id, 'MEMBER' FROM bt JOIN app_user u ON u.username LIKE 'bench-' || bt.n || '-%'`);
  await step('blobs', `INSERT INTO blob (tenant_id, sha256, size, content_type)
    SELECT id, encode(sha256(convert_to(id::text, 'UTF8')), 'hex'), 1, 'application/octet-stream' FROM bt`);
  await step('models', `INSERT INTO model (tenant_id, name, task, modality, visibility, last_version)
    SELECT bt.id, 'model-' || g, 'bench', 'TENSOR', 'ALLIANCE', 1 FROM bt, generate_series(1, 3) g`);
  await step('model versions', `INSERT INTO model_version (model_id, tenant_id, version, blob_id, sha256, size_bytes, handler, inputs, outputs)
    SELECT m.id, m.tenant_id, 1, b.id, b.sha256, 1, 'tensor', '[]', '[]' FROM model m JOIN blob b ON b.tenant_id = m.tenant_id JOIN bt ON bt.id = m.tenant_id`);
  // Each tenant serves its three models and one model of each of its two neighbours.
  await step('endpoints', `INSERT INTO endpoint (tenant_id, name, model_id, model_version_id, status)
    SELECT bt.id, 'ep-' || o.n || '-' || m.name, m.id, v.id, 'READY'
      FROM bt JOIN bt o ON o.n IN (bt.n, (bt.n + 1) % ${TENANTS}, (bt.n + 2) % ${TENANTS})
      JOIN model m ON m.tenant_id = o.id AND (o.n = bt.n OR m.name = 'model-1') JOIN model_version v ON v.model_id = m.id`);
  await step('datasets', `INSERT INTO dataset (tenant_id, name, modality, visibility, last_version)
    SELECT bt.id, 'dataset-' || g, 'TEXT', 'ALLIANCE', 1 FROM bt, generate_series(1, 2) g`);
  await step('dataset versions', `INSERT INTO dataset_version (dataset_id, tenant_id, version, item_count, published_at)
    SELECT id, tenant_id, 1, 1000, now() FROM dataset WHERE tenant_id IN (SELECT id FROM bt)`);
  await c.query(`CREATE TEMP TABLE dims AS SELECT bt.id AS tenant_id,
      (SELECT array_agg(id ORDER BY name) FROM endpoint e WHERE e.tenant_id = bt.id) AS endpoints,
      (SELECT array_agg(id ORDER BY username) FROM app_user u WHERE u.username LIKE 'bench-' || bt.n || '-%') AS users,
      -- own datasets and the next tenant's (cross-tenant use)
      (SELECT array_agg(v.id) FROM dataset_version v JOIN bt o ON o.id = v.tenant_id WHERE o.n IN (bt.n, (bt.n + 1) % ${TENANTS})) AS versions
    FROM bt`);
  await step('jobs', `INSERT INTO job (tenant_id, submitted_by, endpoint_id, dataset_version_id, accelerator, status, total_items, done_items,
      estimate_device_seconds, estimate_milli, charged_milli, period, input_hash, created_at, started_at, finished_at)
    SELECT d.tenant_id, d.users[1 + floor(random() * 3)::int], d.endpoints[1 + floor(random() * 5)::int],
           CASE WHEN random() < 0.6 THEN d.versions[1 + floor(random() * array_length(d.versions, 1))::int] END,
           'cpu', 'SUCCEEDED', ${SHARDS_PER_JOB * 20}, ${SHARDS_PER_JOB * 20}, 1, 1, 0, to_char(at, 'YYYY-MM'), 'bench', at, at, at + interval '1 hour'
      FROM dims d, generate_series(0, ${DAYS - 1}) day, generate_series(1, ${JOBS_PER_DAY}) k,
           LATERAL (SELECT date_trunc('milliseconds', '${START}'::timestamptz + day * interval '1 day' + random() * interval '23 hours') AS at) t`);
  await step('shards', `INSERT INTO job_shard (job_id, tenant_id, shard_index, item_from, item_to, status, attempt, device_seconds, charged_milli, finished_at)
    SELECT j.id, j.tenant_id, s, s * 20, s * 20 + 20, 'DONE', 1, ds, round(ds * 1000), j.created_at + (s + 1) * interval '9 minutes'
      FROM job j, generate_series(0, ${SHARDS_PER_JOB - 1}) s, LATERAL (SELECT 1 + random() * 60 AS ds) r
     WHERE j.tenant_id IN (SELECT id FROM bt)`);
  await step('ledger: job entries', `INSERT INTO ledger_entry (tenant_id, period, kind, units_milli, job_id, entry_key, created_at)
    SELECT tenant_id, to_char(created_at, 'YYYY-MM'), 'RESERVE'::ledger_kind, 500000, id, 'reserve:job:' || id, created_at FROM job WHERE tenant_id IN (SELECT id FROM bt)
    UNION ALL
    SELECT s.tenant_id, to_char(s.finished_at, 'YYYY-MM'), 'CAPTURE'::ledger_kind, s.charged_milli, s.job_id, 'capture:shard:' || s.id, s.finished_at + interval '3 milliseconds'
      FROM job_shard s WHERE s.tenant_id IN (SELECT id FROM bt)
    UNION ALL
    SELECT tenant_id, to_char(finished_at, 'YYYY-MM'), 'RELEASE'::ledger_kind, 1000, id, 'release:job:' || id, finished_at FROM job WHERE tenant_id IN (SELECT id FROM bt)`);
  await step('usage records', `INSERT INTO usage_record (tenant_id, user_id, endpoint_id, model_id, owner_tenant_id, bucket_start, requests, items, device_ms, units_milli)
    SELECT d.tenant_id, u, e.id, e.model_id, m.tenant_id, '${START}'::timestamptz + day * interval '1 day' + slot * interval '30 minutes',
           r, r, r * 10 * random(), r * 10
      FROM dims d, unnest(d.users) u, unnest(d.endpoints) ep_id JOIN endpoint e ON e.id = ep_id JOIN model m ON m.id = e.model_id,
           generate_series(0, ${DAYS - 1}) day, generate_series(0, ${INFERENCE_SLOTS_PER_DAY - 1}) slot, LATERAL (SELECT 1 + floor(random() * 20)::int AS r) q`);
  await step('ledger: inference entries', `INSERT INTO ledger_entry (tenant_id, period, kind, units_milli, entry_key, created_at)
    SELECT tenant_id, to_char(bucket_start, 'YYYY-MM'), 'CAPTURE', units_milli, 'usage:' || id, bucket_start + interval '20 seconds'
      FROM usage_record WHERE tenant_id IN (SELECT id FROM bt)`);
  await step('vacuum analyze', `VACUUM ANALYZE`);
  await rollUp(c);
}

/** The daily roll-up of every closed day (what usage_roll_up does a few days at a time in production). */
async function rollUp(c: Client): Promise<void> {
  const t = process.hrtime.bigint();
  const [{ until }] = (await c.query(`SELECT usage_roll_up(100000)::text AS until`)).rows;
  const rows = (await c.query(`SELECT count(*)::int AS n FROM usage_day`)).rows[0].n;
  console.log(`  roll-up until ${until}: ${rows} usage_day rows in ${(Number(process.hrtime.bigint() - t) / 1e9).toFixed(1)} s`);
  await c.query(`VACUUM ANALYZE usage_day`);
}

interface Measurement {
  query: string;
  window: string;
  medianMs: number;
  rows: number;
}

/** `nested`: run inside an open transaction (savepoints instead of transactions). */
async function measure(c: Client, tenantId: string, label: string, nested = false): Promise<Measurement[]> {
  const end = new Date(Date.parse(START) + DAYS * 86_400_000);
  const windows = { '30 days': new Date(end.getTime() - 30 * 86_400_000), '365 days': new Date(end.getTime() - 365 * 86_400_000) };
  const queries: [string, string, (from: Date) => unknown[]][] = [
    ...['DAY', 'MODEL', 'USER', 'ENDPOINT', 'DATASET'].map((by) => [`usage ${by}`, `SELECT * FROM tenant_usage($1, $2, '${by}', NULL)`, (from: Date) => [from, end]] as [string, string, (from: Date) => unknown[]]),
    ['usage DAY × MODEL', `SELECT * FROM tenant_usage($1, $2, 'DAY', 'MODEL')`, (from) => [from, end]],
    ['usageOfMyAssets', `SELECT * FROM usage_of_my_assets($1, $2)`, (from) => [from, end]],
  ];
  const results: Measurement[] = [];
  for (const [name, sql, params] of queries) {
    for (const [window, from] of Object.entries(windows)) {
      const times: number[] = [];
      let rows = 0;
      for (let i = 0; i < RUNS; i++) {
        await c.query(nested ? 'SAVEPOINT run' : 'BEGIN');
        await c.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenantId]);
        const t = process.hrtime.bigint();
        rows = (await c.query(sql, params(from))).rowCount ?? 0;
        times.push(Number(process.hrtime.bigint() - t) / 1e6);
        await c.query(nested ? 'RELEASE SAVEPOINT run' : 'COMMIT');
      }
      times.sort((a, b) => a - b);
      const medianMs = Math.round(times[Math.floor(times.length / 2)] * 100) / 100;
      results.push({ query: name, window, medianMs, rows });
      console.log(`  [${label}] ${name.padEnd(18)} ${window.padEnd(8)} ${String(medianMs).padStart(8)} ms  (${rows} rows)`);
    }
  }
  return results;
}

/** The plan of a function's body for the 365-day window, with the function's parameters bound. */
async function explain(c: Client, fn: string, tenantId: string, args: string[]): Promise<string> {
  const [{ src, names }] = (await c.query(`SELECT prosrc AS src, proargnames AS names FROM pg_proc WHERE proname = $1`, [fn])).rows;
  let body: string = src;
  (names as string[]).slice(0, args.length).forEach((name, i) => { body = body.replace(new RegExp(`\\b${name}\\b`, 'g'), args[i]); });
  await c.query('BEGIN');
  await c.query(`SET LOCAL ROLE alliance_system`);
  await c.query(`SELECT set_config('app.tenant_id', $1, true)`, [tenantId]);
  const plan = (await c.query(`EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) ${body}`)).rows.map((r) => r['QUERY PLAN']).join('\n');
  await c.query('ROLLBACK');
  return plan;
}

async function main(): Promise<void> {
  const admin = process.env.DATABASE_URL;
  if (!admin) throw new Error('set DATABASE_URL to a PostgreSQL server this user may create databases on');
  const url = await ensureDatabase(admin, 'alliance_usage_bench');
  const c = new Client({ connectionString: url });
  await c.connect();
  try {
    const fresh = (await c.query(`SELECT to_regclass('tenant') IS NULL AS fresh`)).rows[0].fresh;
    if (fresh) {
      await runMigrations(url);
      console.log(`generating ${TENANTS} tenants × ${DAYS} days`);
      await generate(c);
    } else {
      console.log('reusing the generated database alliance_usage_bench (drop it to regenerate)');
      for (const index of NEW_INDEXES) if (!(await c.query(`SELECT to_regclass($1) AS i`, [index])).rows[0].i) throw new Error(`index ${index} missing: drop the bench database`);
      await rollUp(c);
    }
    const sizes = (await c.query(`SELECT relname AS table, n_live_tup::bigint AS rows FROM pg_stat_user_tables
      WHERE relname IN ('job', 'job_shard', 'ledger_entry', 'usage_record') ORDER BY relname`)).rows;
    console.log(sizes.map((s) => `${s.table}: ${s.rows}`).join(', '));
    const [{ id: tenantId }] = (await c.query(`SELECT id FROM tenant WHERE slug = 'bench-1'`)).rows;
    const last = new Date(Date.parse(START) + DAYS * 86_400_000);
    const yearAgo = new Date(last.getTime() - 365 * 86_400_000);
    const args = [`'${yearAgo.toISOString()}'::timestamptz`, `'${last.toISOString()}'::timestamptz`];
    const plans = {
      usageModel: await explain(c, 'tenant_usage', tenantId, [...args, `'MODEL'`, 'NULL::text']),
      usageOfMyAssets: await explain(c, 'usage_of_my_assets', tenantId, args),
    };
    console.log('\nplan of usage(MODEL) over 365 days:\n' + plans.usageModel);
    console.log('\nplan of usageOfMyAssets over 365 days:\n' + plans.usageOfMyAssets);

    console.log('\nsteady state (closed days rolled up, today live):');
    const rolled = await measure(c, tenantId, 'rolled up');
    let live: Measurement[] = [];
    let bare: Measurement[] = [];
    if (process.env.LIVE === '0') {
      console.log('(LIVE=0: live-table measurements skipped)');
    } else {
    // The same queries on the live tables only: a roll-up that is behind, or the tables alone.
    await c.query('BEGIN');
    await c.query(`DELETE FROM usage_day`);
    await c.query(`UPDATE usage_rollup SET rolled_until = NULL`);
    console.log('\nlive tables only, with the usage indexes:');
    live = await measure(c, tenantId, 'live', true);
    for (const index of NEW_INDEXES) await c.query(`DROP INDEX ${index}`);
    console.log('\nlive tables only, without them:');
    bare = await measure(c, tenantId, 'no index', true);
    await c.query('ROLLBACK');
    }
    const table = rolled.map((m, i) => ({ ...m, liveMs: live[i]?.medianMs ?? null, liveWithoutIndexesMs: bare[i]?.medianMs ?? null }));
    console.log('\nquery               window     rolled up   live   live, no index');
    for (const r of table) console.log(`${r.query.padEnd(19)} ${r.window.padEnd(9)} ${String(r.medianMs).padStart(9)} ${String(r.liveMs).padStart(8)} ${String(r.liveWithoutIndexesMs).padStart(12)}`);
    const out = join(__dirname, 'results');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'usage.json'), JSON.stringify({ volume: { tenants: TENANTS, days: DAYS, jobsPerDay: JOBS_PER_DAY, shardsPerJob: SHARDS_PER_JOB, rows: sizes }, results: table, plans }, null, 2));
  } finally {
    await c.end();
    if (process.env.KEEP !== '1') {
      const a = new Client({ connectionString: admin });
      await a.connect();
      await a.query(`DROP DATABASE IF EXISTS alliance_usage_bench WITH (FORCE)`).finally(() => a.end());
    }
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
