// The GraphQL rate limit as users see it: their own budget, and the per-tenant overrides that
// alliance admins set. Spending happens in api/graphql/limits, before any resolver runs.
import { AppError } from '../../core/app-error';
import { Tenant } from '../../entities';
import type { AuditLog } from '../../tenants/audit-log';
import type { RateLimiter, RateLimitState } from '../../tenants/rate-limiter';
import type { RequestScope } from '../../tenants/request-scope';
import type { TenantDatabase } from '../../tenants/tenant-database';
import { TenantNode } from '../tenants/tenants.types';
import { TenantRateLimitNode } from './rate-limit.types';

/** Above this an override is no limit at all; say so rather than store a meaningless number. */
export const MAX_POINTS_PER_HOUR = 1_000_000_000;

export class RateLimitService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly limiter: RateLimiter,
    private readonly audit: AuditLog,
  ) {}

  /** The charge of the running operation, or (when nothing was charged) a look at the budget. */
  current(scope: RequestScope, charged: RateLimitState | undefined): Promise<RateLimitState> | RateLimitState {
    return charged ?? this.limiter.peek(scope);
  }

  /** Alliance admins only. `pointsPerHour: null` restores the platform default. */
  async setTenantLimit(scope: RequestScope, tenantSlug: string, pointsPerHour: number | null): Promise<TenantRateLimitNode> {
    if (!scope.isAllianceAdmin) throw AppError.forbidden('only alliance administrators set rate limits');
    if (pointsPerHour !== null && (!Number.isInteger(pointsPerHour) || pointsPerHour < 1 || pointsPerHour > MAX_POINTS_PER_HOUR)) {
      throw AppError.badInput(`pointsPerHour must be between 1 and ${MAX_POINTS_PER_HOUR}, or null for the default; got ${pointsPerHour}`);
    }
    const { tenantId, result } = await this.db.withTenant(scope, async (em) => {
      const tenant = await em.findOne(Tenant, { where: { slug: tenantSlug } });
      if (!tenant) throw AppError.notFound('tenant', tenantSlug.slice(0, 60));
      if (pointsPerHour === null) {
        await em.query(`DELETE FROM rate_limit_setting WHERE tenant_id = $1`, [tenant.id]);
      } else {
        await em.query(
          `INSERT INTO rate_limit_setting (tenant_id, points_per_hour, updated_by) VALUES ($1, $2, $3)
           ON CONFLICT (tenant_id) DO UPDATE
             SET points_per_hour = EXCLUDED.points_per_hour, updated_by = EXCLUDED.updated_by,
                 updated_at = date_trunc('milliseconds', now())`,
          [tenant.id, pointsPerHour, scope.user.id],
        );
      }
      await this.audit.record(em, scope, tenant.id, 'rate_limit.set', { type: 'Tenant', id: tenant.id }, { pointsPerHour });
      const state = await this.limiter.peekIn(em, { type: 'TENANT', id: tenant.id, label: `tenant ${tenant.slug}` });
      return {
        tenantId: tenant.id,
        result: Object.assign(new TenantRateLimitNode(), {
          tenant: TenantNode.from(tenant),
          pointsPerHour: state.limit,
          isDefault: pointsPerHour === null,
          used: state.used,
          resetAt: state.resetAt,
        }),
      };
    });
    // Committed: this process's slice of the tenant's budget was sized against the old one and
    // goes back now, before the admin hears the change took effect. Other processes drop theirs
    // on the trigger's notice (CHANNELS.rateLimit).
    await this.limiter.dropAllowance({ type: 'TENANT', id: tenantId });
    return result;
  }
}
