// Batch jobs from the member's side: estimate, submit (idempotent, quota-held), list, cancel.
// Running them is the scheduler's and the workers' business (model-runtime/).
import { createHash } from 'node:crypto';
import type { EntityManager } from 'typeorm';
import type { Config } from '../../core/config';
import { AppError } from '../../core/app-error';
import { fromGlobalId } from '../../core/global-id';
import { Job, JobResult, TenantRole } from '../../entities';
import type { JobAccounting } from '../../tenants/job-accounting';
import { appendJobEvent, CHANNELS, notify } from '../../tenants/job-events';
import type { QuotaHolds } from '../../tenants/quota-holds';
import { fromMilli, periodOf, quotaExceeded, type QuotaLedger } from '../../tenants/quota-ledger';
import { requireRole, requireTenant, type RequestScope } from '../../tenants/request-scope';
import { returning } from '../../tenants/sql';
import type { TenantDatabase } from '../../tenants/tenant-database';
import { isoKey, paginate, type ConnectionShape, type PageArgs } from '../common/connection';
import { CostEstimateNode, JobFilter, JobNode, JobResultNode, SubmitJobInput, SubmitJobPayloadNode } from './jobs.types';

const MAX_INLINE_ITEMS = 10_000;
const MAX_INLINE_BYTES = 8 * 1024 * 1024;
/** Used until a model version has a measured per-item time (it gets one at deployment). */
const FALLBACK_ITEM_SECONDS = 0.05;

interface EndpointRow {
  id: string;
  name: string;
  status: string;
  accelerator: string;
  per_item_device_seconds: number | null;
}

interface Work {
  endpoint: EndpointRow;
  datasetVersionId: string | null;
  inputs: unknown[] | null;
  items: number;
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value && typeof value === 'object') {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${stableJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

export class JobsService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly ledger: QuotaLedger,
    private readonly accounting: JobAccounting,
    private readonly config: Pick<Config, 'billingWeights' | 'jobs'>,
    /** This process's holds of budgets for synchronous inference (tenants/quota-holds.ts). */
    private readonly holds?: QuotaHolds,
  ) {}

  async submit(scope: RequestScope, input: SubmitJobInput): Promise<SubmitJobPayloadNode> {
    const tenant = requireRole(scope, TenantRole.MEMBER, 'submitJob');
    const priority = input.priority ?? 0;
    if (!Number.isInteger(priority) || priority < -100 || priority > 100) {
      throw AppError.badInput(`priority must be an integer from -100 to 100; got ${priority}`);
    }
    if (Boolean(input.datasetVersionId) === Boolean(input.inputs)) {
      throw AppError.badInput('give exactly one of datasetVersionId (a published dataset version) or inputs (inline items)');
    }
    if (input.inputs) {
      if (input.inputs.length === 0) throw AppError.badInput('inputs is empty: give at least one item');
      if (input.inputs.length > MAX_INLINE_ITEMS) throw AppError.badInput(`at most ${MAX_INLINE_ITEMS} inline items; put larger inputs in a dataset`);
      if (Buffer.byteLength(JSON.stringify(input.inputs)) > MAX_INLINE_BYTES) {
        throw AppError.badInput(`inline inputs exceed ${MAX_INLINE_BYTES / 1024 / 1024} MB; upload them as a dataset`);
      }
    }
    const key = input.idempotencyKey?.trim();
    if (key !== undefined && (key.length < 1 || key.length > 200)) throw AppError.badInput('idempotencyKey must be 1–200 characters');
    const endpointId = fromGlobalId(input.endpointId, 'Endpoint');
    const datasetVersionId = input.datasetVersionId ? fromGlobalId(input.datasetVersionId, 'DatasetVersion') : null;
    const inputHash = createHash('sha256')
      .update(stableJson({ endpointId, datasetVersionId, inputs: input.inputs ?? null, priority }))
      .digest('hex');

    // What this process holds of the budget for synchronous requests goes back before the
    // estimate is checked against it: a hold must never be why a job is refused.
    await this.holds?.flush(tenant.tenantId, { close: true });
    return this.db.withTenant(scope, async (em) => {
      if (key) {
        const existing = await this.byIdempotencyKey(em, tenant.tenantId, key, inputHash);
        if (existing) return existing;
      }
      const work = await this.resolveWork(em, endpointId, datasetVersionId, input.inputs ?? null);
      const period = periodOf();
      const estimate = await this.estimate(em, tenant.tenantId, period, work);
      if (input.dryRun) return Object.assign(new SubmitJobPayloadNode(), { job: null, estimate, dryRun: true });
      if (!estimate.admissible) {
        throw quotaExceeded(Math.round(estimate.reserveUnits * 1000), await this.ledger.balance(em, tenant.tenantId, period));
      }
      const reserveMilli = Math.round(estimate.reserveUnits * 1000);
      const inserted = await returning<{ id: string }>(em,
        `INSERT INTO job (tenant_id, submitted_by, endpoint_id, dataset_version_id, accelerator, priority, total_items,
                          estimate_device_seconds, estimate_milli, reserved_milli, period, idempotency_key, input_hash, inputs,
                          pending_reason)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, 'waiting for the scheduler')
         ON CONFLICT (tenant_id, idempotency_key) DO NOTHING RETURNING id`,
        [tenant.tenantId, scope.user.id, endpointId, datasetVersionId, work.endpoint.accelerator, priority, work.items,
          estimate.deviceSeconds, Math.ceil(estimate.computeUnits * 1000), reserveMilli, period, key ?? null, inputHash,
          work.inputs ? JSON.stringify(work.inputs) : null]);
      if (!inserted.length) {
        // A concurrent submission with the same key won the insert (we waited for it to commit).
        const winner = await this.byIdempotencyKey(em, tenant.tenantId, key!, inputHash);
        if (winner) return winner;
        throw AppError.conflict('a concurrent submission with this idempotencyKey failed; retry');
      }
      const jobId = inserted[0].id;
      await this.ledger.reserve(em, { tenantId: tenant.tenantId, period, milli: reserveMilli, key: `reserve:job:${jobId}`, jobId, memo: `job over ${work.items} items` });
      const perItem = work.endpoint.per_item_device_seconds || FALLBACK_ITEM_SECONDS;
      const shardItems = Math.max(1, Math.min(this.config.jobs.maxShardItems, Math.floor(this.config.jobs.shardTargetSeconds / perItem)));
      await em.query(
        `INSERT INTO job_shard (job_id, tenant_id, shard_index, item_from, item_to)
         SELECT $1, $2, s, s * $3, least((s + 1) * $3, $4) FROM generate_series(0, ceil($4::numeric / $3)::int - 1) AS s`,
        [jobId, tenant.tenantId, shardItems, work.items]);
      const job = await em.findOneByOrFail(Job, { id: jobId });
      await appendJobEvent(em, { id: job.id, tenantId: job.tenantId, status: job.status, totalItems: job.totalItems, doneItems: 0, failedItems: 0 },
        'SUBMITTED', `submitted: ${work.items} items on ${work.endpoint.name}; ${fromMilli(reserveMilli)} compute units reserved`);
      await notify(em, CHANNELS.schedule);
      await notify(em, CHANNELS.quota, tenant.tenantId);
      return Object.assign(new SubmitJobPayloadNode(), { job: JobNode.from(job), estimate, dryRun: false });
    });
  }

  async cancel(scope: RequestScope, id: string): Promise<JobNode> {
    requireRole(scope, TenantRole.MEMBER, 'cancelJob');
    const jobId = fromGlobalId(id, 'Job');
    return this.db.withTenant(scope, async (em) => {
      const visible = await em.findOneBy(Job, { id: jobId });
      if (!visible) throw AppError.notFound('job', id);
      await this.accounting.cancel(em, jobId);
      return JobNode.from(await em.findOneByOrFail(Job, { id: jobId }));
    });
  }

  list(scope: RequestScope, args: PageArgs, filter?: JobFilter): Promise<ConnectionShape<JobNode>> {
    const tenant = requireTenant(scope);
    const endpointId = filter?.endpointId ? fromGlobalId(filter.endpointId, 'Endpoint') : undefined;
    return paginate(
      (work) => this.db.withTenant(scope, work),
      (em) => {
        const qb = em.createQueryBuilder(Job, 'j').where('j.tenant_id = :tenantId', { tenantId: tenant.tenantId });
        if (filter?.status?.length) qb.andWhere('j.status IN (:...statuses)', { statuses: filter.status });
        if (endpointId) qb.andWhere('j.endpoint_id = :endpointId', { endpointId });
        return qb;
      },
      args,
      { columns: ['j.created_at', 'j.id'], key: (j) => [isoKey(j.createdAt), j.id] },
      JobNode.from,
    );
  }

  results(scope: RequestScope, jobId: string, args: PageArgs): Promise<ConnectionShape<JobResultNode>> {
    return paginate(
      (work) => this.db.withTenant(scope, work),
      (em) => em.createQueryBuilder(JobResult, 'r').where('r.job_id = :jobId', { jobId }),
      args,
      { columns: ['r.item_index'], key: (r) => [r.itemIndex] },
      JobResultNode.from,
    );
  }

  private async byIdempotencyKey(em: EntityManager, tenantId: string, key: string, inputHash: string): Promise<SubmitJobPayloadNode | null> {
    const existing = await em.findOneBy(Job, { tenantId, idempotencyKey: key });
    if (!existing) return null;
    if (existing.inputHash !== inputHash) {
      throw AppError.conflict(`idempotencyKey "${key.slice(0, 60)}" was already used for a different submission; use a new key`);
    }
    const node = JobNode.from(existing);
    return Object.assign(new SubmitJobPayloadNode(), { job: node, estimate: node.estimate, dryRun: false });
  }

  private async resolveWork(em: EntityManager, endpointId: string, datasetVersionId: string | null, inputs: unknown[] | null): Promise<Work> {
    const endpoints: EndpointRow[] = await em.query(
      `SELECT e.id, e.name, e.status, e.accelerator, mv.per_item_device_seconds
         FROM endpoint e JOIN model_version mv ON mv.id = e.model_version_id WHERE e.id = $1`, [endpointId]);
    const endpoint = endpoints[0];
    if (!endpoint) throw AppError.notFound('endpoint');
    if (endpoint.status !== 'READY') {
      throw AppError.badInput(`endpoint ${endpoint.name} is ${endpoint.status}; jobs run on READY endpoints (deploy it again)`);
    }
    if (!(endpoint.accelerator in this.config.billingWeights)) {
      throw AppError.badInput(`endpoint ${endpoint.name} runs on "${endpoint.accelerator}", which has no billing weight configured`);
    }
    if (datasetVersionId) {
      const versions: { item_count: number; published_at: Date | null }[] = await em.query(
        `SELECT item_count, published_at FROM dataset_version WHERE id = $1`, [datasetVersionId]);
      if (!versions.length) throw AppError.notFound('dataset version');
      if (!versions[0].published_at) throw AppError.badInput('the dataset version is not published; publish it before running jobs on it');
      if (versions[0].item_count === 0) throw AppError.badInput('the dataset version has no items');
      return { endpoint, datasetVersionId, inputs: null, items: versions[0].item_count };
    }
    return { endpoint, datasetVersionId: null, inputs, items: inputs!.length };
  }

  private async estimate(em: EntityManager, tenantId: string, period: string, work: Work): Promise<CostEstimateNode> {
    const perItem = work.endpoint.per_item_device_seconds || FALLBACK_ITEM_SECONDS;
    const deviceSeconds = perItem * work.items;
    const units = deviceSeconds * this.config.billingWeights[work.endpoint.accelerator];
    const reserveMilli = Math.max(1, Math.ceil(units * this.config.jobs.reserveMargin * 1000));
    const balance = await this.ledger.ensureBalance(em, tenantId, period);
    const admissible = balance.availableMilli >= reserveMilli;
    return Object.assign(new CostEstimateNode(), {
      deviceSeconds,
      computeUnits: units,
      reserveUnits: reserveMilli / 1000,
      items: work.items,
      availableUnits: fromMilli(balance.availableMilli),
      admissible,
      reason: admissible ? null
        : `needs ${reserveMilli / 1000} compute units held (estimate ${Math.round(units * 1000) / 1000} × margin ${this.config.jobs.reserveMargin}); ${fromMilli(balance.availableMilli)} available in ${period}`,
    });
  }
}
