// From a verified token to a RequestScope: provision the user on first sign-in, load the
// user's memberships, and choose the acting tenant (X-Tenant / connectionParams.tenant, else the
// only membership). The choice rules are the contract's (contract/README.md, Identity).
import { AppError } from '../core/app-error';
import type { TenantRole } from '../entities';
import type { RequestScope, TenantMembershipRef } from './request-scope';
import type { TenantDatabase } from './tenant-database';

export interface TokenIdentity {
  subject: string;
  username: string;
  isAllianceAdmin: boolean;
}

export class IdentityService {
  // Provisioning is an upsert on every cache miss; the cache only saves the round trip.
  private readonly known = new Map<string, { id: string; username: string }>();

  constructor(private readonly db: TenantDatabase) {}

  async resolveScope(identity: TokenIdentity, requestedTenant?: string): Promise<RequestScope> {
    const user = await this.provision(identity);
    const memberships = await this.db.withIdentity({ userId: user.id }, async (em) => {
      const rows: { tenant_id: string; slug: string; role: TenantRole }[] = await em.query(
        `SELECT m.tenant_id, t.slug, m.role FROM membership m JOIN tenant t ON t.id = m.tenant_id
          WHERE m.user_id = $1 ORDER BY t.slug`,
        [user.id],
      );
      return rows.map((r): TenantMembershipRef => ({ tenantId: r.tenant_id, slug: r.slug, role: r.role }));
    });
    const base = {
      kind: 'request' as const,
      user: { id: user.id, subject: identity.subject, username: user.username },
      isAllianceAdmin: identity.isAllianceAdmin,
      memberships,
    };
    const slug = requestedTenant?.trim();
    if (slug) {
      const chosen = memberships.find((m) => m.slug === slug);
      if (!chosen) {
        throw AppError.forbidden(`you are not a member of tenant "${slug.slice(0, 60)}"` +
          (memberships.length ? `; your tenants: ${memberships.map((m) => m.slug).join(', ')}` : ''));
      }
      return { ...base, tenant: chosen };
    }
    if (memberships.length === 1) return { ...base, tenant: memberships[0] };
    if (memberships.length === 0) {
      return { ...base, noTenantReason: `${user.username} is not a member of any tenant` };
    }
    return {
      ...base,
      noTenantReason: `${user.username} belongs to several tenants (${memberships.map((m) => m.slug).join(', ')}): ` +
        'choose one with the X-Tenant header (or connectionParams.tenant on WebSocket)',
    };
  }

  private async provision(identity: TokenIdentity): Promise<{ id: string; username: string }> {
    const cached = this.known.get(identity.subject);
    if (cached && cached.username === identity.username) return cached;
    const row = await this.db.withSystem('provision a user on first sign-in', async (em) => {
      const rows: { id: string; username: string }[] = await em.query(
        `INSERT INTO app_user (subject, username) VALUES ($1, $2)
         ON CONFLICT (subject) DO UPDATE SET username = EXCLUDED.username, last_seen_at = now()
         RETURNING id, username`,
        [identity.subject, identity.username],
      );
      return rows[0];
    });
    if (this.known.size > 10_000) this.known.clear();
    this.known.set(identity.subject, row);
    return row;
  }
}
