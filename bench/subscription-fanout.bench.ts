// Subscription fan-out (issue 5, "Benchmarks"): up to 2,000 concurrent graphql-ws subscribers on
// one API process (all-in-one: API, scheduler and a worker), each with a `tenantJobEvents`
// subscription, spread over the demo tenants' five users (casia: alice, dave; whu: bob, erin;
// iqiyi: carol). Small jobs submitted in each tenant drive the events; every delivery is timed.
// Run:
//   cd /work/main && node -r @swc-node/register bench/subscription-fanout.bench.ts     (npm run bench:fanout)
// Knobs (env): BENCH_LEVELS subscriber counts raised in turn (250,500,1000,2000),
// BENCH_CLIENT_PROCS processes holding the subscribers (2), BENCH_DRIVE_SECONDS per level (8),
// BENCH_JOB_INTERVAL_MS between one tenant's submissions (1000), BENCH_ITEMS per job (2).
// Writes bench/results/subscription-fanout.json.
//
// The subscribers live in child processes (bench/harness/fanout-client.ts), so the RSS and CPU
// reported for the API process are the platform's. Latency per delivery, two references:
//   from the row — the job_event row's `at` (clock_timestamp() at insert, inside the transaction;
//                  the commit follows within a few statements);
//   from NOTIFY  — when a separate LISTEN connection (the probe process) received the event's
//                  notification, i.e. right after commit: the platform's own share of the time.
// All processes run on one machine and read one clock. "Exactly once": for every subscriber,
// each event of its tenant's measured jobs delivered once — no miss, no duplicate — and no
// event of another tenant's job at all.
import { execSync, fork, type ChildProcess } from 'node:child_process';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Client } from 'pg';
import { fromGlobalId, toGlobalId } from '../core/global-id';
import { scaleModel } from '../model-runtime/engine/__fixtures__/tiny-models';
import { deployTensorEndpoint, tensorItem } from '../test/harness/model-factory';
import { startBenchPlatform, roomyQuota } from './harness/bench-platform';
import { distribution, printTable, round, rssMb, sleep, wallClockMs, writeResult, type Distribution } from './harness/bench-report';
import type { FanoutRequest, LevelReport } from './harness/fanout-client';

const LEVELS = (process.env.BENCH_LEVELS ?? '250,500,1000,2000').split(',').map(Number);
const CLIENT_PROCS = Number(process.env.BENCH_CLIENT_PROCS ?? 2);
const DRIVE_SECONDS = Number(process.env.BENCH_DRIVE_SECONDS ?? 8);
const JOB_INTERVAL_MS = Number(process.env.BENCH_JOB_INTERVAL_MS ?? 1000);
const ITEMS = Number(process.env.BENCH_ITEMS ?? 2);
const CONNECT_BATCH = 50;

const PLATFORM_ENV = { WORKER_SLOTS: '2', SCHEDULER_TICK_MS: '200', MAX_SHARD_ITEMS: '64', ONNX_INTRA_OP_THREADS: '1' };
/** Subscribers cycle through these users; the submitters are each tenant's owner. */
const USERS = [
  { username: 'alice', tenant: 'casia' }, { username: 'bob', tenant: 'whu' }, { username: 'carol', tenant: 'iqiyi' },
  { username: 'dave', tenant: 'casia' }, { username: 'erin', tenant: 'whu' },
];
const SUBMITTERS = [{ username: 'alice', tenant: 'casia' }, { username: 'bob', tenant: 'whu' }, { username: 'carol', tenant: 'iqiyi' }];
const SUBMIT = `mutation($input: SubmitJobInput!) { submitJob(input: $input) { job { id } } }`;

/** One child process, one request at a time. */
class Child {
  private readonly proc: ChildProcess;
  private readonly ready: Promise<void>;

  constructor(role: 'clients' | 'probe') {
    this.proc = fork(join(__dirname, 'harness', 'fanout-client.ts'), [role], { execArgv: ['-r', '@swc-node/register'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.ready = this.reply('ready').then(() => undefined);
  }

  get pid(): number {
    return this.proc.pid!;
  }

  private reply<T = any>(type: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const onMessage = (m: any) => {
        if (m.type === 'error') {
          cleanup();
          reject(new Error(`child ${this.proc.pid}: ${m.message}`));
        } else if (m.type === type) {
          cleanup();
          resolve(m);
        }
      };
      const onExit = (code: number | null) => {
        cleanup();
        reject(new Error(`child ${this.proc.pid} exited (${code}) while waiting for ${type}`));
      };
      const cleanup = () => {
        this.proc.off('message', onMessage);
        this.proc.off('exit', onExit);
      };
      this.proc.on('message', onMessage);
      this.proc.on('exit', onExit);
    });
  }

  async request<T = any>(message: FanoutRequest, replyType: string): Promise<T> {
    await this.ready;
    const answer = this.reply<T>(replyType);
    this.proc.send(message);
    return answer;
  }

  kill(): void {
    if (this.proc.exitCode === null) this.proc.kill('SIGKILL');
  }
}

interface LevelResult {
  subscribers: number;
  connectSeconds: number;
  /** CPU time of the API process per socket connected and subscribed (auth at connection_init, subscribe). */
  connectApiCpuMsPerSocket: number;
  connectFailures: number;
  connectErrors: string[];
  jobs: number;
  events: number;
  expectedDeliveries: number;
  delivered: number;
  missing: number;
  duplicates: number;
  foreign: number;
  subscribersComplete: number;
  closedSubscribers: number;
  fromRowMs: Distribution;
  fromNotifyMs: Distribution;
  /** Deliveries ÷ (last delivery − start of the drive). */
  deliveriesPerSecond: number;
  /** CPU time of the API process from the start of the drive to the last delivery, and per delivery. */
  apiCpu: { ms: number; usPerDelivery: number };
  clientCpuMs: number[];
  /** Before any subscriber, once this level's subscribers are connected (before the drive), and the peak during it. */
  apiRssMb: { idle: number; connected: number; peak: number };
  clientRssMb: number[];
  apiEventLoopDelayMs: { p50: number; p99: number; max: number };
  loadAverage: number[];
}

async function main(): Promise<void> {
  console.log(`subscription-fanout bench: levels ${LEVELS.join(' → ')}, ${CLIENT_PROCS} client processes, ` +
    `${DRIVE_SECONDS} s of jobs per level (one per tenant every ${JOB_INTERVAL_MS} ms, ${ITEMS} items)`);
  const bench = await startBenchPlatform(PLATFORM_ENV);
  const { tp } = bench;
  const owner = new Client({ connectionString: bench.ownerUrl });
  await owner.connect();
  const clients = Array.from({ length: CLIENT_PROCS }, () => new Child('clients'));
  const probe = new Child('probe');
  const levels: LevelResult[] = [];
  let stoppedBecause: string | null = null;
  try {
    const endpoints: Record<string, string> = {};
    for (const s of SUBMITTERS) {
      endpoints[s.tenant] = (await deployTensorEndpoint(tp, s.username, s.tenant, `fanout-${s.tenant}`, scaleModel(2))).endpointId;
      await roomyQuota(tp, s.tenant, 2);
    }
    await probe.request({ type: 'probe-start', url: bench.ownerUrl }, 'probe-started');
    const jobTenant: Record<string, string> = {};
    const submit = async (s: (typeof SUBMITTERS)[number], n: number): Promise<string> => {
      const data = await tp.as(s.username, SUBMIT, { input: { endpointId: endpoints[s.tenant], inputs: Array.from({ length: ITEMS }, (_, i) => tensorItem([n, i, 0])) } });
      const id = data.submitJob.job.id as string;
      jobTenant[id] = s.tenant;
      return id;
    };
    let jobCounter = 0;
    const idleRss = rssMb();
    let connected = 0;

    for (const level of LEVELS) {
      // 1. Raise the subscriber count to `level`, spread over users and processes.
      const add = level - connected;
      const startConnect = wallClockMs();
      const connectCpu = process.cpuUsage();
      // Fresh tokens per level: a socket is closed when the token it opened with expires (300 s).
      const tokens = Object.fromEntries(await Promise.all(USERS.map(async (u) => [u.username, await tp.platform.devRealm!.issueToken(u.username)] as const)));
      const assignments = Array.from({ length: add }, (_, i) => {
        const u = USERS[(connected + i) % USERS.length];
        return { tenant: u.tenant, token: tokens[u.username] };
      });
      const perChild = clients.map((_, c) => assignments.filter((_, i) => i % CLIENT_PROCS === c));
      const answers = await Promise.all(clients.map((child, c) => child.request<{ ok: number; failed: number; errors: string[] }>(
        { type: 'connect', wsUrl: tp.wsUrl, clients: perChild[c], batch: CONNECT_BATCH }, 'connected')));
      const ok = answers.reduce((a, b) => a + b.ok, 0);
      const failed = answers.reduce((a, b) => a + b.failed, 0);
      const connectErrors = [...new Set(answers.flatMap((a) => a.errors))];
      connected += ok;
      const connectSeconds = (wallClockMs() - startConnect) / 1000;
      const connectCpuUsed = process.cpuUsage(connectCpu);
      const connectedRss = rssMb();
      console.log(`level ${level}: ${connected} subscribers connected (${failed} failed); ${ok} new in ${round(connectSeconds)} s, ` +
        `${round((connectCpuUsed.user + connectCpuUsed.system) / 1000 / Math.max(1, ok), 2)} ms of API CPU each`);

      // 2. Wait until every subscription is live: each sees an event of its tenant's sync job.
      const syncJobs: Record<string, string[]> = {};
      for (const s of SUBMITTERS) syncJobs[s.tenant] = [];
      const deadlineSync = wallClockMs() + 30_000;
      let live = 0;
      while (wallClockMs() < deadlineSync) {
        for (const s of SUBMITTERS) syncJobs[s.tenant].push(await submit(s, jobCounter++));
        await sleep(700);
        live = (await Promise.all(clients.map((c) => c.request<{ count: number }>({ type: 'seen', jobsByTenant: syncJobs }, 'seen')))).reduce((a, b) => a + b.count, 0);
        if (live >= connected) break;
      }
      if (live < connected) console.log(`  only ${live} of ${connected} subscriptions delivered a sync event within 30 s`);
      // Let the sync jobs finish so their events do not overlap the measured window.
      await waitTerminal(owner, Object.values(syncJobs).flat());

      // 3. Drive: one job per tenant every JOB_INTERVAL_MS, open loop; sample the API's RSS and event loop.
      const measured: string[] = [];
      const loopDelay = monitorEventLoopDelay({ resolution: 10 });
      loopDelay.enable();
      let peakRss = rssMb();
      const sampler = setInterval(() => (peakRss = Math.max(peakRss, rssMb())), 250);
      const driveStart = wallClockMs();
      const cpuStart = process.cpuUsage();
      const submissions: Promise<void>[] = [];
      for (let tick = 0; wallClockMs() < driveStart + DRIVE_SECONDS * 1000; tick++) {
        for (const s of SUBMITTERS) submissions.push(submit(s, jobCounter++).then((id) => void measured.push(id)));
        await sleep(Math.max(0, driveStart + (tick + 1) * JOB_INTERVAL_MS - wallClockMs()));
      }
      await Promise.all(submissions);
      await waitTerminal(owner, measured);

      // 4. Expected deliveries from the rows; wait until they have all arrived (or 15 s).
      const { rows } = await owner.query(
        `SELECT job_id, seq, extract(epoch FROM at) * 1000 AS at FROM job_event WHERE job_id = ANY($1::uuid[])`,
        [measured.map((id) => fromGlobalId(id, 'Job'))]);
      const expectedByTenant: Record<string, string[]> = {};
      const commitAt: Record<string, number> = {};
      for (const r of rows) {
        const jobId = toGlobalId('Job', r.job_id);
        const key = `${jobId}:${r.seq}`;
        (expectedByTenant[jobTenant[jobId]] ??= []).push(key);
        commitAt[key] = Number(r.at);
      }
      const settleDeadline = wallClockMs() + 15_000;
      while (wallClockMs() < settleDeadline) {
        const complete = (await Promise.all(clients.map((c) => c.request<{ count: number }>({ type: 'complete', expectedByTenant }, 'complete'))))
          .reduce((a, b) => a + b.count, 0);
        if (complete >= connected) break;
        await sleep(250);
      }
      // Anything still in flight after completion would be a duplicate: give it a moment to show.
      const cpu = process.cpuUsage(cpuStart);
      await sleep(500);
      clearInterval(sampler);
      loopDelay.disable();
      const { notifyAt: notifyByUuid } = await probe.request<{ notifyAt: Record<string, number> }>({ type: 'probe-report' }, 'probe-report');
      const notifyAt: Record<string, number> = {};
      for (const [key, at] of Object.entries(notifyByUuid)) {
        const [uuid, seq] = key.split(':');
        notifyAt[`${toGlobalId('Job', uuid)}:${seq}`] = at;
      }
      const reports = (await Promise.all(clients.map((c) => c.request<{ report: LevelReport }>(
        { type: 'report', jobTenant, expectedByTenant, commitAt, notifyAt }, 'report')))).map((r) => r.report);
      const sum = (f: (r: LevelReport) => number) => reports.reduce((a, r) => a + f(r), 0);
      const fromRow = reports.flatMap((r) => r.fromRowMs);
      const result: LevelResult = {
        subscribers: connected, connectSeconds, connectFailures: failed, connectErrors,
        connectApiCpuMsPerSocket: (connectCpuUsed.user + connectCpuUsed.system) / 1000 / Math.max(1, ok),
        jobs: measured.length, events: rows.length,
        expectedDeliveries: sum((r) => r.expected), delivered: sum((r) => r.delivered), missing: sum((r) => r.missing),
        duplicates: sum((r) => r.duplicates), foreign: sum((r) => r.foreign), subscribersComplete: sum((r) => r.clientsComplete),
        closedSubscribers: sum((r) => r.closedClients),
        fromRowMs: distribution(fromRow), fromNotifyMs: distribution(reports.flatMap((r) => r.fromNotifyMs)),
        deliveriesPerSecond: sum((r) => r.delivered) / ((Math.max(...reports.map((r) => r.lastReceiptAt)) - driveStart) / 1000),
        apiCpu: { ms: (cpu.user + cpu.system) / 1000, usPerDelivery: ((cpu.user + cpu.system) / sum((r) => r.delivered)) },
        clientCpuMs: reports.map((r) => round(r.cpuMs)),
        apiRssMb: { idle: idleRss, connected: connectedRss, peak: peakRss }, clientRssMb: reports.map((r) => round(r.rssMb)),
        apiEventLoopDelayMs: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
        loadAverage: loadavg().map((l) => round(l, 2)),
      };
      levels.push(result);
      console.log(`  ${result.jobs} jobs, ${result.events} events → ${result.delivered}/${result.expectedDeliveries} deliveries ` +
        `(${result.missing} missing, ${result.duplicates} duplicates, ${result.foreign} foreign); ` +
        `p50 ${round(result.fromRowMs.p50)} ms, p99 ${round(result.fromRowMs.p99)} ms from the row; API RSS peak ${round(peakRss)} MB`);
      if (failed) {
        stoppedBecause = `connecting ${level} subscribers: ${failed} failed (${connectErrors.join('; ')})`;
        break;
      }
    }
  } finally {
    await Promise.all(clients.map((c) => c.request({ type: 'close' }, 'closed').catch(() => undefined)));
    await probe.request({ type: 'close' }, 'closed').catch(() => undefined);
    for (const c of [...clients, probe]) c.kill();
    await owner.end();
    await bench.close();
  }

  printTable('Fan-out of tenantJobEvents (latency per delivery, ms; "row" = job_event.at, "notify" = a LISTEN probe’s receipt)', levels.map((l) => ({
    subscribers: l.subscribers, jobs: l.jobs, events: l.events, deliveries: `${l.delivered}/${l.expectedDeliveries}`,
    missing: l.missing, dup: l.duplicates, foreign: l.foreign, 'row p50': l.fromRowMs.p50, 'row p99': l.fromRowMs.p99, 'row max': l.fromRowMs.max,
    'notify p50': l.fromNotifyMs.p50, 'notify p99': l.fromNotifyMs.p99, 'deliv/s': l.deliveriesPerSecond,
    'RSS conn MB': l.apiRssMb.connected, 'RSS peak MB': l.apiRssMb.peak, 'loop p99 ms': l.apiEventLoopDelayMs.p99, 'API CPU µs/deliv': l.apiCpu.usPerDelivery,
  })));
  const largest = levels.filter((l) => l.connectFailures === 0).at(-1)?.subscribers ?? 0;
  console.log(`\nAPI RSS with no subscriber: ${round(levels[0]?.apiRssMb.idle ?? NaN)} MB. Largest level with every socket connected: ${largest}` +
    `${stoppedBecause ? `; stopped: ${stoppedBecause}` : ''} (ulimit -n ${ulimit()} per process; the subscribers are split over ${CLIENT_PROCS} processes).`);
  const file = writeResult('subscription-fanout', {
    setup: { levels: LEVELS, clientProcesses: CLIENT_PROCS, ulimitN: ulimit(), driveSeconds: DRIVE_SECONDS, jobIntervalMs: JOB_INTERVAL_MS, itemsPerJob: ITEMS,
      platformEnv: PLATFORM_ENV, users: USERS, subscription: 'tenantJobEvents { jobId seq type }' },
    levels, largestFullyConnected: largest, stoppedBecause,
  });
  console.log(`wrote ${file}`);
  const bad = levels.some((l) => l.missing || l.duplicates || l.foreign);
  if (bad) process.exitCode = 1;
}

function ulimit(): string {
  try {
    return execSync('ulimit -n', { shell: '/bin/sh' }).toString().trim();
  } catch {
    return '?';
  }
}

async function waitTerminal(owner: Client, globalIds: string[], timeoutMs = 60_000): Promise<void> {
  const ids = globalIds.map((id) => fromGlobalId(id, 'Job'));
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const { rows } = await owner.query(`SELECT count(*)::int AS open FROM job WHERE id = ANY($1::uuid[]) AND status NOT IN ('SUCCEEDED', 'FAILED', 'CANCELLED')`, [ids]);
    if (rows[0].open === 0) return;
    await sleep(100);
  }
  throw new Error(`${ids.length} jobs not finished within ${timeoutMs} ms`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
