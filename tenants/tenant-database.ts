// The one way into the database. Request code runs in `withTenant`: a transaction on the
// alliance_app role with the request's identity in transaction-local settings, so PostgreSQL
// row-level security filters every row even where a query forgets its WHERE clause. System work
// (provisioning, seeding, later the scheduler and workers) runs in `withSystem` on the
// alliance_system role and must say why — grep for withSystem to audit every cross-tenant path.
import type { Pool } from 'pg';
import type { DataSource, EntityManager } from 'typeorm';
import type { PostgresDriver } from 'typeorm/driver/postgres/PostgresDriver';
import type { RequestScope } from './request-scope';

export interface IdentitySettings {
  userId?: string;
  tenantId?: string;
  isAllianceAdmin?: boolean;
}

function identityOf(scope: RequestScope): IdentitySettings {
  return { userId: scope.user.id, tenantId: scope.tenant?.tenantId, isAllianceAdmin: scope.isAllianceAdmin };
}

/** app.user_id, app.tenant_id, app.alliance_admin as the policies read them ('' = none). */
function settingValues(identity: IdentitySettings): string[] {
  return [identity.userId ?? '', identity.tenantId ?? '', identity.isAllianceAdmin ? 'on' : 'off'];
}

/** The scoped functions callScoped may call. */
export type HotPathFunction = 'app_rate_limit_lease' | 'app_infer_endpoint' | 'app_quota_hold_take' | 'app_readable_blob';

/**
 * Told how long each callScoped round trip took (api/metrics.ts: alliance_db_hot_path_seconds),
 * and whether a request waited for it or it ran ahead of need (a lease or hold topped up before
 * it ran out, which no request waits for).
 */
export type HotPathObserver = (fn: HotPathFunction, seconds: number, ahead: boolean) => void;

export interface CallScopedOptions {
  /** Taken ahead of need: no request waits for this round trip (reported apart in the metrics). */
  ahead?: boolean;
}

export class TenantDatabase {
  constructor(
    private readonly app: DataSource,
    private readonly system: DataSource,
    private readonly observeHotPath?: HotPathObserver,
  ) {}

  withTenant<T>(scope: RequestScope, work: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.withIdentity(identityOf(scope), work);
  }

  /** Lower level than withTenant, for building the scope itself (user known, tenant not yet). */
  withIdentity<T>(identity: IdentitySettings, work: (em: EntityManager) => Promise<T>): Promise<T> {
    return this.app.transaction(async (em) => {
      await em.query(
        `SELECT set_config('app.user_id', $1, true), set_config('app.tenant_id', $2, true),
                set_config('app.alliance_admin', $3, true)`,
        settingValues(identity),
      );
      return work(em);
    });
  }

  /**
   * One scoped SQL function in one round trip, for the statements a request may wait for when
   * memory cannot answer it (a rate-limit lease, an endpoint lookup, a quota hold growing; their
   * migrations say why each is one function). The function receives the identity as its
   * first three arguments and sets it transaction-locally itself, as withIdentity does; it runs
   * outside any transaction, so the call is its own transaction and the identity ends with it.
   * `fn` is a constant of ours, never input.
   */
  async callScoped<T>(scope: RequestScope, fn: HotPathFunction, args: unknown[], opts: CallScopedOptions = {}): Promise<T[]> {
    const values = [...settingValues(identityOf(scope)), ...args];
    const placeholders = values.map((_, i) => `$${i + 1}`).join(', ');
    // The driver's pool directly: TypeORM's per-query runner, logging and subscriber broadcast
    // cost more than the statement on this path.
    const pool = (this.app.driver as PostgresDriver).master as Pool;
    const started = performance.now();
    const { rows } = await pool.query<T & object>(`SELECT * FROM ${fn}(${placeholders})`, values);
    this.observeHotPath?.(fn, (performance.now() - started) / 1000, opts.ahead ?? false);
    return rows;
  }

  /** Cross-tenant work that no request may do on its own. `reason` documents the call site. */
  withSystem<T>(reason: string, work: (em: EntityManager) => Promise<T>): Promise<T> {
    void reason;
    return this.system.transaction(work);
  }

  /**
   * One statement of system work, which is its own transaction: one round trip on the driver's
   * pool, where withSystem costs three (and TypeORM's query runner) for the same atomicity. For
   * frequent background work — quota-hold settlements run every 100 ms per active tenant, on the
   * cores the models run on.
   */
  async querySystem<T extends object>(reason: string, sql: string, params: unknown[]): Promise<T[]> {
    void reason;
    const pool = (this.system.driver as PostgresDriver).master as Pool;
    return (await pool.query<T>(sql, params)).rows;
  }

  async ping(): Promise<void> {
    await this.app.query('SELECT 1');
  }
}
