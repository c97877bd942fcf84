// Who is acting, for which tenant, with which role: built once per request (api/context.ts) or
// once per system task, and immutable afterwards. Services take it as their first argument.
import { AppError } from '../core/app-error';
import type { TenantRole } from '../entities';

export interface ActingUser {
  id: string;
  subject: string;
  username: string;
}

export interface TenantMembershipRef {
  tenantId: string;
  slug: string;
  role: TenantRole;
}

export interface RequestScope {
  readonly kind: 'request';
  readonly user: ActingUser;
  readonly isAllianceAdmin: boolean;
  readonly memberships: readonly TenantMembershipRef[];
  /** The acting tenant, when one is chosen (X-Tenant) or implied (the only membership). */
  readonly tenant?: TenantMembershipRef;
  /** Why no tenant is acting, for tenant-scoped fields to answer with. */
  readonly noTenantReason?: string;
}

export function requireTenant(scope: RequestScope): TenantMembershipRef {
  if (scope.tenant) return scope.tenant;
  throw AppError.badInput(scope.noTenantReason ?? 'this operation needs an acting tenant; send the X-Tenant header');
}

const RANK: Record<TenantRole, number> = { OWNER: 4, ADMIN: 3, MEMBER: 2, VIEWER: 1 };

/** True when `role` is at least `minimum` (OWNER > ADMIN > MEMBER > VIEWER). */
export function roleAtLeast(role: TenantRole, minimum: TenantRole): boolean {
  return RANK[role] >= RANK[minimum];
}

export function requireRole(scope: RequestScope, minimum: TenantRole, action: string): TenantMembershipRef {
  const tenant = requireTenant(scope);
  if (!roleAtLeast(tenant.role, minimum)) {
    throw AppError.forbidden(`${action} needs the ${minimum} role or higher in ${tenant.slug}; you are ${tenant.role}`);
  }
  return tenant;
}
