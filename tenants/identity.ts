// From a verified token to a RequestScope: provision the user on first sign-in, load the
// user's memberships, and choose the acting tenant (X-Tenant / connectionParams.tenant, else the
// only membership). The choice rules are the contract's (contract/README.md, Identity).
//
// Memberships are read on every request, so they are cached per user — but only while this
// process follows the database's change notices (followChanges): a trigger on membership and
// tenant announces every change (CHANNELS.membership), this process forgets at once what it
// changed itself, everything is forgotten when the LISTEN connection had to reconnect (notices
// may have been lost), and an entry lives MEMBERSHIP_TTL_MS at most in any case. A load that
// raced a change is not cached (the generation check), so a removed member never keeps access
// from a stale read.
import { LRUCache } from 'lru-cache';
import { AppError } from '../core/app-error';
import type { TenantRole } from '../entities';
import { CHANNELS } from './job-events';
import type { PgListener } from './pg-listener';
import type { RequestScope, TenantMembershipRef } from './request-scope';
import type { TenantDatabase } from './tenant-database';

const MEMBERSHIP_TTL_MS = 30_000;

/** What changes memberships tells the cache (resolvers/tenants). */
export interface MembershipChanges {
  forget(userId: string): void;
}

export interface TokenIdentity {
  subject: string;
  username: string;
  isAllianceAdmin: boolean;
}

export class IdentityService implements MembershipChanges {
  // Provisioning is an upsert on every cache miss; the cache only saves the round trip.
  private readonly known = new Map<string, { id: string; username: string }>();
  private readonly memberships = new LRUCache<string, readonly TenantMembershipRef[]>({ max: 10_000, ttl: MEMBERSHIP_TTL_MS });
  /** Off until followChanges: without change notices nothing may be cached. */
  private caching = false;
  /** Bumped by every change notice; a load that saw it move does not cache what it read. */
  private generation = 0;

  constructor(private readonly db: TenantDatabase) {}

  /** Starts caching memberships, invalidated by the database's change notices. */
  followChanges(listener: PgListener): void {
    listener.on(CHANNELS.membership, (userId) => (userId === '*' ? this.forgetAll() : this.forget(userId)));
    listener.onReconnect(() => this.forgetAll());
    this.caching = true;
  }

  forget(userId: string): void {
    this.generation += 1;
    this.memberships.delete(userId);
  }

  private forgetAll(): void {
    this.generation += 1;
    this.memberships.clear();
  }

  async resolveScope(identity: TokenIdentity, requestedTenant?: string): Promise<RequestScope> {
    const user = await this.provision(identity);
    const memberships = this.memberships.get(user.id) ?? await this.loadMemberships(user.id);
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

  private async loadMemberships(userId: string): Promise<readonly TenantMembershipRef[]> {
    const generation = this.generation;
    const memberships = await this.db.withIdentity({ userId }, async (em) => {
      const rows: { tenant_id: string; slug: string; role: TenantRole }[] = await em.query(
        `SELECT m.tenant_id, t.slug, m.role FROM membership m JOIN tenant t ON t.id = m.tenant_id
          WHERE m.user_id = $1 ORDER BY t.slug`,
        [userId],
      );
      return Object.freeze(rows.map((r): TenantMembershipRef => Object.freeze({ tenantId: r.tenant_id, slug: r.slug, role: r.role })));
    });
    if (this.caching && generation === this.generation) this.memberships.set(userId, memberships);
    return memberships;
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
