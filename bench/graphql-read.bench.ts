// GraphQL read throughput (issue 7, "Benchmark"): the dashboard-shaped query — tenant, quota,
// datasets(first: N) with 5 versions and the grants of each, jobs(first: N) with endpoint and
// tenant (bench/harness/dashboard-queries.ts) — as alice/casia at concurrency 32, for N = 5, 20
// and 100. Reports requests/s, p50/p99, database statements per request, and the cost of
// row-level security on the same statements.
// Run:
//   cd /work/main && npm run bench:graphql
// Knobs (env): BENCH_FIRSTS (5,20,100), BENCH_SECONDS per level (10), BENCH_CONNECTIONS (32),
// BENCH_SEQUENTIAL requests counted one at a time (20), BENCH_SQL_RUNS per statement and way
// (300), BENCH_DATASETS / BENCH_JOBS seeded per tenant (100 / 120), BENCH_FOREIGN_VERSIONS
// (0): that many more dataset versions of another tenant, none readable by casia — a read whose
// cost grows with them scans other tenants' rows; BENCH_CPU_PROF and BENCH_PLATFORM_REQUIRE as
// in bench/harness/platform-process.ts.
// Writes bench/results/graphql-read.json (graphql-read-foreign-<n>.json with BENCH_FOREIGN_VERSIONS).
// Exits 1 when the statements per request change with N (an N+1) or a response failed.
//
// How each number is measured:
//   - requests/s, p50/p99: autocannon in this process against the platform in a child process
//     (bench/harness/platform-process.ts), keep-alive HTTP on 127.0.0.1, after a 2 s warm-up.
//   - statements per request: the platform process counts every pg.Client#query call by role
//     (bench/harness/statement-counter.ts). Over BENCH_SEQUENTIAL requests sent one at a time, the
//     alliance_app role's delta divided by the count — exact, since nothing else uses that role
//     (the scheduler, workers and queue use alliance_system and the owner). "data" excludes
//     BEGIN/COMMIT and withTenant's set_config; each of those is a round trip too, shown beside.
//     The same ratio is shown over the concurrent run as a cross-check.
//   - RLS cost: the statements of one captured request replayed as alliance_app under the
//     captured settings vs. as the owner through views carrying the policies as plain WHERE
//     clauses (bench/harness/rls-cost.ts), timed per statement at the client, alternating, and
//     inside PostgreSQL (EXPLAIN ANALYZE planning + execution). Statements that involve no policy
//     (to_regclass, the SECURITY DEFINER tenant_directory) are controls: their ratio is the noise.
import { loadavg } from 'node:os';
import autocannon from 'autocannon';
import { Client } from 'pg';
import { distribution, printTable, round, writeResult } from './harness/bench-report';
import { DASHBOARD, type DashboardData } from './harness/dashboard-queries';
import { seedDashboardData } from './harness/dashboard-seed';
import { PgActivitySampler } from './harness/pg-activity-sampler';
import { PlatformProcess, type PlatformStats } from './harness/platform-process';
import { explainBothWays, labelOf, measureRlsCost, transactionsOf, type RlsCost } from './harness/rls-cost';
import { countsDelta, type CapturedStatement, type RoleCounts } from './harness/statement-counter';

const FIRSTS = (process.env.BENCH_FIRSTS ?? '5,20,100').split(',').map(Number);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 20);
const SQL_RUNS = Number(process.env.BENCH_SQL_RUNS ?? 300);
const SEED = {
  datasets: Number(process.env.BENCH_DATASETS ?? 100),
  jobs: Number(process.env.BENCH_JOBS ?? 120),
  foreignPrivateVersions: Number(process.env.BENCH_FOREIGN_VERSIONS ?? 0),
};
const USER = { username: 'alice', tenant: 'casia' };
const APP_ROLE = 'alliance_app';
const PLATFORM_ENV = { RATE_LIMIT_POINTS_PER_HOUR: '100000000' };

interface Level {
  first: number;
  responseBytes: number;
  datasets: number;
  jobs: number;
  /** One request at a time: the statements each sends, and how long each takes alone. */
  sequential: { requests: number; perRequest: RoleCounts; exact: boolean; latencyMs: { p50: number; max: number } };
  /** The data statements of one request, by label, in the order they were sent. */
  statements: string[];
  load: {
    connections: number;
    seconds: number;
    requests: number;
    requestsPerSecond: number;
    latencyMs: { p50: number; p90: number; p99: number; max: number; mean: number };
    non2xx: number;
    errors: number;
    timeouts: number;
    graphqlErrors: number;
    dataStatementsPerRequest: number;
    platformCpuCores: number;
    /** The platform process's CPU time per request: steadier than req/s where the cores are shared. */
    platformCpuMsPerRequest: number;
    postgresWaits: Record<string, number>;
  };
}

function perRequest(c: RoleCounts, n: number): RoleCounts {
  return { statements: c.statements / n, transactions: c.transactions / n, settings: c.settings / n, data: c.data / n };
}

function cpuSeconds(before: PlatformStats, after: PlatformStats): number {
  return (after.cpu.user - before.cpu.user + after.cpu.system - before.cpu.system) / 1e6;
}

function hammer(platform: PlatformProcess, token: string, body: string, seconds: number) {
  let graphqlErrors = 0;
  return new Promise<{ result: autocannon.Result; graphqlErrors: number }>((resolve, reject) => {
    autocannon({
      url: `${platform.url}/graphql`,
      method: 'POST',
      connections: CONNECTIONS,
      duration: seconds,
      timeout: 30,
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, 'x-tenant': USER.tenant },
      body,
      requests: [{
        // A string test, not a parse: the generator shares the machine with the platform.
        onResponse: (status: number, text: string) => { if (status === 200 && (!text.startsWith('{"data":{') || text.includes('"errors":'))) graphqlErrors++; },
      }] as any,
    }, (err, result) => (err ? reject(err) : resolve({ result, graphqlErrors })));
  });
}

async function measureLevel(platform: PlatformProcess, token: string, owner: Client, first: number): Promise<{ level: Level; captured: CapturedStatement[] }> {
  const variables = { slug: USER.tenant, first };
  const body = JSON.stringify({ query: DASHBOARD, variables });
  const sample = await platform.gql<DashboardData>(USER.username, USER.tenant, DASHBOARD, variables);
  if (sample.datasets.edges.length !== first || sample.jobs.edges.length !== first) {
    throw new Error(`first: ${first} answered ${sample.datasets.edges.length} datasets and ${sample.jobs.edges.length} jobs; seed more`);
  }

  const s0 = await platform.stats();
  const alone: number[] = [];
  for (let i = 0; i < SEQUENTIAL; i++) {
    const t = performance.now();
    await platform.gql(USER.username, USER.tenant, DASHBOARD, variables);
    alone.push(performance.now() - t);
  }
  const s1 = await platform.stats();
  const seqDelta = countsDelta(s0.counts, s1.counts, APP_ROLE);
  const exact = [seqDelta.statements, seqDelta.transactions, seqDelta.data].every((n) => n % SEQUENTIAL === 0);

  await platform.startCapture();
  await platform.gql(USER.username, USER.tenant, DASHBOARD, variables);
  const captured = await platform.stopCapture();
  const statements = captured.filter((s) => s.role === APP_ROLE && s.kind === 'data').map((s) => labelOf(s.text));

  await hammer(platform, token, body, 2);
  await platform.waitForQuiet(APP_ROLE);
  const sampler = new PgActivitySampler(owner, 50);
  const a = await platform.stats();
  const window = performance.now();
  sampler.start();
  const { result, graphqlErrors } = await hammer(platform, token, body, SECONDS);
  sampler.stop();
  // Requests autocannon sent but stopped waiting for at its deadline finish on the server first:
  // their statements count, and so do they (requests.sent, not requests.total).
  await platform.waitForQuiet(APP_ROLE);
  const b = await platform.stats();
  const windowSeconds = (performance.now() - window) / 1000;
  const loadDelta = countsDelta(a.counts, b.counts, APP_ROLE);
  const seconds = result.duration || SECONDS;
  return {
    captured,
    level: {
      first,
      responseBytes: JSON.stringify({ data: sample }).length,
      datasets: sample.datasets.edges.length,
      jobs: sample.jobs.edges.length,
      sequential: { requests: SEQUENTIAL, perRequest: perRequest(seqDelta, SEQUENTIAL), exact, latencyMs: { p50: round(distribution(alone).p50, 1), max: round(distribution(alone).max, 1) } },
      statements,
      load: {
        connections: CONNECTIONS,
        seconds: round(seconds, 1),
        requests: result.requests.total,
        requestsPerSecond: round(result.requests.total / seconds, 1),
        latencyMs: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99, max: result.latency.max, mean: round(result.latency.mean, 1) },
        non2xx: result.non2xx,
        errors: result.errors,
        timeouts: result.timeouts,
        graphqlErrors,
        dataStatementsPerRequest: round(loadDelta.data / Math.max(1, result.requests.sent), 2),
        // Over the run and the tail of requests it left running.
        platformCpuCores: round(cpuSeconds(a, b) / windowSeconds, 2),
        platformCpuMsPerRequest: round(cpuSeconds(a, b) * 1000 / Math.max(1, result.requests.sent), 1),
        postgresWaits: Object.fromEntries(Object.entries(sampler.byWait()).slice(0, 6).map(([k, v]) => [k, round(v, 2)])),
      },
    },
  };
}

async function main(): Promise<number> {
  const load = { start: loadavg().map((x) => round(x, 2)), end: [] as number[] };
  console.log(`graphql-read: first ∈ {${FIRSTS.join(', ')}}, ${CONNECTIONS} connections × ${SECONDS} s; load average ${load.start.join(' ')}`);
  const platform = await PlatformProcess.start(PLATFORM_ENV);
  const owner = new Client({ connectionString: platform.ownerUrl, application_name: 'bench-sampler' });
  try {
    const truth = await seedDashboardData(platform.ownerUrl, SEED);
    await owner.connect();
    const token = await platform.token(USER.username);
    const levels: Level[] = [];
    const captures = new Map<number, CapturedStatement[]>();
    for (const first of FIRSTS) {
      const { level, captured } = await measureLevel(platform, token, owner, first);
      levels.push(level);
      captures.set(first, captured);
      console.log(`  first ${first}: ${level.load.requestsPerSecond} req/s, p99 ${level.load.latencyMs.p99} ms, ${level.sequential.perRequest.data} data statements/request`);
    }

    printTable(`Dashboard query as ${USER.username}@${USER.tenant}, ${CONNECTIONS} connections, ${SECONDS} s per level`, levels.map((l) => ({
      first: l.first, 'resp KB': round(l.responseBytes / 1024, 1), 'alone ms': l.sequential.latencyMs.p50, 'req/s': l.load.requestsPerSecond, 'p50 ms': l.load.latencyMs.p50,
      'p90 ms': l.load.latencyMs.p90, 'p99 ms': l.load.latencyMs.p99, 'data stmts/req': l.sequential.perRequest.data,
      'tx/req': l.sequential.perRequest.transactions, 'all stmts/req': l.sequential.perRequest.statements,
      'data/req under load': l.load.dataStatementsPerRequest, 'platform cores': l.load.platformCpuCores, 'CPU ms/req': l.load.platformCpuMsPerRequest,
      'errors': l.load.non2xx + l.load.errors + l.load.timeouts + l.load.graphqlErrors,
    })));
    const dataCounts = new Set(levels.map((l) => l.sequential.perRequest.data));
    const constant = dataCounts.size === 1 && levels.every((l) => l.sequential.exact);
    console.log(`\nstatements per request constant as first grows: ${constant ? 'yes' : 'NO'} (${levels.map((l) => `${l.first}: ${l.sequential.perRequest.data}`).join(', ')})`);
    console.log(`one request's data statements: ${levels[0].statements.join(' · ')}`);
    console.log('PostgreSQL backends by wait (average busy per 50 ms sample):');
    for (const l of levels) console.log(`  first ${l.first}: ${Object.entries(l.load.postgresWaits).map(([k, v]) => `${k} ${v}`).join(', ')}`);

    // Row-level security, statement by statement, for each captured request.
    const casia = truth.get(USER.tenant)!;
    const rls = new Map<number, RlsCost>();
    for (const first of FIRSTS) {
      const txs = transactionsOf(captures.get(first)!, APP_ROLE);
      const userId = String(txs[0].settings[0]);
      rls.set(first, await measureRlsCost(platform.appUrl, platform.ownerUrl, txs, { tenantId: casia.tenantId, userId }, SQL_RUNS));
    }
    const main20 = rls.get(FIRSTS.includes(20) ? 20 : FIRSTS[0])!;
    printTable(`RLS vs explicit WHERE, per statement of one request (first ${FIRSTS.includes(20) ? 20 : FIRSTS[0]}; ${SQL_RUNS} runs each way; µs at the client)`,
      main20.statements.map((s) => ({
        statement: s.label, rows: s.rows, 'RLS p50': round(s.rlsUs.p50, 0), 'RLS p90': round(s.rlsUs.p90, 0),
        'explicit p50': round(s.explicitUs.p50, 0), 'explicit p90': round(s.explicitUs.p90, 0), ratio: round(s.ratio, 2),
        'server RLS': round(s.rlsServerUs.p50, 0), 'server explicit': round(s.explicitServerUs.p50, 0), 'server ratio': round(s.serverRatio, 2),
      })));
    printTable('RLS cost per request (sum of the statements\' medians)', FIRSTS.map((f) => {
      const r = rls.get(f)!;
      return {
        first: f, 'RLS µs': round(r.totalRlsUs, 0), 'explicit µs': round(r.totalExplicitUs, 0), ratio: round(r.ratio, 2),
        'server RLS µs': round(r.totalRlsServerUs, 0), 'server explicit µs': round(r.totalExplicitServerUs, 0), 'server ratio': round(r.serverRatio, 2),
      };
    }));

    // Plans of the heaviest statements at the largest page, both ways.
    const biggest = FIRSTS[FIRSTS.length - 1];
    const txs = transactionsOf(captures.get(biggest)!, APP_ROLE);
    const plans: Record<string, { rls: string; explicit: string }> = {};
    const heaviest = [...rls.get(biggest)!.statements].sort((x, y) => y.rlsUs.p50 - x.rlsUs.p50).slice(0, 3);
    for (const s of heaviest) {
      const tx = txs.find((t) => t.statements.some((st) => st.text === s.sql))!;
      plans[s.label] = await explainBothWays(platform.appUrl, platform.ownerUrl, tx, tx.statements.find((st) => st.text === s.sql)!, { tenantId: casia.tenantId, userId: String(tx.settings[0]) });
    }
    console.log(`\nEXPLAIN ANALYZE with RLS, first ${biggest}, the slowest statement (${heaviest[0].label}):\n${plans[heaviest[0].label].rls}`);

    load.end = loadavg().map((x) => round(x, 2));
    const failed = levels.filter((l) => l.load.non2xx + l.load.errors + l.load.timeouts + l.load.graphqlErrors > 0);
    const file = writeResult(SEED.foreignPrivateVersions ? `graphql-read-foreign-${SEED.foreignPrivateVersions}` : 'graphql-read', {
      config: { firsts: FIRSTS, seconds: SECONDS, connections: CONNECTIONS, sequential: SEQUENTIAL, sqlRuns: SQL_RUNS, seed: SEED, user: USER, platformEnv: PLATFORM_ENV },
      loadAverage: load,
      statementsCounted: 'pg.Client#query calls of the alliance_app role in the platform process; data = not BEGIN/COMMIT/set_config',
      constantStatementsPerRequest: constant,
      levels,
      rls: Object.fromEntries([...rls].map(([f, r]) => [f, {
        ratio: round(r.ratio, 3), totalRlsUs: round(r.totalRlsUs, 0), totalExplicitUs: round(r.totalExplicitUs, 0),
        serverRatio: round(r.serverRatio, 3), totalRlsServerUs: round(r.totalRlsServerUs, 0), totalExplicitServerUs: round(r.totalExplicitServerUs, 0),
        statements: r.statements.map((s) => ({
          label: s.label, rows: s.rows, ratio: round(s.ratio, 3), rlsUs: roundDist(s.rlsUs), explicitUs: roundDist(s.explicitUs),
          serverRatio: round(s.serverRatio, 3), rlsServerUs: roundDist(s.rlsServerUs), explicitServerUs: roundDist(s.explicitServerUs), sql: s.sql,
        })),
      }])),
      plans,
    });
    console.log(`\nload average ${load.start.join(' ')} → ${load.end.join(' ')} (2 cores; other sessions share them)`);
    console.log(`wrote ${file}`);
    if (!constant) console.error('FAILED: statements per request change with first (N+1)');
    if (failed.length) console.error(`FAILED: errors at first ${failed.map((l) => l.first).join(', ')}`);
    return constant && !failed.length ? 0 : 1;
  } finally {
    await owner.end().catch(() => undefined);
    await platform.close();
  }
}

function roundDist(d: ReturnType<typeof distribution>) {
  return { count: d.count, p50: round(d.p50, 0), p90: round(d.p90, 0), p99: round(d.p99, 0), max: round(d.max, 0), mean: round(d.mean, 0) };
}

main().then((code) => process.exit(code), (err) => {
  console.error(err);
  process.exit(1);
});
