// Job events: every state change and progress step is a row (seq per job, so a client can
// replay exactly what it missed) and a NOTIFY carrying ids only (payloads stay tiny and carry no
// tenant data; listeners re-read the row and re-check tenancy before delivering it).
import type { EntityManager } from 'typeorm';
import type { JobStatus } from '../entities';

export const CHANNELS = {
  jobEvent: 'alliance_job_event',
  schedule: 'alliance_schedule',
  dispatch: 'alliance_dispatch',
  /** Also sent by the SQL function app_infer_charge, by this name (migrations/1765094400000-hot-path-functions.ts). */
  quota: 'alliance_quota',
  /** A user's memberships changed (payload: the user id; '*': a tenant's slug changed or it went). Sent by
   *  the trigger notify_membership_change, by this name. */
  membership: 'alliance_membership',
  /** A tenant's rate-limit setting changed (payload: the tenant id). Sent by the trigger
   *  notify_rate_limit_change, by this name; API processes give back their leases of its budget. */
  rateLimit: 'alliance_rate_limit',
  /** Endpoints, models, grants or versions changed (empty payload: drop every cached endpoint). Sent by the
   *  trigger notify_catalog_change, by this name (migrations/1765353600000-catalog-change-notices.ts). */
  catalog: 'alliance_catalog',
} as const;

export interface JobEventNotice {
  jobId: string;
  tenantId: string;
  seq: number;
}

export interface JobSnapshot {
  id: string;
  tenantId: string;
  status: JobStatus;
  totalItems: number;
  doneItems: number;
  failedItems: number;
}

/** A job row as SQL returns it (snake_case), as far as events need it. */
export interface JobRowForEvent {
  id: string;
  tenant_id: string;
  status: JobStatus;
  total_items: number;
  done_items: number;
  failed_items: number;
}

export function jobSnapshot(row: JobRowForEvent, overrides: Partial<JobSnapshot> = {}): JobSnapshot {
  return {
    id: row.id, tenantId: row.tenant_id, status: row.status,
    totalItems: row.total_items, doneItems: row.done_items, failedItems: row.failed_items, ...overrides,
  };
}

/**
 * Appends the next event of a job. The caller holds the job's row lock (SELECT … FOR UPDATE or
 * an UPDATE of it in the same transaction), which serialises seq numbers per job.
 */
export async function appendJobEvent(em: EntityManager, job: JobSnapshot, type: string, message: string | null = null): Promise<number> {
  const rows: { seq: number }[] = await em.query(
    `INSERT INTO job_event (job_id, tenant_id, seq, type, status, total, done, failed, message)
     SELECT $1, $2, coalesce(max(seq), 0) + 1, $3, $4, $5, $6, $7, $8 FROM job_event WHERE job_id = $1
     RETURNING seq`,
    [job.id, job.tenantId, type, job.status, job.totalItems, job.doneItems, job.failedItems, message],
  );
  const seq = rows[0].seq;
  // Delivered at commit, and only if the transaction commits: no event for a rolled-back change.
  await em.query(`SELECT pg_notify($1, $2)`, [CHANNELS.jobEvent, JSON.stringify({ j: job.id, t: job.tenantId, s: seq })]);
  return seq;
}

export async function notify(em: EntityManager, channel: string, payload = ''): Promise<void> {
  await em.query(`SELECT pg_notify($1, $2)`, [channel, payload]);
}

export function parseJobEventNotice(payload: string): JobEventNotice | null {
  try {
    const p = JSON.parse(payload) as { j?: unknown; t?: unknown; s?: unknown };
    if (typeof p.j === 'string' && typeof p.t === 'string' && typeof p.s === 'number') return { jobId: p.j, tenantId: p.t, seq: p.s };
  } catch {
    // ignore foreign payloads
  }
  return null;
}
