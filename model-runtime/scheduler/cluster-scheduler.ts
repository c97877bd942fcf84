// The cluster scheduler: one active leader across all processes (a PostgreSQL advisory lock held
// on a dedicated connection; if the leader dies its connection closes, the lock is released and
// another process's next attempt takes over). Each pass, in one system transaction:
//   1. shards whose lease ran out (worker killed, partitioned) go back to PENDING;
//   2. a snapshot of live devices, running shards, tenants' quotas and decayed usage, and
//      pending jobs goes through the fair-share policy (policy/fair-share-policy.ts);
//   3. granted shards become DISPATCHED with a new attempt (the fencing token) and a lease, and
//      their queue messages are sent in the same transaction;
//   4. every waiting job gets a pending reason a person can act on.
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import type { EntityManager } from 'typeorm';
import type { JobsConfig } from '../../core/config';
import type { Logger } from '../../core/logger';
import { JobStatus } from '../../entities';
import { appendJobEvent, CHANNELS, jobSnapshot, notify, type JobRowForEvent } from '../../tenants/job-events';
import type { PgListener } from '../../tenants/pg-listener';
import type { QuotaLedger } from '../../tenants/quota-ledger';
import { returning } from '../../tenants/sql';
import type { TenantDatabase } from '../../tenants/tenant-database';
import type { ShardQueue } from '../queue/shard-queue';
import { planDispatch } from './policy/fair-share-policy';
import type { ClusterSnapshot, PendingJob, SlotState, TenantShare } from './policy/dispatch.types';

const LEADER_LOCK = 727_002;

export interface SchedulerOptions {
  jobs: JobsConfig;
  billingWeights: Record<string, number>;
  log: Logger;
}

export class ClusterScheduler {
  private leaderClient: Client | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running = false;
  private again = false;
  private stopped = false;
  private readonly unlisten: (() => void)[] = [];
  passes = 0;

  constructor(
    private readonly db: TenantDatabase,
    private readonly queue: ShardQueue,
    private readonly ledger: QuotaLedger,
    private readonly listener: PgListener,
    private readonly systemUrl: string,
    private readonly opts: SchedulerOptions,
  ) {}

  start(): void {
    this.unlisten.push(this.listener.on(CHANNELS.schedule, () => this.kick()));
    this.unlisten.push(this.listener.onReconnect(() => this.kick()));
    this.timer = setInterval(() => this.kick(), this.opts.jobs.schedulerTickMs);
    this.timer.unref();
    this.kick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    for (const off of this.unlisten) off();
    while (this.running) await new Promise((r) => setTimeout(r, 20));
    await this.leaderClient?.end().catch(() => undefined);
    this.leaderClient = null;
  }

  get isLeader(): boolean {
    return this.leaderClient !== null;
  }

  /** Runs a pass now, or right after the current one (passes never overlap). */
  kick(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    void this.loop();
  }

  private async loop(): Promise<void> {
    try {
      do {
        this.again = false;
        if (await this.ensureLeadership()) await this.pass();
      } while (this.again && !this.stopped);
    } catch (err) {
      this.opts.log.error({ err }, 'scheduler pass failed; retrying on the next tick');
    } finally {
      this.running = false;
    }
  }

  private async ensureLeadership(): Promise<boolean> {
    if (this.leaderClient) return true;
    const client = new Client({ connectionString: this.systemUrl, application_name: 'alliance-hub-scheduler' });
    client.on('error', () => {
      // Lost the connection, and with it the lock: another process may lead now.
      if (this.leaderClient === client) this.leaderClient = null;
    });
    await client.connect();
    const { rows } = await client.query('SELECT pg_try_advisory_lock($1) AS ok', [LEADER_LOCK]);
    if (rows[0].ok) {
      this.leaderClient = client;
      this.opts.log.info('this process is the cluster scheduler');
      return true;
    }
    await client.end();
    return false;
  }

  /** One scheduling pass; returns the number of shards dispatched. */
  async pass(): Promise<number> {
    this.passes++;
    const sent = await this.db.withSystem('schedule shards onto the shared cluster', async (em) => {
      await this.requeueExpiredLeases(em);
      const snapshot = await this.snapshot(em);
      const plan = planDispatch(snapshot.cluster, { estimatedShardSeconds: snapshot.typicalShardSeconds });
      let dispatched = 0;
      const reasons = new Map(plan.pending.map((p) => [p.jobId, p.reason]));
      for (const a of plan.assignments) {
        const ok = await this.dispatch(em, a.jobId, a.slotId, snapshot.nodeOf.get(a.slotId)!);
        if (ok === true) dispatched++;
        else if (ok) reasons.set(a.jobId, ok);
      }
      // One statement for every waiting job's reason (only changed ones are written): a pass
      // over 10,000 pending jobs must not be 10,000 round trips.
      const jobIds = snapshot.cluster.jobs.map((j) => j.id);
      if (jobIds.length) {
        await em.query(
          `UPDATE job j SET pending_reason = r.reason
             FROM unnest($1::uuid[], $2::text[]) AS r(id, reason)
            WHERE j.id = r.id AND j.pending_reason IS DISTINCT FROM r.reason`,
          [jobIds, jobIds.map((id) => reasons.get(id) ?? null)]);
      }
      if (dispatched) await notify(em, CHANNELS.dispatch);
      return dispatched;
    });
    return sent;
  }

  private async requeueExpiredLeases(em: EntityManager): Promise<void> {
    const expired = await returning<{ job_id: string }>(em,
      `UPDATE job_shard SET status = 'PENDING', device_id = NULL, node = NULL, lease_expires_at = NULL
        WHERE status IN ('DISPATCHED', 'RUNNING') AND lease_expires_at < now() RETURNING job_id`);
    for (const jobId of new Set(expired.map((e) => e.job_id))) {
      const [job] = await returning<JobRowForEvent>(em,
        `UPDATE job SET attempts = attempts + 1 WHERE id = $1 RETURNING *`, [jobId]);
      await appendJobEvent(em, jobSnapshot(job), 'SHARD_RETRY', 'a worker stopped renewing its lease; the shard runs again elsewhere');
    }
  }

  private async snapshot(em: EntityManager): Promise<{ cluster: ClusterSnapshot; nodeOf: Map<string, string>; typicalShardSeconds: number }> {
    const devices: { id: string; node: string; kind: string }[] = await em.query(
      `SELECT id, node, kind FROM device WHERE last_heartbeat_at > now() - make_interval(secs => $1)`, [this.opts.jobs.deviceTimeoutSeconds]);
    const busy: { device_id: string; tenant_id: string; job_id: string; dispatched_at: Date }[] = await em.query(
      `SELECT device_id, tenant_id, job_id, dispatched_at FROM job_shard WHERE status IN ('DISPATCHED', 'RUNNING') AND device_id IS NOT NULL`);
    const running = new Map(busy.map((b) => [b.device_id, b]));
    const slots: SlotState[] = devices.map((d) => {
      const r = running.get(d.id);
      return { id: d.id, kind: d.kind, running: r ? { tenantId: r.tenant_id, jobId: r.job_id, startedAt: r.dispatched_at.getTime() / 1000 } : undefined };
    });
    // Usage = finished device time, decayed, plus the time running shards have used so far
    // (Slurm counts running jobs' usage too): otherwise a tenant with many long shards in flight
    // looks idle until they finish and is handed even more.
    const tenants: { tenant_id: string; guaranteed_devices: number; borrow_limit_devices: number; weight: number; usage: number | null }[] = await em.query(
      `SELECT p.tenant_id, p.guaranteed_devices, p.borrow_limit_devices, p.weight,
              coalesce(u.decayed_slot_seconds * power(0.5, extract(epoch FROM now() - u.updated_at) / $1), 0)
              + coalesce((SELECT sum(extract(epoch FROM now() - s.dispatched_at)) FROM job_shard s
                           WHERE s.tenant_id = p.tenant_id AND s.status IN ('DISPATCHED', 'RUNNING')), 0) AS usage
         FROM quota_policy p LEFT JOIN fair_share_usage u ON u.tenant_id = p.tenant_id`, [this.opts.jobs.fairShareHalfLifeSeconds]);
    const shares: TenantShare[] = tenants.map((t) => ({
      id: t.tenant_id, guaranteedDevices: t.guaranteed_devices, borrowLimitDevices: t.borrow_limit_devices, weight: t.weight, decayedUsage: Number(t.usage ?? 0),
    }));
    const jobs: { id: string; tenant_id: string; accelerator: string; priority: number; created_at: Date; pending: number }[] = await em.query(
      `SELECT j.id, j.tenant_id, j.accelerator, j.priority, j.created_at, count(s.id)::int AS pending
         FROM job j JOIN job_shard s ON s.job_id = j.id AND s.status = 'PENDING'
        WHERE j.status IN ('PENDING', 'QUEUED', 'RUNNING') GROUP BY j.id`);
    const pending: PendingJob[] = jobs.map((j) => ({
      id: j.id, tenantId: j.tenant_id, kind: j.accelerator, priority: j.priority, createdAt: j.created_at.getTime() / 1000, pendingShards: j.pending,
    }));
    // What one more granted shard adds to a tenant's usage within this pass: the recent typical
    // shard's slot time, falling back to the configured target before any shard has finished.
    const [{ typical }] = await em.query(
      `SELECT avg(extract(epoch FROM finished_at - dispatched_at)) AS typical
         FROM (SELECT finished_at, dispatched_at FROM job_shard WHERE status = 'DONE' AND dispatched_at IS NOT NULL
               ORDER BY finished_at DESC LIMIT 200) recent`);
    const typicalShardSeconds = Number(typical) > 0 ? Number(typical) : this.opts.jobs.shardTargetSeconds;
    return { cluster: { slots, tenants: shares, jobs: pending }, nodeOf: new Map(devices.map((d) => [d.id, d.node])), typicalShardSeconds };
  }

  /**
   * Dispatches the job's next pending shard onto a slot. Before it does, the job's quota hold
   * must cover the shard's estimate; if not, it tops the hold up from the tenant's available
   * budget, and if that is exhausted too the shard stays PENDING with a reason (running shards
   * finish; no new shard starts beyond what is paid for). Returns true, or the reason.
   */
  private async dispatch(em: EntityManager, jobId: string, deviceId: string, node: string): Promise<true | string | false> {
    const [job]: (JobRowForEvent & { period: string; estimate_milli: string; accelerator: string })[] =
      await em.query(`SELECT * FROM job WHERE id = $1 FOR UPDATE`, [jobId]);
    if (!job || !['PENDING', 'QUEUED', 'RUNNING'].includes(job.status)) return false;
    const [shard]: { id: string; item_from: number; item_to: number }[] = await em.query(
      `SELECT id, item_from, item_to FROM job_shard WHERE job_id = $1 AND status = 'PENDING' ORDER BY shard_index LIMIT 1 FOR UPDATE SKIP LOCKED`, [jobId]);
    if (!shard) return false;
    // The shard's expected cost: the admission estimate, or what this job's finished shards
    // actually cost per item if that is more — an estimate that was too low must not let shards
    // run on beyond what the tenant can pay.
    const items = shard.item_to - shard.item_from;
    const [{ observed }] = await em.query(
      `SELECT coalesce(sum(device_seconds) / nullif(sum(item_to - item_from), 0), 0) AS observed
         FROM job_shard WHERE job_id = $1 AND status = 'DONE'`, [jobId]);
    const weight = this.opts.billingWeights[job.accelerator] ?? 1;
    const shardMilli = Math.ceil(Math.max(
      Number(job.estimate_milli) * (items / job.total_items),
      Number(observed) * items * weight * 1000,
    ));
    const hold = await this.ledger.jobHold(em, jobId);
    // Holds already promised to shards in flight are not available to this one.
    const inFlight = await this.inFlightEstimate(em, jobId, Number(job.estimate_milli), job.total_items);
    if (hold - inFlight < shardMilli) {
      const need = shardMilli - (hold - inFlight);
      try {
        await em.query('SAVEPOINT top_up');
        await this.ledger.reserve(em, { tenantId: job.tenant_id, period: job.period, milli: need, key: `reserve:topup:${shard.id}:${randomUUID()}`, jobId, memo: 'hold top-up before a shard' });
        await em.query('RELEASE SAVEPOINT top_up');
        await em.query(`UPDATE job SET reserved_milli = reserved_milli + $2 WHERE id = $1`, [jobId, need]);
        await notify(em, CHANNELS.quota, job.tenant_id);
      } catch {
        await em.query('ROLLBACK TO SAVEPOINT top_up');
        return `quota exhausted: the next shard needs ${need / 1000} more compute units than this job holds, ` +
          'and the tenant has none available; running shards finish, no new one starts until the quota is raised';
      }
    }
    const [updated] = await returning<{ attempt: number }>(em,
      `UPDATE job_shard SET status = 'DISPATCHED', attempt = attempt + 1, device_id = $2, node = $3, dispatched_at = now(),
              lease_expires_at = now() + make_interval(secs => $4)
        WHERE id = $1 RETURNING attempt`,
      [shard.id, deviceId, node, this.opts.jobs.leaseSeconds]);
    if (job.status === 'PENDING') {
      await em.query(`UPDATE job SET status = 'QUEUED' WHERE id = $1`, [jobId]);
      await appendJobEvent(em, jobSnapshot(job, { status: JobStatus.QUEUED }), 'QUEUED', 'admitted: shards are being dispatched to the cluster');
    }
    await this.queue.sendInTransaction(em, node, { shardId: shard.id, attempt: updated.attempt });
    return true;
  }

  private async inFlightEstimate(em: EntityManager, jobId: string, estimateMilli: number, totalItems: number): Promise<number> {
    const [{ items }] = await em.query(
      `SELECT coalesce(sum(item_to - item_from), 0)::int AS items FROM job_shard WHERE job_id = $1 AND status IN ('DISPATCHED', 'RUNNING')`, [jobId]);
    return Math.ceil(estimateMilli * (items / totalItems));
  }
}

