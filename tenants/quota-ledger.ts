// The compute-quota ledger: two-phase holds as payment systems do them (reserve at admission,
// capture what was measurably used, release the rest), each fact posted once under a unique
// entry key, and the running balance moved in the same transaction. Every method takes the
// caller's EntityManager: the ledger never opens a transaction of its own, so a job's state
// change and its money move commit together or not at all.
import { randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import { AppError, ErrorCode } from '../core/app-error';
import { returning } from './sql';

export interface Balance {
  tenantId: string;
  period: string;
  grantedMilli: number;
  reservedMilli: number;
  usedMilli: number;
  availableMilli: number;
}

export interface Posting {
  tenantId: string;
  period: string;
  milli: number;
  /** Unique per fact, e.g. `capture:shard:<id>`: a second posting with the same key is a no-op. */
  key: string;
  jobId?: string | null;
  memo?: string;
}

/** Calendar month in UTC, e.g. "2026-11": the quota period. */
export function periodOf(at: Date = new Date()): string {
  return at.toISOString().slice(0, 7);
}

export function toMilli(units: number): number {
  return Math.round(units * 1000);
}

export function fromMilli(milli: number): number {
  return milli / 1000;
}

interface BalanceRow {
  tenant_id: string;
  period: string;
  granted_milli: string;
  reserved_milli: string;
  used_milli: string;
}

function toBalance(r: BalanceRow): Balance {
  const granted = Number(r.granted_milli);
  const reserved = Number(r.reserved_milli);
  const used = Number(r.used_milli);
  return { tenantId: r.tenant_id, period: r.period, grantedMilli: granted, reservedMilli: reserved, usedMilli: used, availableMilli: granted - reserved - used };
}

export function quotaExceeded(requestedMilli: number, balance: Balance): AppError {
  return new AppError(
    ErrorCode.QUOTA_EXCEEDED,
    `quota exceeded for ${balance.period}: this needs ${fromMilli(requestedMilli)} compute units, ` +
      `${fromMilli(balance.availableMilli)} of ${fromMilli(balance.grantedMilli)} are available ` +
      `(${fromMilli(balance.reservedMilli)} reserved by running jobs, ${fromMilli(balance.usedMilli)} used)`,
    {
      requestedUnits: fromMilli(requestedMilli),
      availableUnits: fromMilli(balance.availableMilli),
      budgetUnits: fromMilli(balance.grantedMilli),
      reservedUnits: fromMilli(balance.reservedMilli),
      usedUnits: fromMilli(balance.usedMilli),
      period: balance.period,
    },
  );
}

export class QuotaLedger {
  /**
   * The balance row of a period, created on first use; the period's GRANT is posted from the
   * tenant's policy the first time the period is touched (idempotent by key).
   */
  async ensureBalance(em: EntityManager, tenantId: string, period: string): Promise<Balance> {
    const existing: BalanceRow[] = await em.query(
      `SELECT * FROM quota_balance WHERE tenant_id = $1 AND period = $2`, [tenantId, period]);
    if (existing.length) return toBalance(existing[0]);
    await em.query(
      `INSERT INTO quota_balance (tenant_id, period) VALUES ($1, $2) ON CONFLICT DO NOTHING`, [tenantId, period]);
    const policy: { budget_milli: string }[] = await em.query(
      `SELECT budget_milli FROM quota_policy WHERE tenant_id = $1`, [tenantId]);
    if (policy.length && Number(policy[0].budget_milli) > 0) {
      await this.post(em, 'GRANT', {
        tenantId, period, milli: Number(policy[0].budget_milli), key: `grant:${tenantId}:${period}`, memo: 'monthly budget',
      });
    }
    return this.balance(em, tenantId, period);
  }

  async balance(em: EntityManager, tenantId: string, period: string): Promise<Balance> {
    const rows: BalanceRow[] = await em.query(
      `SELECT * FROM quota_balance WHERE tenant_id = $1 AND period = $2`, [tenantId, period]);
    if (!rows.length) return { tenantId, period, grantedMilli: 0, reservedMilli: 0, usedMilli: 0, availableMilli: 0 };
    return toBalance(rows[0]);
  }

  /** Sets the period's budget to `budgetMilli` by posting the difference as an ADJUST. */
  async setBudget(em: EntityManager, tenantId: string, period: string, budgetMilli: number, memo: string): Promise<Balance> {
    const current = await this.ensureBalance(em, tenantId, period);
    const delta = budgetMilli - current.grantedMilli;
    if (delta !== 0) {
      if (current.grantedMilli + delta - current.reservedMilli - current.usedMilli < 0) {
        // Lowering a budget below what is already used or held is allowed: available becomes 0,
        // not negative, and the shortfall is recorded, not hidden.
        const floor = current.reservedMilli + current.usedMilli;
        return this.setBudget(em, tenantId, period, floor, `${memo} (requested ${fromMilli(budgetMilli)}; floored at reserved + used)`);
      }
      await this.post(em, 'ADJUST', { tenantId, period, milli: delta, key: `adjust:${randomUUID()}`, memo });
    }
    return this.balance(em, tenantId, period);
  }

  /** Holds `milli` for a job, or throws QUOTA_EXCEEDED with the numbers. */
  async reserve(em: EntityManager, p: Posting): Promise<Balance> {
    const before = await this.ensureBalance(em, p.tenantId, p.period);
    const rows = await returning<BalanceRow>(em,
      `UPDATE quota_balance SET reserved_milli = reserved_milli + $3
        WHERE tenant_id = $1 AND period = $2 AND granted_milli - reserved_milli - used_milli >= $3
        RETURNING *`,
      [p.tenantId, p.period, p.milli],
    );
    if (!rows.length) throw quotaExceeded(p.milli, before);
    await this.insertEntry(em, 'RESERVE', p);
    return toBalance(rows[0]);
  }

  /**
   * Records measured use. With a job, it consumes that job's hold and must not exceed it (the
   * caller clamps); without one (synchronous inference), it draws on the available budget.
   * Returns false when this fact was already posted.
   */
  async capture(em: EntityManager, p: Posting): Promise<boolean> {
    if (p.milli === 0) return false;
    if (!(await this.insertEntry(em, 'CAPTURE', p))) return false;
    const reservedDelta = p.jobId ? p.milli : 0;
    const rows = await returning<BalanceRow>(em,
      `UPDATE quota_balance SET used_milli = used_milli + $3, reserved_milli = reserved_milli - $4
        WHERE tenant_id = $1 AND period = $2 AND granted_milli - reserved_milli - used_milli + $4 >= $3
        RETURNING *`,
      [p.tenantId, p.period, p.milli, reservedDelta],
    );
    if (!rows.length) throw quotaExceeded(p.milli, await this.balance(em, p.tenantId, p.period));
    return true;
  }

  /**
   * Releases whatever is left of a job's hold. Returns the milli-units released. Callers hold the
   * job's row lock (SELECT … FOR UPDATE), so no capture of the same job interleaves.
   */
  async releaseRest(em: EntityManager, p: Omit<Posting, 'milli'> & { jobId: string }): Promise<number> {
    const rest = await this.jobHold(em, p.jobId);
    if (rest <= 0) return 0;
    if (!(await this.insertEntry(em, 'RELEASE', { ...p, milli: rest }))) return 0;
    await em.query(
      `UPDATE quota_balance SET reserved_milli = reserved_milli - $3 WHERE tenant_id = $1 AND period = $2`,
      [p.tenantId, p.period, rest],
    );
    return rest;
  }

  /** A job's outstanding hold: reserved − captured − released, from the ledger itself. */
  async jobHold(em: EntityManager, jobId: string): Promise<number> {
    const [row]: { hold: string }[] = await em.query(
      `SELECT coalesce(sum(CASE kind WHEN 'RESERVE' THEN units_milli ELSE -units_milli END), 0) AS hold
         FROM ledger_entry WHERE job_id = $1 AND kind IN ('RESERVE', 'CAPTURE', 'RELEASE')`,
      [jobId],
    );
    return Number(row.hold);
  }

  private async post(em: EntityManager, kind: 'GRANT' | 'ADJUST', p: Posting): Promise<void> {
    if (!(await this.insertEntry(em, kind, p))) return;
    await em.query(
      `UPDATE quota_balance SET granted_milli = granted_milli + $3 WHERE tenant_id = $1 AND period = $2`,
      [p.tenantId, p.period, p.milli],
    );
  }

  private async insertEntry(em: EntityManager, kind: string, p: Posting): Promise<boolean> {
    const rows = await em.query(
      `INSERT INTO ledger_entry (tenant_id, period, kind, units_milli, job_id, entry_key, memo)
       VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (entry_key) DO NOTHING RETURNING id`,
      [p.tenantId, p.period, kind, p.milli, p.jobId ?? null, p.key, p.memo ?? null],
    );
    return rows.length > 0;
  }
}
