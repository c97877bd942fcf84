// Jobs pipeline throughput (issue 5, "Benchmarks"): trivial jobs end to end — submitJob over
// HTTP, quota hold, scheduler pass, pg-boss, worker, shard commit with results, CAPTURE and
// RELEASE, job events over graphql-ws — against the raw queue's own throughput measured in the
// same run on the same PostgreSQL with the same concurrency (bench/harness/raw-queue.ts).
// Run:
//   cd /work/main && node -r @swc-node/register bench/jobs-pipeline.bench.ts     (npm run bench:jobs)
// Knobs (env): BENCH_SLOTS worker slots (4), BENCH_CONCURRENCY jobs in flight (2 × slots),
// BENCH_ITEMS items per job (4), BENCH_SECONDS each platform run (20), BENCH_RAW_SECONDS each raw
// run (10), BENCH_SERIAL_JOBS jobs run one at a time (20). Writes bench/results/jobs-pipeline.json.
//
// Closed loop: each of C submitters submits a job, waits for its SUCCEEDED event on a
// `tenantJobEvents` subscription, and submits the next. Latency is submit call → SUCCEEDED event
// received. The platform runs twice: every job in one tenant (casia), then spread over the three
// demo tenants — each tenant's quota balance row is locked by every hold, capture and release of
// its jobs, so one tenant's jobs queue behind each other there (see the PostgreSQL table).
// Afterwards every measured job is checked in the database: SUCCEEDED, one result per item,
// captured + released = reserved, contiguous event seqs each received exactly once, and the
// ledger invariants (tenants/ledger-invariants.ts). The stage breakdown uses the job_event rows'
// `at` (clock_timestamp() at insert, inside each stage's transaction) against the client's wall
// clock — one machine, one clock.
import { loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { Client } from 'pg';
import { fromGlobalId } from '../core/global-id';
import { scaleModel } from '../model-runtime/engine/__fixtures__/tiny-models';
import { ledgerViolations } from '../tenants/ledger-invariants';
import { deployTensorEndpoint, tensorItem } from '../test/harness/model-factory';
import { startBenchPlatform, roomyQuota } from './harness/bench-platform';
import { distribution, printTable, round, rssMb, sleep, wallClockMs, writeResult, type Distribution } from './harness/bench-report';
import { PgActivitySampler, type ActivityShare } from './harness/pg-activity-sampler';
import { rawQueueRun, type RawQueueResult } from './harness/raw-queue';

const SLOTS = Number(process.env.BENCH_SLOTS ?? 4);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? SLOTS * 2);
const ITEMS = Number(process.env.BENCH_ITEMS ?? 4);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 20);
const RAW_SECONDS = Number(process.env.BENCH_RAW_SECONDS ?? 10);
const WARMUP_JOBS = CONCURRENCY * 2;
const SERIAL_JOBS = Number(process.env.BENCH_SERIAL_JOBS ?? 20);

const PLATFORM_ENV = {
  WORKER_SLOTS: String(SLOTS),
  // Passes run on every submit and every shard commit (NOTIFY); the tick is only the fallback.
  SCHEDULER_TICK_MS: '200',
  // A trivial job is one shard: the tiny model's measured per-item time would allow more.
  MAX_SHARD_ITEMS: '64',
  ONNX_INTRA_OP_THREADS: '1',
};

/** Each tenant's owner submits; quota and endpoint are per tenant. */
const TENANTS = [{ username: 'alice', tenant: 'casia' }, { username: 'bob', tenant: 'whu' }, { username: 'carol', tenant: 'iqiyi' }];
const SUBMIT = `mutation($input: SubmitJobInput!) { submitJob(input: $input) { job { id } } }`;
const TERMINAL = new Set(['SUCCEEDED', 'FAILED', 'CANCELLED']);

interface ReceivedEvent {
  seq: number;
  type: string;
  receivedAt: number;
}

interface JobSample {
  jobId: string;
  submitStartedAt: number;
  submitAnsweredAt: number;
  doneAt: number;
}

/** Events of one tenant as a dashboard receives them; resolves waiters on terminal events. */
class TenantEventLog {
  readonly byJob = new Map<string, ReceivedEvent[]>();
  private readonly waiters = new Map<string, (at: number) => void>();
  private readonly terminalAt = new Map<string, number>();

  record(event: { jobId: string; seq: number; type: string }): void {
    const receivedAt = wallClockMs();
    const jobId = fromGlobalId(event.jobId, 'Job');
    let list = this.byJob.get(jobId);
    if (!list) this.byJob.set(jobId, (list = []));
    list.push({ seq: event.seq, type: event.type, receivedAt });
    if (TERMINAL.has(event.type)) {
      this.terminalAt.set(jobId, receivedAt);
      this.waiters.get(jobId)?.(receivedAt);
    }
  }

  /** The terminal event may arrive before the submit's HTTP answer is read: both orders work. */
  finished(jobId: string, timeoutMs = 60_000): Promise<number> {
    const at = this.terminalAt.get(jobId);
    if (at !== undefined) return Promise.resolve(at);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no terminal event for job ${jobId} within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.set(jobId, (receivedAt) => {
        clearTimeout(timer);
        this.waiters.delete(jobId);
        resolve(receivedAt);
      });
    });
  }
}

interface Submitter {
  tenant: string;
  token: string;
  endpointId: string;
}

interface PlatformRun {
  label: string;
  tenants: number;
  jobs: number;
  seconds: number;
  jobsPerSecond: number;
  itemsPerSecond: number;
  latencyMs: Distribution;
  submitHttpMs: Distribution;
  stagesMs: Record<string, Distribution>;
  schedulerPasses: number;
  /** Duration of each scheduler pass (one transaction), shards per pass, and the share of the run a pass was in progress. */
  scheduler: { passMs: Distribution; shardsPerPass: number; busyShare: number };
  rssMb: { before: number; after: number };
  /** This process: the platform and the bench's own HTTP/ws clients. */
  cpuShareOfOneCore: number;
  eventLoopDelayMs: { p50: number; p99: number; max: number };
  postgres: { top: ActivityShare[]; byWait: Record<string, number> };
  loadAverage: { before: number[]; after: number[] };
}

async function main(): Promise<void> {
  console.log(`jobs-pipeline bench: ${SLOTS} worker slots, ${CONCURRENCY} jobs in flight, ${ITEMS} items per job, ` +
    `${SECONDS} s per platform run, ${RAW_SECONDS} s per raw-queue run`);
  const bench = await startBenchPlatform(PLATFORM_ENV);
  const { tp } = bench;
  const owner = new Client({ connectionString: bench.ownerUrl });
  await owner.connect();
  const activity = new Client({ connectionString: bench.ownerUrl, application_name: 'bench-sampler' });
  await activity.connect();
  const sockets: { dispose(): unknown }[] = [];
  try {
    const log = new TenantEventLog();
    let streamError: unknown;
    const submitters: Submitter[] = [];
    for (const { username, tenant } of TENANTS) {
      const { endpointId } = await deployTensorEndpoint(tp, username, tenant, `bench-scale-${tenant}`, scaleModel(2));
      await roomyQuota(tp, tenant, SLOTS);
      const token = await tp.token(username);
      submitters.push({ tenant, token, endpointId });
      const ws = tp.wsClient({ authorization: `Bearer ${token}` });
      sockets.push(ws);
      ws.subscribe({ query: `subscription { tenantJobEvents { jobId seq type } }` }, {
        next: (v: any) => log.record(v.data.tenantJobEvents),
        error: (err) => (streamError = err),
        complete: () => undefined,
      });
    }

    // Times every scheduler pass (instrumentation only: the pass itself is unchanged).
    const passLog: { ms: number; shards: number }[] = [];
    const scheduler = tp.platform.jobs.scheduler!;
    const pass = scheduler.pass.bind(scheduler);
    scheduler.pass = async () => {
      const t0 = wallClockMs();
      const shards = await pass();
      passLog.push({ ms: wallClockMs() - t0, shards });
      return shards;
    };

    let jobNumber = 0;
    const oneJob = async (s: Submitter): Promise<JobSample> => {
      const n = jobNumber++;
      const inputs = Array.from({ length: ITEMS }, (_, i) => tensorItem([n, i, 1]));
      const submitStartedAt = wallClockMs();
      const res = await tp.gql(SUBMIT, { input: { endpointId: s.endpointId, inputs } }, { token: s.token });
      const submitAnsweredAt = wallClockMs();
      if (res.errors?.length) throw new Error(`submitJob: ${JSON.stringify(res.errors)}`);
      const jobId = fromGlobalId(res.data!.submitJob.job.id, 'Job');
      const doneAt = await log.finished(jobId).catch(async (err) => {
        console.error('a job never finished:', JSON.stringify(await diagnose(owner, jobId)));
        throw err;
      });
      return { jobId, submitStartedAt, submitAnsweredAt, doneAt };
    };
    /** `concurrency` loops, loop k submitting as tenant k mod `tenants`. */
    const closedLoop = async (until: (started: number) => boolean, concurrency: number, tenants: number): Promise<JobSample[]> => {
      const samples: JobSample[] = [];
      let started = 0;
      await Promise.all(Array.from({ length: concurrency }, async (_, k) => {
        while (!until(started)) {
          started++;
          samples.push(await oneJob(submitters[k % tenants]));
        }
      }));
      return samples;
    };
    const measure = async (label: string, tenants: number): Promise<{ run: PlatformRun; samples: JobSample[] }> => {
      console.log(`platform, ${label} …`);
      const passesBefore = tp.platform.jobs.scheduler?.passes ?? 0;
      passLog.length = 0;
      const rssBefore = rssMb();
      const loadBefore = loadavg();
      const sampler = new PgActivitySampler(activity);
      const loopDelay = monitorEventLoopDelay({ resolution: 10 });
      const cpuStart = process.cpuUsage();
      sampler.start();
      loopDelay.enable();
      const started = wallClockMs();
      const samples = await closedLoop(() => wallClockMs() >= started + SECONDS * 1000, CONCURRENCY, tenants);
      const seconds = (Math.max(...samples.map((s) => s.doneAt)) - started) / 1000;
      sampler.stop();
      loopDelay.disable();
      const cpu = process.cpuUsage(cpuStart);
      const jobsPerSecond = samples.length / seconds;
      return {
        samples,
        run: {
          label, tenants, jobs: samples.length, seconds, jobsPerSecond, itemsPerSecond: jobsPerSecond * ITEMS,
          latencyMs: distribution(samples.map((s) => s.doneAt - s.submitStartedAt)),
          submitHttpMs: distribution(samples.map((s) => s.submitAnsweredAt - s.submitStartedAt)),
          stagesMs: await stageBreakdown(owner, samples),
          schedulerPasses: (tp.platform.jobs.scheduler?.passes ?? 0) - passesBefore,
          scheduler: {
            passMs: distribution(passLog.map((p) => p.ms)),
            shardsPerPass: passLog.reduce((a, p) => a + p.shards, 0) / Math.max(1, passLog.length),
            busyShare: passLog.reduce((a, p) => a + p.ms, 0) / (seconds * 1000),
          },
          rssMb: { before: rssBefore, after: rssMb() },
          cpuShareOfOneCore: (cpu.user + cpu.system) / 1000 / (seconds * 1000),
          eventLoopDelayMs: { p50: loopDelay.percentile(50) / 1e6, p99: loopDelay.percentile(99) / 1e6, max: loopDelay.max / 1e6 },
          postgres: { top: sampler.top(15), byWait: sampler.byWait() },
          loadAverage: { before: loadBefore, after: loadavg() },
        },
      };
    };

    // Every subscription is live once it delivers anything: probe jobs until each has.
    for (const s of submitters) {
      const probes: string[] = [];
      for (let i = 0; !probes.some((id) => log.byJob.has(id)); i++) {
        if (i === 50) throw new Error(`tenantJobEvents of ${s.tenant} delivered nothing`);
        const res = await tp.gql(SUBMIT, { input: { endpointId: s.endpointId, inputs: [tensorItem([0, 0, 0])] } }, { token: s.token });
        probes.push(fromGlobalId(res.data!.submitJob.job.id, 'Job'));
        await sleep(200);
      }
    }
    // Warm-up: sessions, JIT, pg-boss queue creation, statement caches.
    await closedLoop((started) => started >= WARMUP_JOBS, CONCURRENCY, TENANTS.length);
    if (streamError) throw new Error(`subscription failed: ${JSON.stringify(streamError)}`);

    const raw: RawQueueResult[] = [];
    for (const variant of ['polled', 'woken'] as const) {
      console.log(`raw queue (${variant}) …`);
      raw.push(await rawQueueRun(bench.ownerUrl, { variant, workers: SLOTS, concurrency: CONCURRENCY, seconds: RAW_SECONDS }));
    }
    const oneTenant = await measure('one tenant', 1);
    const threeTenants = await measure(`${TENANTS.length} tenants`, TENANTS.length);
    // The same pipeline with one job in flight: its latency without queueing for slots or locks.
    console.log(`platform, one job at a time (${SERIAL_JOBS} jobs) …`);
    const serial = await closedLoop((started) => started >= SERIAL_JOBS, 1, 1);
    const serialStages = await stageBreakdown(owner, serial);

    // Let the last PROGRESS/SUCCEEDED notifications land before counting deliveries.
    await sleep(500);
    const check = await verify(owner, tp, [...oneTenant.samples, ...threeTenants.samples, ...serial], log);
    const runs = [oneTenant.run, threeTenants.run];
    const [polled, woken] = raw;

    printTable(`Throughput (closed loop, ${CONCURRENCY} in flight, ${SLOTS} workers, ${ITEMS} items per job; latency = send/submit → done)`, [
      ...raw.map((r) => ({
        side: `raw pg-boss (${r.variant})`, jobs: r.messages, 'jobs/s': r.jobsPerSecond, 'items/s': NaN,
        'p50 ms': r.latencyMs.p50, 'p99 ms': r.latencyMs.p99, 'max ms': r.latencyMs.max, 'vs raw woken': r.jobsPerSecond / woken.jobsPerSecond,
      })),
      ...runs.map((r) => ({
        side: `platform, ${r.label}`, jobs: r.jobs, 'jobs/s': r.jobsPerSecond, 'items/s': r.itemsPerSecond,
        'p50 ms': r.latencyMs.p50, 'p99 ms': r.latencyMs.p99, 'max ms': r.latencyMs.max, 'vs raw woken': r.jobsPerSecond / woken.jobsPerSecond,
      })),
    ]);
    const ratios = Object.fromEntries(runs.flatMap((r) => [
      [`platform ${r.label} / raw woken`, r.jobsPerSecond / woken.jobsPerSecond],
      [`platform ${r.label} / raw polled`, r.jobsPerSecond / polled.jobsPerSecond],
    ]));
    console.log(`\nratio platform / raw queue (woken): ${runs.map((r) => `${round(r.jobsPerSecond / woken.jobsPerSecond, 3)} (${r.label})`).join(', ')}; ` +
      `against polling-only pg-boss: ${runs.map((r) => `${round(r.jobsPerSecond / polled.jobsPerSecond, 2)}`).join(', ')}`);
    printTable('Where a job’s time goes (ms, from job_event.at and the client clock)', Object.keys(serialStages).map((stage) => ({
      stage, 'alone p50': serialStages[stage].p50, 'alone p99': serialStages[stage].p99,
      ...Object.fromEntries(runs.flatMap((r) => [[`${r.label} p50`, r.stagesMs[stage].p50], [`${r.label} p99`, r.stagesMs[stage].p99]])),
    })));
    for (const r of runs) {
      printTable(`PostgreSQL, platform ${r.label} (pg_stat_activity every 50 ms; backends per sample)`, r.postgres.top.slice(0, 8).map((a) => ({
        app: a.application, state: a.state, wait: a.wait, statement: a.statement, backends: a.share,
      })));
    }
    console.log('');
    for (const r of runs) {
      console.log(`${r.label}: submitJob HTTP p50 ${round(r.submitHttpMs.p50)} ms, p99 ${round(r.submitHttpMs.p99)} ms; ` +
        `${r.schedulerPasses} scheduler passes (${round(r.schedulerPasses / r.jobs, 2)} per job, p50 ${round(r.scheduler.passMs.p50)} ms, ` +
        `${round(r.scheduler.shardsPerPass, 2)} shards each, in progress ${round(r.scheduler.busyShare * 100)}% of the run); this process ${round(r.cpuShareOfOneCore * 100)}% of a core, ` +
        `event-loop delay p99 ${round(r.eventLoopDelayMs.p99)} ms; RSS ${round(r.rssMb.before)} → ${round(r.rssMb.after)} MB; ` +
        `load average ${r.loadAverage.before.map((l) => round(l, 1)).join(' ')}`);
    }
    console.log(`checks: ${check.problems.length ? check.problems.join('\n        ') : 'all jobs SUCCEEDED, one result per item, ledger balanced, every event received exactly once'}`);

    const file = writeResult('jobs-pipeline', {
      setup: {
        slots: SLOTS, concurrency: CONCURRENCY, itemsPerJob: ITEMS, platformSeconds: SECONDS, rawSeconds: RAW_SECONDS, warmupJobs: WARMUP_JOBS,
        serialJobs: SERIAL_JOBS, platformEnv: PLATFORM_ENV, pgBossPollingIntervalSeconds: 0.5, model: 'scaleModel(2): y = x·2, float32 [N,3]',
      },
      raw,
      platform: runs,
      serial: { jobs: serial.length, latencyMs: distribution(serial.map((s) => s.doneAt - s.submitStartedAt)), stagesMs: serialStages },
      ratios,
      checks: { problems: check.problems, eventsExpected: check.eventsExpected, eventsReceived: check.eventsReceived, duplicates: check.duplicates, missing: check.missing },
    });
    console.log(`\nwrote ${file}`);
    if (check.problems.length) process.exitCode = 1;
  } finally {
    await Promise.all(sockets.map((ws) => ws.dispose()));
    await owner.end();
    await activity.end();
    await bench.close();
  }
}

/** For a job that never finished: its rows and what every backend was doing. */
async function diagnose(owner: Client, jobId: string): Promise<unknown> {
  const q = async (sql: string, values: unknown[] = []) => (await owner.query(sql, values)).rows;
  return {
    job: await q(`SELECT status, pending_reason, done_items FROM job WHERE id = $1`, [jobId]),
    shards: await q(`SELECT status, attempt, node, lease_expires_at FROM job_shard WHERE job_id = $1`, [jobId]),
    events: await q(`SELECT seq, type FROM job_event WHERE job_id = $1 ORDER BY seq`, [jobId]),
    backends: await q(`SELECT application_name, state, wait_event_type, wait_event, now() - xact_start AS xact_age, left(query, 120) AS query
                         FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()`),
  };
}

interface Verification {
  problems: string[];
  eventsExpected: number;
  eventsReceived: number;
  duplicates: number;
  missing: number;
}

async function verify(owner: Client, tp: Awaited<ReturnType<typeof startBenchPlatform>>['tp'], samples: JobSample[], log: TenantEventLog): Promise<Verification> {
  const problems: string[] = [];
  const ids = samples.map((s) => s.jobId);
  const { rows: jobs } = await owner.query(
    `SELECT j.id, j.status, j.done_items, j.failed_items,
            (SELECT count(*)::int FROM job_result r WHERE r.job_id = j.id) AS results,
            (SELECT count(*)::int FROM job_shard s WHERE s.job_id = j.id) AS shards,
            (SELECT coalesce(sum(units_milli) FILTER (WHERE kind = 'RESERVE'), 0)::bigint FROM ledger_entry e WHERE e.job_id = j.id) AS reserved,
            (SELECT coalesce(sum(units_milli) FILTER (WHERE kind IN ('CAPTURE', 'RELEASE')), 0)::bigint FROM ledger_entry e WHERE e.job_id = j.id) AS spent,
            (SELECT count(*)::int FROM ledger_entry e WHERE e.job_id = j.id AND kind = 'CAPTURE') AS captures,
            (SELECT count(*)::int FROM ledger_entry e WHERE e.job_id = j.id AND kind = 'RELEASE') AS releases
       FROM job j WHERE j.id = ANY($1::uuid[])`, [ids]);
  if (jobs.length !== ids.length) problems.push(`${ids.length - jobs.length} submitted jobs not found`);
  for (const j of jobs) {
    if (j.status !== 'SUCCEEDED' || j.done_items !== ITEMS || j.results !== ITEMS) problems.push(`job ${j.id}: ${j.status}, ${j.done_items} done, ${j.results} results`);
    // A shard measured at 0 milli-units (a trivial model) is captured by no entry at all.
    if (j.reserved !== j.spent) problems.push(`job ${j.id}: reserved ${j.reserved} ≠ captured + released ${j.spent}`);
    if (j.captures > j.shards || j.releases > 1) problems.push(`job ${j.id}: ${j.captures} captures for ${j.shards} shards, ${j.releases} releases`);
  }
  const violations = await tp.platform.db.withSystem('bench: ledger invariants', (em) => ledgerViolations(em));
  problems.push(...violations);

  const { rows: events } = await owner.query(
    `SELECT job_id, seq, type, extract(epoch FROM at) * 1000 AS at FROM job_event WHERE job_id = ANY($1::uuid[]) ORDER BY job_id, seq`, [ids]);
  const stored = new Map<string, { seq: number; type: string; at: number }[]>();
  for (const e of events) {
    let list = stored.get(e.job_id);
    if (!list) stored.set(e.job_id, (list = []));
    list.push({ seq: e.seq, type: e.type, at: Number(e.at) });
  }
  let duplicates = 0;
  let missing = 0;
  let eventsReceived = 0;
  for (const id of ids) {
    const rows = stored.get(id) ?? [];
    rows.forEach((r, i) => { if (r.seq !== i + 1) problems.push(`job ${id}: event seqs not contiguous`); });
    const got = log.byJob.get(id) ?? [];
    eventsReceived += got.length;
    const seen = new Map<number, number>();
    for (const g of got) seen.set(g.seq, (seen.get(g.seq) ?? 0) + 1);
    for (const [, n] of seen) if (n > 1) duplicates += n - 1;
    for (const r of rows) if (!seen.has(r.seq)) missing++;
  }
  if (duplicates) problems.push(`${duplicates} events received more than once`);
  if (missing) problems.push(`${missing} events never received`);

  return {
    problems,
    eventsExpected: events.length, eventsReceived, duplicates, missing,
  };
}

/** Stage boundaries per job; each `at` is clock_timestamp() inside that stage's transaction. */
async function stageBreakdown(owner: Client, samples: JobSample[]): Promise<Record<string, Distribution>> {
  const { rows } = await owner.query(
    `SELECT job_id, type, extract(epoch FROM at) * 1000 AS at FROM job_event WHERE job_id = ANY($1::uuid[])`, [samples.map((s) => s.jobId)]);
  const at = new Map(rows.map((r) => [`${r.job_id}:${r.type}`, Number(r.at)]));
  const stages: [string, (s: JobSample, t: (type: string) => number) => number][] = [
    ['submit call → SUBMITTED row (HTTP, auth, hold)', (s, t) => t('SUBMITTED') - s.submitStartedAt],
    ['SUBMITTED → QUEUED (free slot + scheduler pass)', (_, t) => t('QUEUED') - t('SUBMITTED')],
    ['QUEUED → STARTED (pg-boss to the worker)', (_, t) => t('STARTED') - t('QUEUED')],
    ['STARTED → SUCCEEDED (inputs, run, commit)', (_, t) => t('SUCCEEDED') - t('STARTED')],
    ['SUCCEEDED row → client receipt (commit, fan-out)', (s, t) => s.doneAt - t('SUCCEEDED')],
    ['total: submit call → SUCCEEDED received', (s) => s.doneAt - s.submitStartedAt],
  ];
  return Object.fromEntries(stages.map(([name, f]) => [name,
    distribution(samples.map((s) => f(s, (type) => at.get(`${s.jobId}:${type}`) ?? NaN)).filter(Number.isFinite))]));
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
