// A worker node: registers its device slots, heartbeats, renews the leases of the shards it
// runs, and runs dispatched shards in micro-batches. The commit of a shard (results, device
// time, CAPTURE) is one transaction accepted once per attempt (tenants/job-accounting.ts), so a
// shard re-run after a crash is never recorded or charged twice.
//
// SIGTERM: stop taking shards, finish the ones in hand (bounded by the grace period), then leave
// the cluster; a shard not finished by then is simply re-run elsewhere once its lease lapses.
import { createHash } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import type { JobsConfig } from '../../core/config';
import type { Logger } from '../../core/logger';
import type { JobAccounting, ShardItemResult } from '../../tenants/job-accounting';
import { appendJobEvent, CHANNELS, jobSnapshot, notify, type JobRowForEvent } from '../../tenants/job-events';
import type { PgListener } from '../../tenants/pg-listener';
import { returning } from '../../tenants/sql';
import type { TenantDatabase } from '../../tenants/tenant-database';
import type { ShardMessage, ShardQueue } from '../queue/shard-queue';
import type { ShardRunner } from './shard-runner';

export interface WorkerOptions {
  jobs: JobsConfig;
  billingWeights: Record<string, number>;
  log: Logger;
  /** Converts a dataset item into the handler's input (text, or blob bytes). */
  itemInput: (em: EntityManager, item: { text: string | null; blob_id: string | null; metadata: unknown }) => Promise<unknown>;
}

/** Progress events at most this often per shard: a few per second per job, as promised. */
const PROGRESS_INTERVAL_MS = 400;

function deviceId(node: string, kind: string, slot: number): string {
  const h = createHash('sha256').update(`${node}\0${kind}\0${slot}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

interface ShardRow {
  id: string;
  job_id: string;
  tenant_id: string;
  item_from: number;
  item_to: number;
  attempt: number;
}

export class ShardWorker {
  private heartbeat: NodeJS.Timeout | null = null;
  private workerIds: string[] = [];
  private readonly active = new Set<Promise<void>>();
  /** Shards this process is running now: only their leases are renewed. */
  private readonly inHand = new Set<string>();
  private stopping = false;
  private readonly unlisten: (() => void)[] = [];
  readonly devices: string[];

  constructor(
    private readonly db: TenantDatabase,
    private readonly queue: ShardQueue,
    private readonly accounting: JobAccounting,
    private readonly runner: ShardRunner,
    private readonly listener: PgListener,
    private readonly opts: WorkerOptions,
  ) {
    const { workerNode, workerKind, workerSlots } = opts.jobs;
    this.devices = Array.from({ length: workerSlots }, (_, slot) => deviceId(workerNode, workerKind, slot));
  }

  get node(): string {
    return this.opts.jobs.workerNode;
  }

  async start(): Promise<void> {
    const { workerNode, workerKind, workerSlots } = this.opts.jobs;
    if (workerSlots === 0) return;
    await this.db.withSystem('register this worker’s device slots', async (em) => {
      for (let slot = 0; slot < workerSlots; slot++) {
        await em.query(
          `INSERT INTO device (id, node, kind, slot) VALUES ($1, $2, $3, $4)
           ON CONFLICT (id) DO UPDATE SET last_heartbeat_at = now()`,
          [this.devices[slot], workerNode, workerKind, slot]);
      }
      await notify(em, CHANNELS.schedule);
    });
    this.workerIds = await this.queue.work(workerNode, workerSlots, (m) => this.track(this.runShard(m)));
    this.unlisten.push(this.listener.on(CHANNELS.dispatch, () => this.queue.wake(this.workerIds)));
    this.heartbeat = setInterval(() => void this.beat(), this.opts.jobs.heartbeatSeconds * 1000);
    this.heartbeat.unref();
    this.opts.log.info({ node: workerNode, kind: workerKind, slots: workerSlots }, 'worker joined the cluster');
  }

  /** Graceful: no new shards; in-hand shards finish within `graceMs`; devices leave the cluster. */
  async stop(graceMs = 10_000): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    for (const off of this.unlisten) off();
    await this.queue.offWork(this.node).catch(() => undefined);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.allSettled([...this.active]), new Promise((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
    if (this.heartbeat) clearInterval(this.heartbeat);
    if (this.devices.length) {
      await this.db.withSystem('remove this worker’s devices from the cluster', async (em) => {
        await em.query(`DELETE FROM device WHERE id = ANY($1::uuid[])`, [this.devices]);
        await notify(em, CHANNELS.schedule);
      }).catch((err) => this.opts.log.warn({ err }, 'could not deregister devices'));
    }
  }

  private track(p: Promise<void>): Promise<void> {
    this.active.add(p);
    return p.finally(() => this.active.delete(p));
  }

  private async beat(): Promise<void> {
    try {
      await this.db.withSystem('worker heartbeat and lease renewal', async (em) => {
        await em.query(`UPDATE device SET last_heartbeat_at = now() WHERE id = ANY($1::uuid[])`, [this.devices]);
        // Only shards this process is running are kept alive. A RUNNING shard it no longer holds
        // (its commit failed) and a DISPATCHED one whose queue message was lost (the connection
        // died as it was picked up) must let their leases lapse so the scheduler runs them again;
        // renewing them stranded such jobs forever. A dispatched shard is picked up within
        // milliseconds, far inside its first lease.
        await em.query(
          `UPDATE job_shard SET lease_expires_at = now() + make_interval(secs => $2)
            WHERE node = $1 AND status = 'RUNNING' AND id = ANY($3::uuid[])`,
          [this.node, this.opts.jobs.leaseSeconds, [...this.inHand]]);
      });
    } catch (err) {
      this.opts.log.warn({ err: (err as Error).message }, 'heartbeat failed; retrying');
    }
  }

  private async runShard(message: ShardMessage): Promise<void> {
    if (this.stopping) return;
    const started = await this.markRunning(message).catch((err) => {
      this.opts.log.warn({ shard: message.shardId, err: (err as Error).message }, 'could not start a shard; its lease will bring it back');
      return null;
    });
    if (!started) return; // cancelled, or re-dispatched elsewhere: this message is stale
    const { shard, endpointId } = started;
    this.inHand.add(shard.id);
    try {
      await this.runStarted(shard, endpointId);
    } catch (err) {
      // Not rethrown: the queue message is done either way, and the shard's lease (no longer
      // renewed) brings it back to the scheduler.
      this.opts.log.warn({ shard: shard.id, attempt: shard.attempt, err: (err as Error).message }, 'shard failed; it runs again once its lease lapses');
    } finally {
      this.inHand.delete(shard.id);
    }
  }

  private async runStarted(shard: ShardRow, endpointId: string): Promise<void> {
    const inputs = await this.loadInputs(shard);
    const batch = Math.max(1, await this.runner.batchSize(endpointId));
    const results: ShardItemResult[] = [];
    let deviceSeconds = 0;
    let lastProgress = Date.now();
    let stoppedEarly = false;
    for (let from = 0; from < inputs.length; from += batch) {
      if (from > 0 && (await this.shouldStop(shard))) {
        stoppedEarly = true;
        break;
      }
      const slice = inputs.slice(from, from + batch);
      let outcomes;
      try {
        const run = await this.runner.run(endpointId, slice.map((s) => s.input));
        outcomes = run.outcomes;
        deviceSeconds += run.deviceSeconds;
      } catch (err) {
        // The whole micro-batch failed (endpoint gone, runtime error): each item says why.
        const reason = err instanceof Error ? err.message : String(err);
        outcomes = slice.map(() => ({ error: reason }));
      }
      outcomes.forEach((o, i) => results.push({ index: slice[i].index, itemId: slice[i].itemId, ...('error' in o ? { error: o.error } : { output: o.output }) }));
      if (Date.now() - lastProgress >= PROGRESS_INTERVAL_MS && from + batch < inputs.length) {
        lastProgress = Date.now();
        await this.progress(shard, results.length).catch(() => undefined);
      }
    }
    const kind = this.opts.jobs.workerKind;
    const outcome = await this.db.withSystem('commit a finished shard: results, device time, charge', (em) =>
      this.accounting.commitShard(em, {
        shardId: shard.id, attempt: shard.attempt, deviceSeconds, billingWeight: this.opts.billingWeights[kind] ?? 1, results, partial: stoppedEarly,
      }));
    if (outcome.status === 'stale') this.opts.log.warn({ shard: shard.id, attempt: shard.attempt }, 'shard result refused: a newer attempt owns it');
  }

  private async markRunning(m: ShardMessage): Promise<{ shard: ShardRow; endpointId: string } | null> {
    return this.db.withSystem('a worker starts a dispatched shard', async (em) => {
      const rows = await returning<ShardRow>(em,
        `UPDATE job_shard SET status = 'RUNNING', node = $3, lease_expires_at = now() + make_interval(secs => $4)
          WHERE id = $1 AND attempt = $2 AND status = 'DISPATCHED'
          RETURNING id, job_id, tenant_id, item_from, item_to, attempt`,
        [m.shardId, m.attempt, this.node, this.opts.jobs.leaseSeconds]);
      if (!rows.length) return null;
      const shard = rows[0];
      const [job] = await returning<JobRowForEvent & { endpoint_id: string }>(em,
        `UPDATE job SET status = CASE WHEN status = 'QUEUED' THEN 'RUNNING'::job_status ELSE status END,
                        started_at = coalesce(started_at, now())
          WHERE id = $1 RETURNING *`,
        [shard.job_id]);
      const [{ first }] = await em.query(`SELECT count(*) = 0 AS first FROM job_event WHERE job_id = $1 AND type = 'STARTED'`, [job.id]);
      if (first) {
        await appendJobEvent(em, jobSnapshot(job), 'STARTED', `running on ${this.node}`);
      }
      return { shard, endpointId: job.endpoint_id };
    });
  }

  private async loadInputs(shard: ShardRow): Promise<{ index: number; itemId: string | null; input: unknown }[]> {
    return this.db.withSystem('read the items of a shard', async (em) => {
      const [job]: { inputs: unknown[] | null; dataset_version_id: string | null }[] = await em.query(
        `SELECT inputs, dataset_version_id FROM job WHERE id = $1`, [shard.job_id]);
      if (job.inputs) {
        return job.inputs.slice(shard.item_from, shard.item_to).map((input, i) => ({ index: shard.item_from + i, itemId: null, input }));
      }
      const items: { id: string; ordinal: number; text: string | null; blob_id: string | null; metadata: unknown }[] = await em.query(
        `SELECT id, ordinal, text, blob_id, metadata FROM dataset_item WHERE version_id = $1 AND ordinal >= $2 AND ordinal < $3 ORDER BY ordinal`,
        [job.dataset_version_id, shard.item_from, shard.item_to]);
      const out = [];
      for (const item of items) out.push({ index: item.ordinal, itemId: item.id, input: await this.opts.itemInput(em, item) });
      return out;
    });
  }

  /** Between micro-batches: stop if the job was cancelled or this attempt lost its shard. */
  private async shouldStop(shard: ShardRow): Promise<boolean> {
    if (this.stopping) return false; // finish what is in hand
    const [row]: { status: string; attempt: number; job_status: string }[] = await this.db.withSystem('check a running shard', (em) =>
      em.query(`SELECT s.status, s.attempt, j.status AS job_status FROM job_shard s JOIN job j ON j.id = s.job_id WHERE s.id = $1`, [shard.id]));
    return !row || row.job_status === 'CANCELLED' || row.attempt !== shard.attempt || row.status !== 'RUNNING';
  }

  private async progress(shard: ShardRow, doneInShard: number): Promise<void> {
    await this.db.withSystem('a progress event of a running shard', async (em) => {
      const [job] = await em.query(`SELECT * FROM job WHERE id = $1 FOR UPDATE`, [shard.job_id]);
      await appendJobEvent(em, jobSnapshot(job, {
        doneItems: Math.min(job.total_items, job.done_items + job.failed_items + doneInShard) - job.failed_items,
      }), 'PROGRESS');
    });
  }
}
