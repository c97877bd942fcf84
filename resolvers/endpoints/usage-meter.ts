// Charging synchronous inference, in one transaction of the caller's own tenant (RLS allows
// exactly these writes):
//   1. post a CAPTURE without a job to the ledger (QuotaLedger.capture), entry key
//      `usage:<request uuid>` — one entry per request, so a request is charged at most once and
//      the balance equals the ledger's sums (tenants/ledger-invariants.ts). Per request rather
//      than per usage bucket because ledger entries are append-only facts: a bucket's entry
//      could not grow with its bucket. The aggregation lives in usage_record instead;
//   2. add the request to its usage_record bucket (caller, endpoint, user, minute): an upsert,
//      never one row per request.
//
// Units: compute units = device seconds × the accelerator's billing weight, rounded *up* to the
// ledger's resolution (0.001 units): a request that ran is never free, and the rounding is at
// most 0.001 units per request, in the caller's disfavour, stated in the API description.
//
// Clamping: the quota check before the run admits a request whose estimate fits; its measured
// cost can exceed the estimate, and concurrent requests of one tenant can race for the last
// units. The balance may never go negative (its CHECK), so the charge is clamped to what is
// left (a second attempt that locks the balance row) — the tenant gets at most one request's
// overdraft for free, then QUOTA_EXCEEDED — and the result's computeUnits says what was charged.
import type { EntityManager } from 'typeorm';
import { ErrorCode } from '../../core/app-error';
import { QuotaLedger, periodOf } from '../../tenants/quota-ledger';
import type { InTransaction } from '../common/connection';
import { preparedQuery } from './prepared-query';

export interface InferenceUsage {
  requestId: string;
  /** The caller, charged. */
  tenantId: string;
  userId: string;
  endpointId: string;
  modelId: string;
  ownerTenantId: string;
  /** The endpoint's name, for the ledger memo. */
  label: string;
  items: number;
  deviceSeconds: number;
  billingWeight: number;
}

export function measuredMilli(deviceSeconds: number, billingWeight: number): number {
  return deviceSeconds > 0 ? Math.max(1, Math.ceil(deviceSeconds * billingWeight * 1000 - 1e-9)) : 0;
}

export function minuteBucket(at: Date = new Date()): Date {
  return new Date(Math.floor(at.getTime() / 60_000) * 60_000);
}

export class UsageMeter {
  constructor(private readonly ledger: QuotaLedger) {}

  /**
   * Records one request in its own transaction (`run`: the caller's withTenant); returns the
   * milli-units charged. The common case is one attempt: capture the measured amount. Only
   * when that would overdraw (the capture's conditional UPDATE refuses, the transaction rolls
   * back with nothing posted) does a second attempt lock the balance and charge what is left.
   */
  async charge(run: InTransaction, u: InferenceUsage): Promise<number> {
    const period = periodOf();
    const measured = measuredMilli(u.deviceSeconds, u.billingWeight);
    try {
      return await run((em) => this.record(em, u, period, measured));
    } catch (error) {
      if ((error as { code?: unknown }).code !== ErrorCode.QUOTA_EXCEEDED) throw error;
      return run(async (em) => this.record(em, u, period, Math.min(measured, Math.max(0, await this.lockAvailable(em, u.tenantId, period)))));
    }
  }

  private async record(em: EntityManager, u: InferenceUsage, period: string, milli: number): Promise<number> {
    if (milli > 0) {
      await this.ledger.capture(em, {
        tenantId: u.tenantId, period, milli, key: `usage:${u.requestId}`, memo: `infer ${u.label} (${u.items} item${u.items === 1 ? '' : 's'})`,
      });
    }
    await preparedQuery(em, 'usage-record-upsert',
      `INSERT INTO usage_record (tenant_id, user_id, endpoint_id, model_id, owner_tenant_id, bucket_start, requests, items, device_ms, units_milli)
       VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $8, $9)
       ON CONFLICT ON CONSTRAINT usage_record_bucket DO UPDATE SET
         requests = usage_record.requests + 1,
         items = usage_record.items + EXCLUDED.items,
         device_ms = usage_record.device_ms + EXCLUDED.device_ms,
         units_milli = usage_record.units_milli + EXCLUDED.units_milli`,
      [u.tenantId, u.userId, u.endpointId, u.modelId, u.ownerTenantId, minuteBucket(), u.items, u.deviceSeconds * 1000, milli]);
    return milli;
  }

  /** Available milli-units, with the balance row locked until commit (concurrent charges queue here). */
  private async lockAvailable(em: EntityManager, tenantId: string, period: string): Promise<number> {
    const select = () => em.query(
      `SELECT granted_milli - reserved_milli - used_milli AS available FROM quota_balance
        WHERE tenant_id = $1 AND period = $2 FOR UPDATE`, [tenantId, period]) as Promise<{ available: string }[]>;
    let rows = await select();
    if (!rows.length) {
      // First use in a new period (the month turned since the quota check).
      await this.ledger.ensureBalance(em, tenantId, period);
      rows = await select();
    }
    return Number(rows[0]?.available ?? 0);
  }
}
