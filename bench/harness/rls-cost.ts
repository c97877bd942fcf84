// The cost of row-level security, at the SQL level: the statements one GraphQL request actually
// sent (captured at the driver, bench/harness/statement-counter.ts) replayed two ways, with the
// same text and the same parameters:
//   RLS      — as alliance_app, in a transaction after the same set_config call withTenant makes,
//              so every policy applies (what production does);
//   explicit — as the owner (a superuser: RLS bypassed) with a view in front of every tenant
//              table, carrying the policy's condition written out as a plain WHERE with the
//              tenant's and user's ids as literals. The views live in schema bench_explicit, first
//              in that session's search_path, so the unchanged statement reads through them;
//              PostgreSQL inlines a simple view, so this is the query with the explicit WHERE, not
//              a materialised copy. SECURITY DEFINER functions (tenant_directory) pin their own
//              search_path and read the tables themselves both ways: a control, ratio ≈ 1.
//              (Not pg_temp: temporary objects are searched first even inside functions that set
//              search_path = public — see the report of issue 7's benchmark.)
// The views mirror the policies of migrations/ (dataset_read, dataset_version_read, …); a
// policy change that is not mirrored here makes the comparison wrong, not the app — the row
// counts of both ways are compared on every statement to catch that.
// Each run is timed at the client around the statement alone (parse, plan, execute, transfer
// over loopback), alternating the two ways so drift in machine load hits both alike; a third as
// many runs of EXPLAIN (ANALYZE, TIMING OFF) give PostgreSQL's own planning + execution time.
import { Client } from 'pg';
import { distribution, type Distribution } from './bench-report';
import type { CapturedStatement } from './statement-counter';

export interface ReplayTransaction {
  /** The set_config parameters: [user id, tenant id, alliance admin 'on'/'off']. */
  settings: unknown[];
  statements: { text: string; values: unknown[] }[];
}

/** The role's transactions in the capture, each in its statements' order (grouped per connection). */
export function transactionsOf(captured: CapturedStatement[], role: string): ReplayTransaction[] {
  const open = new Map<number, ReplayTransaction>();
  const done: ReplayTransaction[] = [];
  for (const s of captured) {
    if (s.role !== role) continue;
    if (s.kind === 'control' && /^\s*(BEGIN|START)/i.test(s.text)) open.set(s.connection, { settings: [], statements: [] });
    else if (s.kind === 'control' && /^\s*(COMMIT|ROLLBACK)/i.test(s.text)) {
      const tx = open.get(s.connection);
      if (tx) done.push(tx);
      open.delete(s.connection);
    } else if (s.kind === 'settings') {
      const tx = open.get(s.connection);
      if (tx) tx.settings = s.values;
    } else {
      open.get(s.connection)?.statements.push({ text: s.text, values: s.values });
    }
  }
  return done;
}

/** A short name for a statement, from the tables and functions it reads. */
export function labelOf(sql: string): string {
  const s = sql.replace(/\s+/g, ' ');
  const rules: [RegExp, string][] = [
    [/FROM membership m JOIN tenant/, 'membership lookup (auth)'],
    [/WITH budget AS/, 'rate-limit charge'],
    [/FROM "tenant" "Tenant" WHERE \(\("Tenant"\."slug"/, 'tenant(slug)'],
    [/FROM "tenant" "Tenant" WHERE \(\("Tenant"\."id" IN/, 'tenantById (Job.tenant)'],
    [/FROM quota_balance/, 'quota: balance'],
    [/FROM "quota_policy"/, 'quota: policy'],
    [/to_regclass/, 'quota: to_regclass'],
    [/FROM job_shard WHERE tenant_id/, 'quota: running shards'],
    [/FROM "dataset" "d"/, 'datasets page'],
    [/FROM "job" "j"/, 'jobs page'],
    [/tenant_directory\(/, 'tenant directory (owner, grantee)'],
    [/FROM "endpoint" "Endpoint"/, 'endpointById (Job.endpoint)'],
    [/FROM "dataset_grant" "DatasetGrant"/, 'grants by dataset'],
    [/FROM "dataset_version" "p"/, 'versions page (per dataset)'],
  ];
  for (const [re, label] of rules) if (re.test(s)) return label;
  return s.slice(0, 60);
}

/** Whether a statement only reads (the replay runs it hundreds of times). */
export function isRead(sql: string): boolean {
  return /^\s*(SELECT|WITH)\b/i.test(sql) && !/\b(INSERT|UPDATE|DELETE)\b/i.test(sql);
}

const SCHEMA = 'bench_explicit';
/** What TenantDatabase.withIdentity runs first in every transaction. */
const SET_CONFIG = `SELECT set_config('app.user_id', $1, true), set_config('app.tenant_id', $2, true), set_config('app.alliance_admin', $3, true)`;

/**
 * The policies of the tables a request reads, for one tenant and user, as views in schema
 * bench_explicit. Order matters: views that refer to other views come after them.
 */
export function explicitViews(tenantId: string, userId: string): string[] {
  const t = `'${tenantId}'::uuid`;
  const u = `'${userId}'::uuid`;
  const myTenants = `(SELECT m.tenant_id FROM public.membership m WHERE m.user_id = ${u})`;
  return [
    `DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`,
    `CREATE SCHEMA ${SCHEMA}`,
    `CREATE VIEW ${SCHEMA}.tenant AS SELECT * FROM public.tenant WHERE id = ${t} OR id IN ${myTenants}`,
    `CREATE VIEW ${SCHEMA}.membership AS SELECT * FROM public.membership WHERE tenant_id = ${t} OR tenant_id IN ${myTenants}`,
    `CREATE VIEW ${SCHEMA}.app_user AS SELECT * FROM public.app_user`,
    `CREATE VIEW ${SCHEMA}.dataset AS SELECT * FROM public.dataset d WHERE d.tenant_id = ${t} OR d.visibility = 'ALLIANCE'
       OR (d.visibility = 'SHARED' AND d.id IN (SELECT g.dataset_id FROM public.dataset_grant g
             WHERE g.grantee_tenant_id = ${t} AND (g.expires_at IS NULL OR g.expires_at > now())))`,
    `CREATE VIEW ${SCHEMA}.dataset_version AS SELECT * FROM public.dataset_version v WHERE v.tenant_id = ${t}
       OR (v.published_at IS NOT NULL AND v.dataset_id IN (SELECT d.id FROM ${SCHEMA}.dataset d))`,
    `CREATE VIEW ${SCHEMA}.dataset_grant AS SELECT * FROM public.dataset_grant WHERE tenant_id = ${t}`,
    `CREATE VIEW ${SCHEMA}.model AS SELECT * FROM public.model m WHERE m.tenant_id = ${t} OR m.visibility = 'ALLIANCE'
       OR (m.visibility = 'SHARED' AND m.id IN (SELECT g.model_id FROM public.model_grant g
             WHERE g.grantee_tenant_id = ${t} AND (g.expires_at IS NULL OR g.expires_at > now())))`,
    `CREATE VIEW ${SCHEMA}.endpoint AS SELECT * FROM public.endpoint e WHERE e.tenant_id = ${t}
       OR EXISTS (SELECT 1 FROM ${SCHEMA}.model m WHERE m.id = e.model_id)`,
    ...['job', 'job_shard', 'quota_balance', 'quota_policy', 'rate_limit_setting'].map(
      (table) => `CREATE VIEW ${SCHEMA}.${table} AS SELECT * FROM public.${table} WHERE tenant_id = ${t}`),
    `SET search_path = ${SCHEMA}, public`,
  ];
}

export interface StatementCost {
  label: string;
  rows: number;
  /** Client-side time of the statement, microseconds. */
  rlsUs: Distribution;
  explicitUs: Distribution;
  /** median with RLS / median with the explicit WHERE. */
  ratio: number;
  /**
   * Planning + execution time inside PostgreSQL (EXPLAIN (ANALYZE, TIMING OFF)), microseconds:
   * without the round trip and the client, so less noisy where the machine is shared.
   */
  rlsServerUs: Distribution;
  explicitServerUs: Distribution;
  serverRatio: number;
  sql: string;
}

export interface RlsCost {
  statements: StatementCost[];
  /** Sums of the medians over the request's statements. */
  totalRlsUs: number;
  totalExplicitUs: number;
  ratio: number;
  totalRlsServerUs: number;
  totalExplicitServerUs: number;
  serverRatio: number;
}

function elapsedUs(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1000;
}

/** Replays every read of `txs` `runs` times each way; `tenantId`/`userId` are the captured caller's. */
export async function measureRlsCost(
  appUrl: string, ownerUrl: string, txs: ReplayTransaction[], ids: { tenantId: string; userId: string }, runs: number,
): Promise<RlsCost> {
  const app = new Client({ connectionString: appUrl, application_name: 'bench-rls' });
  const owner = new Client({ connectionString: ownerUrl, application_name: 'bench-explicit' });
  await app.connect();
  await owner.connect();
  try {
    for (const view of explicitViews(ids.tenantId, ids.userId)) await owner.query(view);
    const statements: StatementCost[] = [];
    for (const tx of txs) {
      for (const st of tx.statements) {
        if (!isRead(st.text)) continue;
        const rls: number[] = [];
        const explicit: number[] = [];
        let rowsRls = -1;
        let rowsExplicit = -1;
        const viaRls = async () => {
          await app.query('BEGIN');
          await app.query(SET_CONFIG, tx.settings);
          const t = process.hrtime.bigint();
          const res = await app.query(st.text, st.values);
          rls.push(elapsedUs(t));
          rowsRls = res.rowCount ?? 0;
          await app.query('COMMIT');
        };
        const viaExplicit = async () => {
          // The same settings: withTenant makes them either way, and tenant_directory() checks
          // app.user_id itself (an authorisation check inside the function, not a policy).
          await owner.query('BEGIN');
          await owner.query(SET_CONFIG, tx.settings);
          const t = process.hrtime.bigint();
          const res = await owner.query(st.text, st.values);
          explicit.push(elapsedUs(t));
          rowsExplicit = res.rowCount ?? 0;
          await owner.query('COMMIT');
        };
        // A few untimed runs each way first: plan caches, buffers.
        for (let i = 0; i < 5; i++) { await viaRls(); await viaExplicit(); }
        rls.length = 0;
        explicit.length = 0;
        for (let i = 0; i < runs; i++) {
          if (i % 2 === 0) { await viaRls(); await viaExplicit(); } else { await viaExplicit(); await viaRls(); }
        }
        if (rowsRls !== rowsExplicit) {
          throw new Error(`${labelOf(st.text)}: ${rowsRls} rows with RLS but ${rowsExplicit} with the explicit WHERE — the views no longer mirror the policies`);
        }
        const rlsServer: number[] = [];
        const explicitServer: number[] = [];
        const serverTime = async (c: Client, into: number[]) => {
          await c.query('BEGIN');
          await c.query(SET_CONFIG, tx.settings);
          const { rows } = await c.query(`EXPLAIN (ANALYZE, TIMING OFF, SUMMARY ON, FORMAT JSON) ${st.text}`, st.values);
          const plan = (rows[0]['QUERY PLAN'] as { 'Planning Time': number; 'Execution Time': number }[])[0];
          into.push((plan['Planning Time'] + plan['Execution Time']) * 1000);
          await c.query('COMMIT');
        };
        for (let i = 0; i < Math.max(10, Math.round(runs / 3)); i++) {
          if (i % 2 === 0) { await serverTime(app, rlsServer); await serverTime(owner, explicitServer); } else { await serverTime(owner, explicitServer); await serverTime(app, rlsServer); }
        }
        const r = distribution(rls);
        const e = distribution(explicit);
        const rs = distribution(rlsServer);
        const es = distribution(explicitServer);
        statements.push({
          label: labelOf(st.text), rows: rowsRls, rlsUs: r, explicitUs: e, ratio: r.p50 / e.p50,
          rlsServerUs: rs, explicitServerUs: es, serverRatio: rs.p50 / es.p50, sql: st.text,
        });
      }
    }
    const sum = (pick: (x: StatementCost) => number) => statements.reduce((s, x) => s + pick(x), 0);
    const totalRlsUs = sum((x) => x.rlsUs.p50);
    const totalExplicitUs = sum((x) => x.explicitUs.p50);
    const totalRlsServerUs = sum((x) => x.rlsServerUs.p50);
    const totalExplicitServerUs = sum((x) => x.explicitServerUs.p50);
    return {
      statements, totalRlsUs, totalExplicitUs, ratio: totalRlsUs / totalExplicitUs,
      totalRlsServerUs, totalExplicitServerUs, serverRatio: totalRlsServerUs / totalExplicitServerUs,
    };
  } finally {
    await owner.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`).catch(() => undefined);
    await app.end();
    await owner.end();
  }
}

/**
 * EXPLAIN (ANALYZE, BUFFERS) of one captured statement, both ways, each after a few plain runs on
 * the same connection: the platform's pooled connections have warm catalog and plan caches, and
 * a fresh backend's first call of a SECURITY DEFINER function would look several times slower.
 */
export async function explainBothWays(
  appUrl: string, ownerUrl: string, tx: ReplayTransaction, statement: { text: string; values: unknown[] }, ids: { tenantId: string; userId: string },
): Promise<{ rls: string; explicit: string }> {
  const app = new Client({ connectionString: appUrl });
  const owner = new Client({ connectionString: ownerUrl });
  await app.connect();
  await owner.connect();
  try {
    for (const view of explicitViews(ids.tenantId, ids.userId)) await owner.query(view);
    const plan = async (c: Client) => (await c.query(`EXPLAIN (ANALYZE, BUFFERS) ${statement.text}`, statement.values)).rows.map((r) => r['QUERY PLAN']).join('\n');
    const explain = async (c: Client) => {
      await c.query('BEGIN');
      await c.query(SET_CONFIG, tx.settings);
      for (let i = 0; i < 5; i++) await c.query(statement.text, statement.values);
      const text = await plan(c);
      await c.query('COMMIT');
      return text;
    };
    const rls = await explain(app);
    const explicit = await explain(owner);
    return { rls, explicit };
  } finally {
    await owner.query(`DROP SCHEMA IF EXISTS ${SCHEMA} CASCADE`).catch(() => undefined);
    await app.end();
    await owner.end();
  }
}
