// Load suite (issue 7, "Suites"): three tenants' owners (alice/casia, bob/whu, carol/iqiyi) hit
// one all-in-one platform on loopback at once with the dashboard-shaped read, `quota`,
// `jobs(first: 20)` and `createDataset` (unique names), driven by autocannon — one instance per
// operation, each connection cycling through the three tenants' requests. Passes when:
//   - every response is HTTP 2xx, with no GraphQL error and no transport error or timeout;
//   - every response holds only what its tenant may see (test/load/tenant-isolation.ts);
//   - every tenant got answers to every operation;
//   - the datasets created are the ones answered: per tenant, the rows in the database number
//     the successful createDataset responses, plus at most one per connection (calls still in
//     flight when autocannon stopped reading) — no lost write, no write behind a failed call;
//   - LOAD_MAX_P99_MS, when set, bounds every operation's p99.
// Reports requests/s and p50/p99 per operation, writes bench/results/load.json, exits 1 on failure.
// Run:
//   npm run test:load                      (LOAD_SECONDS=30 by default)
//   LOAD_SECONDS=10 npm run test:load      (CI's short run)
// Knobs: LOAD_SECONDS, LOAD_CONNECTIONS (per operation, 4), LOAD_MAX_P99_MS (unset: report only).
//
// The platform runs in a child process (bench/harness/platform-process.ts): sharing one event
// loop with autocannon would put the load generator's time into every latency. Seed data as in
// bench/graphql-read.bench.ts: 100 datasets (3 versions; SHARED ones granted to both other
// tenants) and 60 jobs per tenant, interleaved in time so a leak would land inside a page.
// test/load/tenant-isolation.spec.ts shows the checks catch a leak; so does running this suite
// with BENCH_PLATFORM_REQUIRE pointing at a patch that reads datasets on the system role.
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import { Client } from 'pg';
import { printTable, round, writeResult } from '../../bench/harness/bench-report';
import { CREATE_DATASET, DASHBOARD, JOBS, QUOTA, type DashboardData } from '../../bench/harness/dashboard-queries';
import { DEMO_OWNERS, seedDashboardData, type TenantTruth } from '../../bench/harness/dashboard-seed';
import { PlatformProcess } from '../../bench/harness/platform-process';
import { checkCreated, checkDashboard, checkJobs, checkQuota, type Violation } from './tenant-isolation';

const SECONDS = Number(process.env.LOAD_SECONDS ?? 30);
const CONNECTIONS = Number(process.env.LOAD_CONNECTIONS ?? 4);
const MAX_P99_MS = process.env.LOAD_MAX_P99_MS ? Number(process.env.LOAD_MAX_P99_MS) : undefined;
const SEED = { datasets: 100, jobs: 60 };
const RUN_ID = randomBytes(4).toString('hex');
/** Well above what the run spends: the suite measures the platform, not the budget. */
const PLATFORM_ENV = { RATE_LIMIT_POINTS_PER_HOUR: '100000000' };

interface Operation {
  name: string;
  /** The request body for one call; called per request, so mutations can vary their input. */
  body: (tenant: string, n: number) => unknown;
  check: (truth: TenantTruth, data: any) => Violation[];
}

const OPERATIONS: Operation[] = [
  {
    name: 'dashboard',
    body: (slug) => ({ query: DASHBOARD, variables: { slug, first: 20 } }),
    check: (truth, data: DashboardData) => checkDashboard(truth, data),
  },
  { name: 'quota', body: () => ({ query: QUOTA }), check: (truth, data) => checkQuota(truth, data.quota) },
  { name: 'jobs(first: 20)', body: () => ({ query: JOBS, variables: { first: 20 } }), check: (truth, data) => checkJobs(truth, data.jobs) },
  {
    name: 'createDataset',
    body: (slug, n) => ({
      query: CREATE_DATASET,
      variables: { input: { name: `load-${RUN_ID}-${slug}-${n}`, modality: 'TEXT', visibility: 'PRIVATE', description: 'load suite' } },
    }),
    check: (truth, data) => checkCreated(truth, data.createDataset),
  },
];

interface TenantTally {
  ok: number;
  non2xx: number;
  graphqlErrors: number;
  violations: number;
}

interface OperationOutcome {
  operation: string;
  requests: number;
  requestsPerSecond: number;
  latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
  non2xx: number;
  errors: number;
  timeouts: number;
  graphqlErrors: number;
  violations: number;
  byTenant: Record<string, TenantTally>;
}

function runOperation(
  platform: PlatformProcess, op: Operation, tokens: Map<string, string>, truth: Map<string, TenantTruth>, examples: string[],
): Promise<OperationOutcome> {
  const byTenant: Record<string, TenantTally> = {};
  const note = (text: string) => { if (examples.length < 20) examples.push(`${op.name}: ${text}`); };
  let sequence = 0;
  const requests = DEMO_OWNERS.map(({ username, tenant }) => {
    const tally = (byTenant[tenant] = { ok: 0, non2xx: 0, graphqlErrors: 0, violations: 0 });
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${tokens.get(username)}`, 'x-tenant': tenant };
    return {
      method: 'POST' as const,
      path: '/graphql',
      headers,
      setupRequest: (req: any) => ({ ...req, headers, body: JSON.stringify(op.body(tenant, ++sequence)) }),
      onResponse: (status: number, body: string) => {
        if (status < 200 || status > 299) {
          tally.non2xx++;
          note(`${tenant} HTTP ${status} ${body.slice(0, 300)}`);
          return;
        }
        let parsed: { data?: any; errors?: { message: string; extensions?: { code?: string } }[] };
        try {
          parsed = JSON.parse(body);
        } catch {
          tally.graphqlErrors++;
          note(`${tenant} unparseable body ${body.slice(0, 200)}`);
          return;
        }
        if (parsed.errors?.length || !parsed.data) {
          tally.graphqlErrors++;
          note(`${tenant} ${JSON.stringify(parsed.errors ?? parsed).slice(0, 300)}`);
          return;
        }
        const violations = op.check(truth.get(tenant)!, parsed.data);
        if (violations.length) {
          tally.violations += violations.length;
          for (const v of violations) note(v);
          return;
        }
        tally.ok++;
      },
    };
  });
  return new Promise((resolve, reject) => {
    autocannon({
      url: platform.url,
      connections: CONNECTIONS,
      duration: SECONDS,
      timeout: 10,
      requests: requests as any,
    }, (err, result) => {
      if (err) return reject(err);
      const sum = (k: keyof TenantTally) => Object.values(byTenant).reduce((s, t) => s + t[k], 0);
      resolve({
        operation: op.name,
        requests: result.requests.total,
        requestsPerSecond: round(result.requests.total / (result.duration || SECONDS), 1),
        latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max, mean: round(result.latency.mean, 2) },
        non2xx: result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        graphqlErrors: sum('graphqlErrors'),
        violations: sum('violations'),
        byTenant,
      });
    });
  });
}

/** Datasets this run created, per tenant, straight from the table. */
async function createdRows(ownerUrl: string): Promise<Record<string, number>> {
  const c = new Client({ connectionString: ownerUrl });
  await c.connect();
  try {
    const { rows } = await c.query(
      `SELECT t.slug, count(d.id)::int AS n FROM tenant t LEFT JOIN dataset d ON d.tenant_id = t.id AND d.name LIKE $1 GROUP BY t.slug`,
      [`load-${RUN_ID}-%`]);
    return Object.fromEntries(rows.map((r) => [r.slug, r.n]));
  } finally {
    await c.end();
  }
}

async function main(): Promise<number> {
  console.log(`load suite: ${SECONDS} s, ${CONNECTIONS} connections per operation × ${OPERATIONS.length} operations, 3 tenants`);
  const platform = await PlatformProcess.start(PLATFORM_ENV);
  try {
    const truth = await seedDashboardData(platform.ownerUrl, SEED);
    const tokens = new Map<string, string>();
    for (const { username, tenant } of DEMO_OWNERS) {
      tokens.set(username, await platform.token(username));
      // One call of each operation first: a broken query fails here with its message, not as
      // thousands of identical errors.
      for (const op of OPERATIONS) {
        const body = op.body(tenant, 0) as { query: string; variables?: Record<string, unknown> };
        const data = await platform.gql(username, tenant, body.query, body.variables);
        const violations = op.check(truth.get(tenant)!, data);
        if (violations.length) throw new Error(`warm-up ${op.name} as ${tenant}: ${violations.join('; ')}`);
      }
    }
    const warmCreated = await createdRows(platform.ownerUrl);

    const before = await platform.stats({ gc: true });
    const examples: string[] = [];
    const started = Date.now();
    const outcomes = await Promise.all(OPERATIONS.map((op) => runOperation(platform, op, tokens, truth, examples)));
    const wallSeconds = (Date.now() - started) / 1000;
    const after = await platform.stats();
    // Calls autocannon stopped waiting for at its deadline still run on the server.
    await platform.waitForQuiet();
    const settled = await platform.stats({ gc: true });
    const created = await createdRows(platform.ownerUrl);

    printTable(`Load: ${SECONDS} s, 3 tenants, ${CONNECTIONS} connections per operation (${CONNECTIONS * OPERATIONS.length} in all)`,
      outcomes.map((o) => ({
        operation: o.operation, requests: o.requests, 'req/s': o.requestsPerSecond, 'p50 ms': o.latencyMs.p50, 'p90 ms': o.latencyMs.p90,
        'p99 ms': o.latencyMs.p99, 'max ms': o.latencyMs.max, non2xx: o.non2xx, 'gql errors': o.graphqlErrors, 'isolation': o.violations,
        'transport errors': o.errors + o.timeouts,
      })));
    const platformCpu = ((after.cpu.user - before.cpu.user) + (after.cpu.system - before.cpu.system)) / 1e6;
    console.log(`\nplatform process: ${round(platformCpu / wallSeconds * 100, 0)}% of one core over ${round(wallSeconds, 1)} s; ` +
      `RSS ${round(before.rssMb, 0)} → ${round(after.rssMb, 0)} MB; heap after a full GC ${round(before.heapUsedMb, 1)} → ${round(settled.heapUsedMb, 1)} MB`);

    const failures: string[] = [];
    for (const o of outcomes) {
      if (o.non2xx) failures.push(`${o.operation}: ${o.non2xx} non-2xx responses`);
      if (o.errors || o.timeouts) failures.push(`${o.operation}: ${o.errors} transport errors, ${o.timeouts} timeouts`);
      if (o.graphqlErrors) failures.push(`${o.operation}: ${o.graphqlErrors} responses with GraphQL errors`);
      if (o.violations) failures.push(`${o.operation}: ${o.violations} objects the tenant may not see`);
      for (const [tenant, t] of Object.entries(o.byTenant)) if (t.ok === 0) failures.push(`${o.operation}: no successful response for ${tenant}`);
      if (MAX_P99_MS !== undefined && o.latencyMs.p99 > MAX_P99_MS) failures.push(`${o.operation}: p99 ${o.latencyMs.p99} ms above LOAD_MAX_P99_MS=${MAX_P99_MS}`);
    }
    const createOutcome = outcomes.find((o) => o.operation === 'createDataset')!;
    const writes: Record<string, { answered: number; inDatabase: number }> = {};
    for (const { tenant } of DEMO_OWNERS) {
      // The warm-up created one per tenant; responses still in flight when autocannon stopped
      // were not tallied, so the database may hold at most `connections` more than answered.
      const inDatabase = (created[tenant] ?? 0) - (warmCreated[tenant] ?? 0);
      const answered = createOutcome.byTenant[tenant].ok;
      writes[tenant] = { answered, inDatabase };
      if (inDatabase < answered || inDatabase > answered + CONNECTIONS) {
        failures.push(`createDataset as ${tenant}: ${answered} answered but ${inDatabase} rows in the database`);
      }
    }
    console.log(`createDataset rows per tenant (answered / in the database): ${Object.entries(writes).map(([t, w]) => `${t} ${w.answered}/${w.inDatabase}`).join(', ')}`);

    const file = writeResult('load', {
      config: { seconds: SECONDS, connectionsPerOperation: CONNECTIONS, tenants: DEMO_OWNERS, seed: SEED, platformEnv: PLATFORM_ENV, maxP99Ms: MAX_P99_MS ?? null },
      operations: outcomes,
      platform: {
        cpuCoreShare: round(platformCpu / wallSeconds, 2), rssMbBefore: round(before.rssMb, 0), rssMbAfter: round(after.rssMb, 0),
        heapMbAfterGcBefore: round(before.heapUsedMb, 1), heapMbAfterGcAfter: round(settled.heapUsedMb, 1),
      },
      writes,
      failures,
      examples,
    });
    console.log(`wrote ${file}`);
    if (failures.length) {
      console.error(`\nLOAD SUITE FAILED:\n  ${failures.join('\n  ')}`);
      if (examples.length) console.error(`examples:\n  ${examples.join('\n  ')}`);
      return 1;
    }
    console.log('\nload suite passed');
    return 0;
  } finally {
    await platform.close();
  }
}

main().then((code) => process.exit(code), (err) => {
  console.error(err);
  process.exit(1);
});
