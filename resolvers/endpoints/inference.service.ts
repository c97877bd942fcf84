// Synchronous inference: `infer(endpointId, inputs)` on a READY endpoint the caller may call,
// charged to the caller's tenant. Two short round trips around the model run, none during it:
//   before — the endpoint as the caller sees it (RLS: own, or its model visible) and the
//            caller's balance; QUOTA_EXCEEDED when the estimate does not fit;
//   run    — inputs naming blobs are resolved to bytes (the caller must be able to read them),
//            then the runtime runs them (dynamic batching with other callers' requests);
//   after  — the usage is charged (usage-meter.ts).
// Error choices: an empty input list is BAD_USER_INPUT; an endpoint that is not READY (STOPPED,
// FAILED, DEPLOYING) is CONFLICT — the request is fine, the endpoint's state is not — with the
// state and what to do in the message; a full queue is the engine's OVERLOADED → RATE_LIMITED.
// A failed request (bad input, overload) is not charged.
import { randomUUID } from 'node:crypto';
import { AppError } from '../../core/app-error';
import { fromGlobalId } from '../../core/global-id';
import { EndpointStatus, TenantRole } from '../../entities';
import type { InferenceRuntime } from '../../model-runtime/runtime/inference-runtime';
import type { PerItemCostTracker } from '../../model-runtime/runtime/per-item-cost';
import { periodOf, quotaExceeded, type Balance, type QuotaLedger } from '../../tenants/quota-ledger';
import { requireRole, type RequestScope } from '../../tenants/request-scope';
import type { TenantDatabase } from '../../tenants/tenant-database';
import type { BlobsService } from '../blobs/blobs.service';
import { InferenceResultNode } from './endpoints.types';
import { measuredMilli, type UsageMeter } from './usage-meter';

export interface InferenceLimits {
  billingWeights: Record<string, number>;
  /** Inputs per request at most. */
  maxInputs: number;
  /** Largest blob an input may name. */
  maxInputBlobBytes: number;
}

interface BalanceColumns {
  granted_milli: string | null;
  reserved_milli: string | null;
  used_milli: string | null;
}

function balanceOf(tenantId: string, period: string, r: BalanceColumns): Balance {
  const granted = Number(r.granted_milli);
  const reserved = Number(r.reserved_milli);
  const used = Number(r.used_milli);
  return { tenantId, period, grantedMilli: granted, reservedMilli: reserved, usedMilli: used, availableMilli: granted - reserved - used };
}

/** What `infer` needs before it runs: the endpoint as the caller sees it, and the caller's balance. */
export interface InferTarget extends BalanceColumns {
  id: string;
  name: string;
  status: EndpointStatus;
  failure_reason: string | null;
  accelerator: string;
  model_version_id: string;
  handler: string;
  per_item_device_seconds: number | null;
  model_id: string;
  owner_tenant_id: string;
  /** The period whose balance came with it (a lookahead may straddle a month's turn). */
  period: string;
}

/**
 * The lookup of one `infer`, started while the operation's rate-limit charge is still in flight
 * (api/graphql/infer-lookahead.ts): both are single round trips, so at concurrency 1 the
 * request waits for the slower of the two instead of their sum. Reading early is harmless — an
 * operation the limit refuses merely discards what was read — and nothing runs or is charged
 * before admission. `target` is null when the lookup failed; `infer` then looks up itself.
 */
export interface InferLookahead {
  endpointId: string;
  target: Promise<InferTarget | undefined | null>;
}

export class InferenceService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly runtime: InferenceRuntime,
    private readonly ledger: QuotaLedger,
    private readonly meter: UsageMeter,
    private readonly blobs: BlobsService,
    private readonly costs: PerItemCostTracker,
    private readonly limits: InferenceLimits,
  ) {}

  /** The lookup `infer` makes, started ahead of it (see InferLookahead); never rejects. */
  lookAhead(scope: RequestScope, endpointGlobalId: string): InferLookahead | undefined {
    if (!scope.tenant) return undefined;
    let endpointId: string;
    try {
      endpointId = fromGlobalId(endpointGlobalId, 'Endpoint');
    } catch {
      return undefined; // infer answers a malformed id itself
    }
    return { endpointId, target: this.lookUp(scope, endpointId, periodOf()).catch(() => null) };
  }

  async infer(scope: RequestScope, endpointGlobalId: string, inputs: unknown[], lookahead?: InferLookahead): Promise<InferenceResultNode> {
    const tenant = requireRole(scope, TenantRole.MEMBER, 'infer');
    const endpointId = fromGlobalId(endpointGlobalId, 'Endpoint');
    if (!Array.isArray(inputs) || inputs.length === 0) throw AppError.badInput('inputs is empty: send at least one input');
    if (inputs.length > this.limits.maxInputs) {
      throw AppError.badInput(`at most ${this.limits.maxInputs} inputs per request; got ${inputs.length} (use submitJob for more)`);
    }
    const period = periodOf();
    const early = lookahead?.endpointId === endpointId ? await lookahead.target : null;
    const target = early === null ? await this.lookUp(scope, endpointId, period) : early;
    // Row-level security: another tenant's endpoint of a PRIVATE model (or of a SHARED one
    // without a live grant) has no row here, exactly like an id that never existed.
    if (!target) throw AppError.notFound('endpoint', endpointGlobalId);
    if (target.status !== EndpointStatus.READY) throw notReady(target);
    // The first call of a period opens its balance (and posts the month's grant).
    const balance = target.granted_milli === null || target.period !== period
      ? await this.db.withTenant(scope, (em) => this.ledger.ensureBalance(em, tenant.tenantId, period))
      : balanceOf(tenant.tenantId, period, target);
    const availableMilli = balance.availableMilli;
    const weight = this.limits.billingWeights[target.accelerator];
    if (weight === undefined) throw new Error(`endpoint ${target.id} runs on '${target.accelerator}', which has no billing weight`);
    // Before running: the estimate (measured per-item time × items × weight, at least one
    // milli-unit) must fit what is available. An exhausted budget runs nothing.
    const estimate = Math.max(1, measuredMilli((target.per_item_device_seconds ?? 0) * inputs.length, weight));
    if (availableMilli < estimate) throw quotaExceeded(estimate, balance);

    const prepared = target.handler === 'tensor' ? inputs : await this.resolveBlobs(scope, inputs);
    const result = await this.runtime.infer(endpointId, prepared);
    this.costs.record(target.model_version_id, result.deviceSeconds, inputs.length);
    const chargedMilli = await this.meter.charge(scope, {
      requestId: randomUUID(),
      tenantId: tenant.tenantId,
      endpointId,
      modelId: target.model_id,
      ownerTenantId: target.owner_tenant_id,
      label: target.name,
      items: inputs.length,
      deviceSeconds: result.deviceSeconds,
      billingWeight: weight,
    });
    return Object.assign(new InferenceResultNode(), {
      outputs: result.items.map((item) => item.output),
      deviceSeconds: result.deviceSeconds,
      computeUnits: chargedMilli / 1000,
      latencyMs: result.latencyMs,
      batchSize: result.batchSize,
    });
  }

  /**
   * One round trip (app_infer_target): the endpoint as the caller sees it, with the caller's
   * balance. The version carries its model's owner (tenant_id), so the model row itself need
   * not be joined: the version's policy already requires the model to be visible.
   */
  private async lookUp(scope: RequestScope, endpointId: string, period: string): Promise<InferTarget | undefined> {
    const [row] = await this.db.callScoped<Omit<InferTarget, 'period'>>(scope, 'app_infer_target', [endpointId, period]);
    return row && { ...row, period };
  }

  /** `{ blobId }` inputs (contract: ocr, vad, image-classification) become `{ bytes }` for the engine. */
  private resolveBlobs(scope: RequestScope, inputs: unknown[]): Promise<unknown[]> {
    return Promise.all(inputs.map(async (input, index) => {
      if (typeof input !== 'object' || input === null || Array.isArray(input) || !('blobId' in input)) return input;
      const { blobId, ...rest } = input as Record<string, unknown>;
      if (typeof blobId !== 'string') throw AppError.badInput(`inputs[${index}].blobId must be the id of a Blob`);
      const { bytes } = await this.blobs.readBytes(scope, blobId, this.limits.maxInputBlobBytes);
      return { ...rest, bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
    }));
  }
}

function notReady(t: InferTarget): AppError {
  const details = { endpointStatus: t.status };
  switch (t.status) {
    case EndpointStatus.STOPPED:
      return AppError.conflict(`endpoint "${t.name}" is STOPPED; deploy the model version again to call it`, details);
    case EndpointStatus.FAILED:
      return AppError.conflict(`endpoint "${t.name}" FAILED to deploy (${t.failure_reason ?? 'no reason recorded'}); it cannot be called`, details);
    default:
      return AppError.conflict(`endpoint "${t.name}" is still ${t.status}; retry when it is READY`, details);
  }
}
