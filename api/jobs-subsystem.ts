// The batch-job machinery of one process: the LISTEN connection and the live streams (every API
// process), the scheduler (every process may lead; one does), and a worker (all-in-one and
// worker mode). Built here so api/platform.ts stays a readable list of parts.
import type { Config } from '../core/config';
import type { Logger } from '../core/logger';
import { ShardQueue } from '../model-runtime/queue/shard-queue';
import { ClusterScheduler } from '../model-runtime/scheduler/cluster-scheduler';
import type { ShardRunner } from '../model-runtime/worker/shard-runner';
import { ShardWorker, type WorkerOptions } from '../model-runtime/worker/shard-worker';
import type { Streams } from '../resolvers/context';
import { JobEventStream } from '../resolvers/jobs/job-event-stream';
import { JobsService } from '../resolvers/jobs/jobs.service';
import { QuotaStream } from '../resolvers/quota/quota-stream';
import type { QuotaService } from '../resolvers/quota/quota.service';
import type { QuotaHolds } from '../tenants/quota-holds';
import { JobAccounting } from '../tenants/job-accounting';
import { CHANNELS } from '../tenants/job-events';
import { PgListener } from '../tenants/pg-listener';
import type { QuotaLedger } from '../tenants/quota-ledger';
import type { TenantDatabase } from '../tenants/tenant-database';

export interface JobsSubsystemOptions {
  config: Config;
  urls: { app: string; system: string; owner?: string };
  db: TenantDatabase;
  ledger: QuotaLedger;
  quotas: QuotaService;
  /** This process's holds of budgets for synchronous inference: returned before a job is admitted. */
  holds?: QuotaHolds;
  log: Logger;
  /** Runs the scheduler in this process (it still only acts while it holds the leader lock). */
  schedule: boolean;
  /** Present when this process is a worker node. */
  worker?: { runner: ShardRunner; itemInput: WorkerOptions['itemInput'] };
}

export interface JobsSubsystem {
  jobs: JobsService;
  accounting: JobAccounting;
  streams: Streams;
  listener: PgListener;
  scheduler?: ClusterScheduler;
  worker?: ShardWorker;
  /** Stops in dependency order: worker (finishes its shards), scheduler, queue, listener. */
  close(): Promise<void>;
}

export async function startJobsSubsystem(o: JobsSubsystemOptions): Promise<JobsSubsystem> {
  const { config, db, ledger, log } = o;
  const listener = new PgListener(o.urls.app, Object.values(CHANNELS), log);
  await listener.start();
  const accounting = new JobAccounting(ledger, config.jobs.fairShareHalfLifeSeconds);
  const jobs = new JobsService(db, ledger, accounting, config, o.holds);
  const streams: Streams = { jobEvents: new JobEventStream(db, listener), quota: new QuotaStream(listener, o.quotas) };

  const needsQueue = o.schedule || Boolean(o.worker);
  const queue = needsQueue ? new ShardQueue(o.urls.system, (err) => log.warn({ err: err.message }, 'queue error')) : undefined;
  await queue?.start();
  const scheduler = o.schedule && queue ? new ClusterScheduler(db, queue, ledger, listener, o.urls.system, { jobs: config.jobs, billingWeights: config.billingWeights, log }) : undefined;
  const worker = o.worker && queue && config.jobs.workerSlots > 0
    ? new ShardWorker(db, queue, accounting, o.worker.runner, listener, { jobs: config.jobs, billingWeights: config.billingWeights, log, itemInput: o.worker.itemInput })
    : undefined;
  await worker?.start();
  scheduler?.start();

  return {
    jobs, accounting, streams, listener, scheduler, worker,
    async close() {
      await worker?.stop(config.shutdownGraceMs);
      await scheduler?.stop();
      await queue?.stop().catch((err) => log.warn({ err }, 'queue stop failed'));
      await listener.stop();
    },
  };
}
