// Charging synchronous inference, in one round trip (the SQL function app_infer_charge,
// migrations/1765094400000-hot-path-functions.ts), as the caller's own tenant (RLS allows exactly
// these writes), in one transaction:
//   1. lock the period's balance and post a CAPTURE without a job to the ledger, entry key
//      `usage:<request uuid>` — one entry per request, so a request is charged at most once and
//      the balance equals the ledger's sums (tenants/ledger-invariants.ts). Per request rather
//      than per usage bucket because ledger entries are append-only facts: a bucket's entry
//      could not grow with its bucket. The aggregation lives in usage_record instead;
//   2. add the request to its usage_record bucket (caller, endpoint, user, minute): an upsert,
//      never one row per request.
// The function posts what QuotaLedger.capture posts for a capture without a job (an entry and
// the balance moved with it); the ledger invariants checked after every test cover both.
//
// Units: compute units = device seconds × the accelerator's billing weight, rounded *up* to the
// ledger's resolution (0.001 units): a request that ran is never free, and the rounding is at
// most 0.001 units per request, in the caller's disfavour, stated in the API description.
//
// Clamping: the quota check before the run admits a request whose estimate fits; its measured
// cost can exceed the estimate, and concurrent requests of one tenant can race for the last
// units. The balance may never go negative (its CHECK), so the charge is clamped to what is
// left under the balance row's lock — the tenant gets at most one request's overdraft for free,
// then QUOTA_EXCEEDED — and the result's computeUnits says what was charged.
//
// quotaChanged: a charge notifies the tenant's subscribers, at most once per NOTIFY_INTERVAL_MS
// per tenant and process, with a trailing notice for charges inside the interval — a dashboard
// following a tenant that calls `infer` hundreds of times a second needs the totals, not a
// message per call (and every NOTIFY serialises commits on a global lock).
import { periodOf, type QuotaLedger } from '../../tenants/quota-ledger';
import { CHANNELS, notify } from '../../tenants/job-events';
import type { RequestScope } from '../../tenants/request-scope';
import type { TenantDatabase } from '../../tenants/tenant-database';

export interface InferenceUsage {
  requestId: string;
  /** The caller, charged. */
  tenantId: string;
  endpointId: string;
  modelId: string;
  ownerTenantId: string;
  /** The endpoint's name, for the ledger memo. */
  label: string;
  items: number;
  deviceSeconds: number;
  billingWeight: number;
}

const NOTIFY_INTERVAL_MS = 250;

export function measuredMilli(deviceSeconds: number, billingWeight: number): number {
  return deviceSeconds > 0 ? Math.max(1, Math.ceil(deviceSeconds * billingWeight * 1000 - 1e-9)) : 0;
}

export function minuteBucket(at: Date = new Date()): Date {
  return new Date(Math.floor(at.getTime() / 60_000) * 60_000);
}

export class UsageMeter {
  /** Per tenant: when its last quota notice went out, and whether charges wait for a trailing one. */
  private readonly notices = new Map<string, { at: number; trailing?: NodeJS.Timeout }>();

  constructor(
    private readonly db: TenantDatabase,
    private readonly ledger: QuotaLedger,
  ) {}

  /** Charges one request; returns the milli-units charged. */
  async charge(scope: RequestScope, u: InferenceUsage): Promise<number> {
    const period = periodOf();
    const milli = measuredMilli(u.deviceSeconds, u.billingWeight);
    const notify = milli > 0 && this.noticeDue(u.tenantId);
    const args = [period, milli, `usage:${u.requestId}`, `infer ${u.label} (${u.items} item${u.items === 1 ? '' : 's'})`,
      u.endpointId, u.modelId, u.ownerTenantId, minuteBucket(), u.items, u.deviceSeconds * 1000, notify];
    let [row] = await this.db.callScoped<{ app_infer_charge: string | null }>(scope, 'app_infer_charge', args);
    if (row.app_infer_charge === null) {
      // The month turned since the quota check: open the new period (posting its grant), then charge.
      await this.db.withTenant(scope, (em) => this.ledger.ensureBalance(em, u.tenantId, period));
      [row] = await this.db.callScoped(scope, 'app_infer_charge', args);
    }
    return Number(row.app_infer_charge ?? 0);
  }

  /** True when this charge should carry the tenant's quota notice; else a trailing one is arranged. */
  private noticeDue(tenantId: string): boolean {
    const now = Date.now();
    const last = this.notices.get(tenantId);
    if (!last || now - last.at >= NOTIFY_INTERVAL_MS) {
      if (last?.trailing) clearTimeout(last.trailing);
      this.notices.set(tenantId, { at: now });
      if (this.notices.size > 10_000) this.pruneNotices(now);
      return true;
    }
    if (!last.trailing) {
      last.trailing = setTimeout(() => {
        last.trailing = undefined;
        last.at = Date.now();
        void this.db.withSystem('tell a tenant\'s quotaChanged subscribers that sync charges moved its balance',
          (em) => notify(em, CHANNELS.quota, tenantId)).catch(() => undefined);
      }, NOTIFY_INTERVAL_MS - (now - last.at));
      last.trailing.unref();
    }
    return false;
  }

  private pruneNotices(now: number): void {
    for (const [tenantId, notice] of this.notices) {
      if (!notice.trailing && now - notice.at >= NOTIFY_INTERVAL_MS) this.notices.delete(tenantId);
    }
  }
}
