// Synchronous inference: `infer(endpointId, inputs)` on a READY endpoint the caller may call,
// charged to the caller's tenant. No database round trip is needed on the way in the common case:
//   before — the endpoint as the caller sees it (RLS: own, or its model visible), and the
//            estimate set aside in this process's prepaid hold of the caller's budget
//            (tenants/quota-holds.ts); QUOTA_EXCEEDED when the budget cannot cover it;
//   run    — inputs naming blobs are resolved to bytes (the caller must be able to read them),
//            large inline media arrive already cut out of the body (inline-media.ts) and are
//            decoded to bytes, then the runtime runs them (dynamic batching with other callers'
//            requests); the bytes were made for this call, so the runtime may move them;
//   after  — the measured usage is spent from the hold and settled within a fraction of a
//            second in an aggregated CAPTURE (usage-meter.ts says how it is priced).
// Error choices: an empty input list is BAD_USER_INPUT; an endpoint that is not READY (STOPPED,
// FAILED, DEPLOYING) is CONFLICT — the request is fine, the endpoint's state is not — with the
// state and what to do in the message; a full queue is the engine's OVERLOADED → RATE_LIMITED.
// A failed request (bad input, overload) is not charged.
import { AppError } from '../../core/app-error';
import { fromGlobalId } from '../../core/global-id';
import { EndpointStatus, TenantRole } from '../../entities';
import { mediaFieldOf } from '../../model-runtime/engine/media-base64';
import type { InferenceRuntime, RuntimeInferResult } from '../../model-runtime/runtime/inference-runtime';
import type { PerItemCostTracker } from '../../model-runtime/runtime/per-item-cost';
import type { QuotaHolds } from '../../tenants/quota-holds';
import { requireRole, type RequestScope } from '../../tenants/request-scope';
import type { BlobsService } from '../blobs/blobs.service';
import { InferenceResultNode } from './endpoints.types';
import type { InferEndpoint, InferTargetCache } from './infer-target-cache';
import { InlineMedia } from './inline-media';
import { measuredMilli, minuteBucket } from './usage-meter';

export interface InferenceLimits {
  billingWeights: Record<string, number>;
  /** Inputs per request at most. */
  maxInputs: number;
  /** Largest blob an input may name. */
  maxInputBlobBytes: number;
}

/**
 * The lookup of one `infer`, started while the operation's rate limit is still being checked
 * (api/graphql/infer-lookahead.ts): when neither is answered from memory (infer-target-cache.ts,
 * tenants/rate-limiter.ts), each is one round trip, and the request waits for the slower of the
 * two instead of their sum. Reading early is harmless — an operation the limit refuses merely
 * discards what was read — and nothing runs or is charged before admission. `target` is null
 * when the lookup failed; `infer` then looks up itself.
 */
export interface InferLookahead {
  endpointId: string;
  target: Promise<InferEndpoint | undefined | null>;
}

export class InferenceService {
  constructor(
    private readonly endpoints: InferTargetCache,
    private readonly runtime: InferenceRuntime,
    private readonly holds: QuotaHolds,
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
    return { endpointId, target: this.endpoints.get(scope, endpointId).catch(() => null) };
  }

  async infer(scope: RequestScope, endpointGlobalId: string, inputs: unknown[], lookahead?: InferLookahead): Promise<InferenceResultNode> {
    const tenant = requireRole(scope, TenantRole.MEMBER, 'infer');
    const endpointId = fromGlobalId(endpointGlobalId, 'Endpoint');
    if (!Array.isArray(inputs) || inputs.length === 0) throw AppError.badInput('inputs is empty: send at least one input');
    if (inputs.length > this.limits.maxInputs) {
      throw AppError.badInput(`at most ${this.limits.maxInputs} inputs per request; got ${inputs.length} (use submitJob for more)`);
    }
    const early = lookahead?.endpointId === endpointId ? await lookahead.target : null;
    const target = early === null ? await this.endpoints.get(scope, endpointId) : early;
    // Row-level security: another tenant's endpoint of a PRIVATE model (or of a SHARED one
    // without a live grant) has no row here, exactly like an id that never existed.
    if (!target) throw AppError.notFound('endpoint', endpointGlobalId);
    if (target.status !== EndpointStatus.READY) throw notReady(target);
    const weight = this.limits.billingWeights[target.accelerator];
    if (weight === undefined) throw new Error(`endpoint ${target.id} runs on '${target.accelerator}', which has no billing weight`);
    // Before running: the estimate (measured per-item time × items × weight, at least one
    // milli-unit) is set aside from the caller's budget. An exhausted budget runs nothing.
    const estimate = Math.max(1, measuredMilli((target.per_item_device_seconds ?? 0) * inputs.length, weight));
    const authorization = await this.holds.authorize(scope, tenant.tenantId, estimate);
    let result: RuntimeInferResult;
    try {
      const prepared = await this.prepareInputs(scope, target.handler, inputs);
      result = await this.runtime.infer(endpointId, prepared, { transferable: true });
    } catch (err) {
      this.holds.cancel(authorization); // a failed request (bad input, overload) is not charged
      throw err;
    }
    this.costs.record(target.model_version_id, result.deviceSeconds, inputs.length);
    const chargedMilli = await this.holds.spend(authorization, measuredMilli(result.deviceSeconds, weight), {
      endpointId,
      modelId: target.model_id,
      ownerTenantId: target.owner_tenant_id,
      userId: scope.user.id,
      bucketStart: minuteBucket(),
      label: target.name,
      items: inputs.length,
      deviceMs: result.deviceSeconds * 1000,
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
   * The inputs as the engine takes them, made for this call alone: `{ blobId }` (contract: ocr,
   * vad, image-classification) becomes `{ bytes }`; so does inline media the body parser cut out,
   * when it is the field this handler reads and plain base64 — otherwise it is the text as sent,
   * and the engine answers it as it always did.
   */
  private prepareInputs(scope: RequestScope, handler: string, inputs: unknown[]): Promise<unknown[]> {
    const mediaField = mediaFieldOf(handler);
    return Promise.all(inputs.map(async (input, index) => {
      if (typeof input !== 'object' || input === null || Array.isArray(input)) return input;
      let record = input as Record<string, unknown>;
      for (const [key, value] of Object.entries(record)) {
        if (!(value instanceof InlineMedia)) continue;
        const bytes = key === mediaField ? value.bytes() : undefined;
        const { [key]: _media, ...rest } = record;
        record = bytes ? { ...rest, bytes } : { ...record, [key]: value.text() };
      }
      if (handler === 'tensor' || !('blobId' in record)) return record;
      const { blobId, ...rest } = record;
      if (typeof blobId !== 'string') throw AppError.badInput(`inputs[${index}].blobId must be the id of a Blob`);
      const bytes = await this.blobs.readBytes(scope, blobId, this.limits.maxInputBlobBytes);
      return { ...rest, bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) };
    }));
  }
}

function notReady(t: InferEndpoint): AppError {
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
