// What happens to a job's money and state when a shard finishes, when a job is cancelled, and
// when nothing of it is left to run. One class so that the worker's commit, the API's cancel and
// the scheduler agree on every transition; every method runs in the caller's transaction.
import type { EntityManager } from 'typeorm';
import { AppError } from '../core/app-error';
import { FINISHED_JOB_STATUSES, Job, JobStatus } from '../entities';
import { appendJobEvent, CHANNELS, jobSnapshot, notify, type JobRowForEvent } from './job-events';
import { toMilli, type QuotaLedger } from './quota-ledger';
import { returning } from './sql';

export interface ShardItemResult {
  index: number;
  itemId: string | null;
  output?: unknown;
  error?: string;
}

export interface ShardCommit {
  shardId: string;
  /** The fencing token the worker was dispatched with. */
  attempt: number;
  deviceSeconds: number;
  /** Compute units per device-second of the accelerator kind (Slurm TRESBillingWeights). */
  billingWeight: number;
  results: ShardItemResult[];
  /** True when the shard stopped early (cancellation): unprocessed items get no result. */
  partial?: boolean;
}

export type CommitOutcome = { status: 'committed'; chargedMilli: number; job: Job } | { status: 'stale' };

/** The job row as its accounting reads it: what events need, and the charge's bookkeeping. */
interface JobRow extends JobRowForEvent {
  period: string;
  charged_milli: string;
  finished_at: Date | null;
}

export class JobAccounting {
  constructor(
    private readonly ledger: QuotaLedger,
    private readonly halfLifeSeconds: number,
  ) {}

  async lockJob(em: EntityManager, jobId: string): Promise<JobRow | null> {
    const rows: JobRow[] = await em.query(`SELECT * FROM job WHERE id = $1 FOR UPDATE`, [jobId]);
    return rows[0] ?? null;
  }

  /**
   * Records a finished shard exactly once: only the holder of the shard's current attempt can
   * move it to DONE; a re-run after a lost lease or a late zombie commit finds nothing to update
   * and is answered 'stale' — its results are dropped and nothing is charged.
   */
  async commitShard(em: EntityManager, c: ShardCommit): Promise<CommitOutcome> {
    const shards = await returning<{ job_id: string; tenant_id: string; slot_seconds: number }>(em,
      `UPDATE job_shard SET status = 'DONE', device_seconds = $3, finished_at = now(), lease_expires_at = NULL
        WHERE id = $1 AND attempt = $2 AND status = 'RUNNING'
        RETURNING job_id, tenant_id, extract(epoch FROM now() - dispatched_at)::float8 AS slot_seconds`,
      [c.shardId, c.attempt, c.deviceSeconds]);
    if (!shards.length) return { status: 'stale' };
    const job = (await this.lockJob(em, shards[0].job_id))!;
    if (c.results.length) {
      await em.query(
        `INSERT INTO job_result (job_id, tenant_id, item_index, item_id, output, error)
         SELECT $1, $2, r.index, r.item_id, r.output, r.error
           FROM jsonb_to_recordset($3::jsonb) AS r(index int, item_id uuid, output jsonb, error text)`,
        [job.id, job.tenant_id, JSON.stringify(c.results.map((r) => ({ index: r.index, item_id: r.itemId, output: r.output ?? null, error: r.error ?? null })))]);
    }
    const charged = await this.charge(em, job, c.shardId, toMilli(c.deviceSeconds * c.billingWeight));
    await em.query(`UPDATE job_shard SET charged_milli = $2 WHERE id = $1`, [c.shardId, charged]);
    const failed = c.results.filter((r) => r.error !== undefined).length;
    const [updated] = await returning<JobRow>(em,
      `UPDATE job SET done_items = done_items + $2, failed_items = failed_items + $3, charged_milli = charged_milli + $4
        WHERE id = $1 RETURNING *`,
      [job.id, c.results.length - failed, failed, charged]);
    await appendJobEvent(em, jobSnapshot(updated), 'PROGRESS');
    const final = await this.finalizeIfDone(em, job.id);
    // Fair share counts slot occupancy (Slurm: allocated TRES × wall time), not device time: the
    // scheduler divides slots, and a slot held is a slot others could not use. Billing stays on
    // measured device time.
    // Last, after every quota_balance write (capture, release): all commits then lock the
    // tenant's balance row before its usage row. The other order deadlocked two concurrent
    // commits of one tenant when one charged 0 milli-units (capture skips the balance row) and
    // went on to release — found by bench/jobs-pipeline.bench.ts.
    await this.addFairShareUsage(em, job.tenant_id, Math.max(0, shards[0].slot_seconds));
    await notify(em, CHANNELS.schedule);
    return { status: 'committed', chargedMilli: charged, job: final ?? (await em.findOneByOrFail(Job, { id: job.id })) };
  }

  /**
   * Captures a shard's measured cost against the job's hold. A shard that cost more than what is
   * left of the hold tops the hold up from the available budget first; only if the budget is
   * exhausted too is the capture limited to the hold (and the shortfall named in the memo).
   */
  private async charge(em: EntityManager, job: JobRow, shardId: string, measuredMilli: number): Promise<number> {
    const hold = await this.ledger.jobHold(em, job.id);
    let available = hold;
    if (measuredMilli > hold) {
      const topUp = measuredMilli - hold;
      try {
        await em.query('SAVEPOINT top_up');
        await this.ledger.reserve(em, { tenantId: job.tenant_id, period: job.period, milli: topUp, key: `reserve:shard:${shardId}`, jobId: job.id, memo: 'shard cost above the estimate' });
        await em.query('RELEASE SAVEPOINT top_up');
        await em.query(`UPDATE job SET reserved_milli = reserved_milli + $2 WHERE id = $1`, [job.id, topUp]);
        available = measuredMilli;
      } catch (err) {
        await em.query('ROLLBACK TO SAVEPOINT top_up');
        if (!(err instanceof AppError)) throw err;
      }
    }
    const charged = Math.min(measuredMilli, available);
    await this.ledger.capture(em, {
      tenantId: job.tenant_id, period: job.period, milli: charged, key: `capture:shard:${shardId}`, jobId: job.id,
      memo: charged < measuredMilli ? `shard measured ${measuredMilli} milli-units; budget exhausted, ${measuredMilli - charged} not charged` : 'shard',
    });
    return charged;
  }

  /** When no shard of the job is left to run: final status, release of the unused hold, event. */
  async finalizeIfDone(em: EntityManager, jobId: string): Promise<Job | null> {
    const job = await this.lockJob(em, jobId);
    if (!job) return null;
    const [{ open }] = await em.query(
      `SELECT count(*)::int AS open FROM job_shard WHERE job_id = $1 AND status IN ('PENDING', 'DISPATCHED', 'RUNNING')`, [jobId]);
    if (open > 0) return null;
    if (!job.finished_at) {
      const status = job.status === JobStatus.CANCELLED ? JobStatus.CANCELLED
        : job.failed_items === job.total_items ? JobStatus.FAILED : JobStatus.SUCCEEDED;
      const error = status === JobStatus.FAILED ? 'every item failed; see the results for each item’s error' : null;
      await this.ledger.releaseRest(em, { tenantId: job.tenant_id, period: job.period, key: `release:job:${jobId}`, jobId });
      const [row] = await returning<JobRow>(em,
        `UPDATE job SET status = $2, finished_at = coalesce(finished_at, now()), pending_reason = NULL, error = coalesce(error, $3)
          WHERE id = $1 RETURNING *`,
        [jobId, status, error]);
      const charged = Number(row.charged_milli) / 1000;
      await appendJobEvent(em, jobSnapshot(row), status,
        `${status.toLowerCase()}: ${row.done_items} items done, ${row.failed_items} failed; charged ${charged} compute units`);
      await notify(em, CHANNELS.quota, job.tenant_id);
    }
    return em.findOneByOrFail(Job, { id: jobId });
  }

  /** Cancels a job: no new shard starts; running shards stop at their next micro-batch. */
  async cancel(em: EntityManager, jobId: string): Promise<void> {
    const job = await this.lockJob(em, jobId);
    if (!job) throw AppError.notFound('job');
    if ((FINISHED_JOB_STATUSES as string[]).includes(job.status)) {
      throw AppError.conflict(`job is already ${job.status}; only PENDING, QUEUED or RUNNING jobs can be cancelled`);
    }
    await em.query(`UPDATE job_shard SET status = 'CANCELLED', lease_expires_at = NULL WHERE job_id = $1 AND status IN ('PENDING', 'DISPATCHED')`, [jobId]);
    const [row] = await returning<JobRow>(em, `UPDATE job SET status = 'CANCELLED', pending_reason = NULL WHERE id = $1 RETURNING *`, [jobId]);
    await appendJobEvent(em, jobSnapshot(row), 'CANCEL_REQUESTED', 'cancelled: running shards stop after their current micro-batch');
    await this.finalizeIfDone(em, jobId);
    await notify(em, CHANNELS.schedule);
  }

  /** Slurm-style decayed usage: old usage halves every half-life, new usage adds on top. */
  private async addFairShareUsage(em: EntityManager, tenantId: string, slotSeconds: number): Promise<void> {
    await em.query(
      `INSERT INTO fair_share_usage (tenant_id, decayed_slot_seconds, updated_at) VALUES ($1, $2, now())
       ON CONFLICT (tenant_id) DO UPDATE SET
         decayed_slot_seconds = fair_share_usage.decayed_slot_seconds
           * power(0.5, extract(epoch FROM now() - fair_share_usage.updated_at) / $3) + $2,
         updated_at = now()`,
      [tenantId, slotSeconds, this.halfLifeSeconds]);
  }
}
