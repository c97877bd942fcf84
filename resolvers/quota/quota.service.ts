// Quota policies (alliance admins) and each tenant's view of its budget and ledger.
import { AppError } from '../../core/app-error';
import { toGlobalId } from '../../core/global-id';
import { LedgerEntry, QuotaPolicy, Tenant } from '../../entities';
import type { AuditLog } from '../../tenants/audit-log';
import type { QuotaHolds } from '../../tenants/quota-holds';
import { fromMilli, periodOf, toMilli, type Balance, type QuotaLedger } from '../../tenants/quota-ledger';
import { requireTenant, type RequestScope } from '../../tenants/request-scope';
import type { TenantDatabase } from '../../tenants/tenant-database';
import { isoKey, paginate, type ConnectionShape, type PageArgs } from '../common/connection';
import type { EntityManager } from 'typeorm';
import { LedgerEntryNode, QuotaNode, SetQuotaInput } from './quota.types';

const MAX_BUDGET_UNITS = 1e12;
const MAX_DEVICES = 100_000;

export class QuotaService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly ledger: QuotaLedger,
    private readonly audit: AuditLog,
    private readonly holds?: QuotaHolds,
  ) {}

  /**
   * The caller's quota. Synchronous requests this process answered are settled first, and what
   * it holds of the budget for the next ones counts as available (tenants/quota-holds.ts).
   */
  async current(scope: RequestScope): Promise<QuotaNode> {
    const tenant = requireTenant(scope);
    await this.holds?.flush(tenant.tenantId);
    return this.db.withTenant(scope, (em) => this.load(em, tenant.tenantId));
  }

  async set(scope: RequestScope, input: SetQuotaInput): Promise<QuotaNode> {
    if (!scope.isAllianceAdmin) throw AppError.forbidden('only alliance administrators set quotas');
    const weight = input.weight ?? 1;
    if (!Number.isFinite(input.budgetUnits) || input.budgetUnits < 0 || input.budgetUnits > MAX_BUDGET_UNITS) {
      throw AppError.badInput(`budgetUnits must be between 0 and ${MAX_BUDGET_UNITS}; got ${input.budgetUnits}`);
    }
    for (const [name, value] of [['guaranteedDevices', input.guaranteedDevices], ['borrowLimitDevices', input.borrowLimitDevices]] as const) {
      if (!Number.isInteger(value) || value < 0 || value > MAX_DEVICES) throw AppError.badInput(`${name} must be an integer between 0 and ${MAX_DEVICES}; got ${value}`);
    }
    if (!Number.isFinite(weight) || weight <= 0 || weight > 1000) throw AppError.badInput(`weight must be above 0 and at most 1000; got ${weight}`);
    const tenant = await this.db.withTenant(scope, (em) => em.findOne(Tenant, { where: { slug: input.tenantSlug } }));
    if (!tenant) throw AppError.notFound('tenant', input.tenantSlug);
    // A new budget applies to what is not yet set aside: this process's holds go back first.
    await this.holds?.flush(tenant.id, { close: true });
    return this.db.withIdentity({ userId: scope.user.id, tenantId: tenant.id, isAllianceAdmin: true }, async (em) => {
      const budgetMilli = toMilli(input.budgetUnits);
      await em.query(
        `INSERT INTO quota_policy (tenant_id, budget_milli, guaranteed_devices, borrow_limit_devices, weight)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id) DO UPDATE SET budget_milli = $2, guaranteed_devices = $3,
           borrow_limit_devices = $4, weight = $5, updated_at = now()`,
        [tenant.id, budgetMilli, input.guaranteedDevices, input.borrowLimitDevices, weight],
      );
      await this.ledger.setBudget(em, tenant.id, periodOf(), budgetMilli, `budget set by ${scope.user.username}`);
      await this.audit.record(em, scope, tenant.id, 'quota.set', { type: 'Tenant', id: tenant.id }, {
        budgetUnits: input.budgetUnits, guaranteedDevices: input.guaranteedDevices, borrowLimitDevices: input.borrowLimitDevices, weight,
      });
      return this.load(em, tenant.id);
    });
  }

  async ledgerEntries(scope: RequestScope, args: PageArgs): Promise<ConnectionShape<LedgerEntryNode>> {
    const tenant = requireTenant(scope);
    await this.holds?.flush(tenant.tenantId);
    return paginate(
      (work) => this.db.withTenant(scope, work),
      (em) => em.createQueryBuilder(LedgerEntry, 'l').where('l.tenant_id = :tenantId', { tenantId: tenant.tenantId }),
      args,
      { columns: ['l.created_at', 'l.id'], key: (l) => [isoKey(l.createdAt), l.id] },
      ledgerNode,
    );
  }

  /** The quota as the contract shows it, inside the caller's transaction. */
  async load(em: EntityManager, tenantId: string): Promise<QuotaNode> {
    const balance = heldAsAvailable(await this.ledger.ensureBalance(em, tenantId, periodOf()), this.holds?.heldHere(tenantId) ?? 0);
    const policy = await em.findOne(QuotaPolicy, { where: { tenantId } });
    return quotaNode(tenantId, balance, policy, await this.runningDevices(em, tenantId));
  }

  private async runningDevices(em: EntityManager, tenantId: string): Promise<number> {
    const [{ n }] = await em.query(`SELECT count(*)::int AS n FROM job_shard WHERE tenant_id = $1 AND status = 'RUNNING'`, [tenantId]);
    return n;
  }
}

export function ledgerNode(l: LedgerEntry): LedgerEntryNode {
  return Object.assign(new LedgerEntryNode(), {
    id: toGlobalId('LedgerEntry', l.id), kind: l.kind, units: fromMilli(l.unitsMilli), memo: l.memo, at: l.createdAt, period: l.period, jobId: l.jobId,
  });
}

function quotaNode(tenantId: string, b: Balance, policy: QuotaPolicy | null, runningDevices: number): QuotaNode {
  return Object.assign(new QuotaNode(), {
    tenantId,
    period: b.period,
    budgetUnits: fromMilli(b.grantedMilli),
    reservedUnits: fromMilli(b.reservedMilli),
    usedUnits: fromMilli(b.usedMilli),
    availableUnits: fromMilli(b.availableMilli),
    guaranteedDevices: policy?.guaranteedDevices ?? 0,
    borrowLimitDevices: policy?.borrowLimitDevices ?? 0,
    runningDevices,
    weight: policy?.weight ?? 1,
  });
}

function heldAsAvailable(balance: Balance, heldMilli: number): Balance {
  const held = Math.min(heldMilli, balance.reservedMilli);
  return { ...balance, reservedMilli: balance.reservedMilli - held, availableMilli: balance.availableMilli + held };
}
