// The one way into the database. Request code runs in `withTenant`: a transaction on the
// alliance_app role with the request's identity in transaction-local settings, so PostgreSQL
// row-level security filters every row even where a query forgets its WHERE clause. System work
// (provisioning, seeding, later the scheduler and workers) runs in `withSystem` on the
// alliance_system role and must say why — grep for withSystem to audit every cross-tenant path.
import type { DataSource, EntityManager } from 'typeorm';
import type { RequestScope } from './request-scope';

export interface IdentitySettings {
  userId?: string;
  tenantId?: string;
  isAllianceAdmin?: boolean;
}

export class TenantDatabase {
  constructor(
    private readonly app: DataSource,
    private readonly system: DataSource,
  ) {}

  withTenant<T>(scope: RequestScope, work: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.withIdentity(
      { userId: scope.user.id, tenantId: scope.tenant?.tenantId, isAllianceAdmin: scope.isAllianceAdmin },
      work,
    );
  }

  /** Lower level than withTenant, for building the scope itself (user known, tenant not yet). */
  withIdentity<T>(identity: IdentitySettings, work: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.app.transaction(async (em) => {
      await em.query(
        `SELECT set_config('app.user_id', $1, true), set_config('app.tenant_id', $2, true),
                set_config('app.alliance_admin', $3, true)`,
        [identity.userId ?? '', identity.tenantId ?? '', identity.isAllianceAdmin ? 'on' : 'off'],
      );
      return work(em);
    });
  }

  /** Cross-tenant work that no request may do on its own. `reason` documents the call site. */
  withSystem<T>(reason: string, work: (em: EntityManager) => Promise<T>): Promise<T> {
    void reason;
    return this.system.transaction(work);
  }

  async ping(): Promise<void> {
    await this.app.query('SELECT 1');
  }
}
