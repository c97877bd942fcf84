// Tenants and memberships: the alliance's member organisations and who acts for them.
import { AppError } from '../../core/app-error';
import { fromGlobalId } from '../../core/global-id';
import type { EntityManager } from 'typeorm';
import { Membership, Tenant, TenantRole, User } from '../../entities';
import type { AuditLog } from '../../tenants/audit-log';
import type { MembershipChanges } from '../../tenants/identity';
import { roleAtLeast, type RequestScope } from '../../tenants/request-scope';
import type { TenantDatabase } from '../../tenants/tenant-database';
import { isoKey, paginate, type ConnectionShape, type PageArgs } from '../common/connection';
import { CreateTenantInput, MembershipNode, TenantNode } from './tenants.types';

const SLUG = /^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$/;

export class TenantsService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly audit: AuditLog,
    /** Told after each change commits, so this process's next request sees it at once. */
    private readonly changes: MembershipChanges,
  ) {}

  /** Tenants visible to the caller: its own, or all of them for an alliance admin (RLS decides). */
  list(scope: RequestScope, args: PageArgs): Promise<ConnectionShape<TenantNode>> {
    return paginate(
      (work) => this.db.withTenant(scope, work),
      (em) => em.createQueryBuilder(Tenant, 't'),
      args,
      { columns: ['t.created_at', 't.id'], key: (t) => [isoKey(t.createdAt), t.id] },
      TenantNode.from,
    );
  }

  async bySlug(scope: RequestScope, slug: string): Promise<TenantNode> {
    const tenant = await this.db.withTenant(scope, (em) => em.findOne(Tenant, { where: { slug } }));
    if (!tenant) throw AppError.notFound('tenant', slug);
    return TenantNode.from(tenant);
  }

  async create(scope: RequestScope, input: CreateTenantInput): Promise<TenantNode> {
    if (!scope.isAllianceAdmin) throw AppError.forbidden('only alliance administrators create tenants');
    const slug = input.slug.trim();
    const name = input.name.trim();
    if (!SLUG.test(slug)) {
      throw AppError.badInput(`slug "${slug.slice(0, 60)}" must be 1–40 lowercase letters, digits or inner hyphens`);
    }
    if (name.length < 1 || name.length > 200) throw AppError.badInput('name must be 1–200 characters');
    return this.db.withTenant(scope, async (em) => {
      const existing = await em.findOne(Tenant, { where: { slug } });
      if (existing) throw AppError.conflict(`a tenant with slug "${slug}" already exists`);
      const tenant = await em.save(em.create(Tenant, { slug, name }));
      await this.audit.record(em, scope, tenant.id, 'tenant.create', { type: 'Tenant', id: tenant.id }, { slug, name });
      return TenantNode.from(tenant);
    });
  }

  members(scope: RequestScope, tenantId: string, args: PageArgs): Promise<ConnectionShape<MembershipNode>> {
    // A tenant may appear nested under another tenant's shared object; its member list is
    // still only for its own members and alliance admins (RLS enforces the same).
    if (!scope.isAllianceAdmin && !scope.memberships.some((m) => m.tenantId === tenantId)) {
      return Promise.reject(AppError.notFound('members of tenant'));
    }
    return paginate(
      (work) => this.db.withTenant(scope, work),
      (em) => em.createQueryBuilder(Membership, 'm').where('m.tenant_id = :tenantId', { tenantId }),
      args,
      { columns: ['m.created_at', 'm.user_id'], key: (m) => [isoKey(m.createdAt), m.userId] },
      MembershipNode.from,
    );
  }

  /** Adds a user to a tenant, or changes the role of one already there. */
  async addMember(scope: RequestScope, tenantSlug: string, username: string, role: TenantRole): Promise<MembershipNode> {
    const tenantId = await this.managedTenantId(scope, tenantSlug, 'addMember');
    const member = await this.db.withIdentity(this.identityFor(scope, tenantId), async (em) => {
      const user = await em.findOne(User, { where: { username } });
      if (!user) {
        throw AppError.notFound(`user "${username.slice(0, 60)}" (users appear after signing in once)`);
      }
      const existing = await em.findOne(Membership, { where: { tenantId, userId: user.id } });
      if (existing?.role === TenantRole.OWNER && role !== TenantRole.OWNER) await this.assertAnotherOwner(em, tenantId, user.id);
      if (existing && existing.role === role) return MembershipNode.from(existing);
      const saved = await em.save(Membership, { tenantId, userId: user.id, role, createdAt: existing?.createdAt });
      await this.audit.record(em, scope, tenantId, existing ? 'membership.change-role' : 'membership.add',
        { type: 'User', id: user.id }, { username, role, previousRole: existing?.role ?? null });
      const row = await em.findOneOrFail(Membership, { where: { tenantId, userId: saved.userId } });
      return MembershipNode.from(row);
    });
    this.changes.forget(member.userId);
    return member;
  }

  async removeMember(scope: RequestScope, tenantSlug: string, username: string): Promise<boolean> {
    const tenantId = await this.managedTenantId(scope, tenantSlug, 'removeMember');
    const removed = await this.db.withIdentity(this.identityFor(scope, tenantId), async (em) => {
      const user = await em.findOne(User, { where: { username } });
      const existing = user && (await em.findOne(Membership, { where: { tenantId, userId: user.id } }));
      if (!user || !existing) throw AppError.notFound(`member "${username.slice(0, 60)}" of ${tenantSlug}`);
      if (existing.role === TenantRole.OWNER) await this.assertAnotherOwner(em, tenantId, user.id);
      await em.delete(Membership, { tenantId, userId: user.id });
      await this.audit.record(em, scope, tenantId, 'membership.remove', { type: 'User', id: user.id }, { username });
      return user.id;
    });
    this.changes.forget(removed);
    return true;
  }

  tenantIdFromGlobal(id: string): string {
    return fromGlobalId(id, 'Tenant');
  }

  /** The tenant's id when the caller may manage its members (OWNER/ADMIN there, or admin). */
  private async managedTenantId(scope: RequestScope, tenantSlug: string, action: string): Promise<string> {
    const membership = scope.memberships.find((m) => m.slug === tenantSlug);
    if (membership && roleAtLeast(membership.role, TenantRole.ADMIN)) return membership.tenantId;
    if (membership) {
      throw AppError.forbidden(`${action} needs the OWNER or ADMIN role in ${tenantSlug}; you are ${membership.role}`);
    }
    if (scope.isAllianceAdmin) {
      const tenant = await this.db.withTenant(scope, (em) => em.findOne(Tenant, { where: { slug: tenantSlug } }));
      if (tenant) return tenant.id;
    }
    throw AppError.notFound('tenant', tenantSlug);
  }

  /** Member management runs as the managed tenant, whichever tenant the caller acts as. */
  private identityFor(scope: RequestScope, tenantId: string) {
    return { userId: scope.user.id, tenantId, isAllianceAdmin: scope.isAllianceAdmin };
  }

  private async assertAnotherOwner(em: EntityManager, tenantId: string, leavingUserId: string): Promise<void> {
    const owners = await em.count(Membership, { where: { tenantId, role: TenantRole.OWNER } });
    const leaving = await em.findOne(Membership, { where: { tenantId, userId: leavingUserId } });
    if (leaving?.role === TenantRole.OWNER && owners <= 1) {
      throw AppError.conflict('a tenant must keep at least one OWNER; make someone else OWNER first');
    }
  }
}
