// Per-tenant GraphQL rate limits, GitHub-style: every operation costs points (its computed query
// cost, api/graphql/limits/query-cost.ts) out of an hourly budget. The budget belongs to the
// acting tenant, or to the user when a caller acts without one (an alliance admin, say), so
// nobody escapes the limit by not choosing a tenant.
//
// The state lives in PostgreSQL (rate_limit_usage), not in process memory, so every API process
// spends from the same budget. Windows are fixed hours of the database clock: every process
// agrees on the window and on when it resets, whatever its own clock says. Charging is one
// statement (see CHARGE below): the conflicting row's lock serialises concurrent charges, and
// the `WHERE used + cost <= budget` on the update refuses an operation that would overdraw it, so
// a refused operation spends nothing and the last points can never be spent twice. Every
// operation pays this, so it is one round trip: the SQL function app_rate_limit_charge
// (migrations/1765094400000-hot-path-functions.ts); the budget lookup below is its twin for peeks.
import type { EntityManager } from 'typeorm';
import type { RateLimitSubjectType } from '../entities';
import type { RequestScope } from './request-scope';
import type { TenantDatabase } from './tenant-database';

export interface RateLimitSubject {
  type: RateLimitSubjectType;
  id: string;
  /** For messages: the tenant's slug or the username. */
  label: string;
}

export interface RateLimitState {
  subject: RateLimitSubject;
  /** Points per hour. */
  limit: number;
  /** Points this operation costs (0 for a look that charges nothing); charged only when admitted. */
  cost: number;
  /** Points spent in the current window, this operation included when admitted. */
  used: number;
  remaining: number;
  resetAt: Date;
  /** False when the operation would have overdrawn the budget (nothing was charged). */
  admitted: boolean;
}

interface WindowRow {
  points: number;
  window_start: Date;
  used: number | null;
}

// The budget without spending any. $1 subject type, $2 subject id, $3 default budget.
const PEEK = `
  WITH budget AS (
    SELECT date_trunc('hour', now()) AS window_start,
           coalesce((SELECT s.points_per_hour FROM rate_limit_setting s
                      WHERE $1::text = 'TENANT' AND s.tenant_id = $2::uuid), $3::int) AS points
  )
  SELECT b.points, b.window_start,
         coalesce((SELECT u.used FROM rate_limit_usage u
                    WHERE u.subject_type = $1::text AND u.subject_id = $2::uuid
                      AND u.window_start = b.window_start), 0) AS used
    FROM budget b`;

const HOUR_MS = 3_600_000;

export class RateLimiter {
  /** The window this process last pruned up to: older windows are deleted once per hour. */
  private prunedBefore = 0;

  constructor(
    private readonly db: TenantDatabase,
    private readonly defaultPointsPerHour: number,
  ) {}

  subjectOf(scope: RequestScope): RateLimitSubject {
    return scope.tenant
      ? { type: 'TENANT', id: scope.tenant.tenantId, label: `tenant ${scope.tenant.slug}` }
      : { type: 'USER', id: scope.user.id, label: `user ${scope.user.username}` };
  }

  /** Spends `cost` points of the caller's budget, or refuses without spending any. */
  async charge(scope: RequestScope, cost: number): Promise<RateLimitState> {
    const subject = this.subjectOf(scope);
    const [row] = await this.db.callScoped<WindowRow & { admitted: boolean }>(scope, 'app_rate_limit_charge',
      [subject.type, subject.id, cost, this.defaultPointsPerHour]);
    this.pruneOldWindows(row.window_start);
    return this.state(subject, row, cost, row.admitted);
  }

  /** The caller's budget without spending any (responses that ran no operation). */
  peek(scope: RequestScope): Promise<RateLimitState> {
    const subject = this.subjectOf(scope);
    return this.db.withTenant(scope, (em) => this.peekIn(em, subject));
  }

  /** The same look for a subject the caller may see (an admin looking at a tenant). */
  async peekIn(em: EntityManager, subject: RateLimitSubject): Promise<RateLimitState> {
    const [row]: WindowRow[] = await em.query(PEEK, [subject.type, subject.id, this.defaultPointsPerHour]);
    return this.state(subject, row, 0, true);
  }

  private state(subject: RateLimitSubject, row: WindowRow, cost: number, admitted: boolean): RateLimitState {
    const limit = Number(row.points);
    const used = Number(row.used ?? 0);
    return {
      subject,
      limit,
      cost,
      used,
      remaining: Math.max(0, limit - used),
      resetAt: new Date(new Date(row.window_start).getTime() + HOUR_MS),
      admitted,
    };
  }

  private pruneOldWindows(windowStart: Date): void {
    const start = new Date(windowStart).getTime();
    if (start <= this.prunedBefore) return;
    this.prunedBefore = start;
    // Finished windows are only history; a deleted tenant's rows go with them.
    void this.db.withSystem('prune finished rate-limit windows of every subject', (em) =>
      em.query(`DELETE FROM rate_limit_usage WHERE window_start < $1`, [new Date(start)]),
    ).catch(() => {
      this.prunedBefore = 0; // try again on the next charge
    });
  }
}
