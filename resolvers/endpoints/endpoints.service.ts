// Endpoints: deploy a model version (DEPLOYING → READY or FAILED), stop it, list what the acting
// tenant may call. A tenant may deploy any model version it can see — its own, ALLIANCE ones,
// SHARED ones granted to it — and owns the endpoint it deployed; callers pay per request.
//
// deployEndpoint answers once the deployment settled (READY or FAILED with the reason): in
// all-in-one mode loading and warming takes well under a second for the demo models; in split
// mode the API's runtime loads it on the live workers of its kind and answers when they did.
import { AppError } from '../../core/app-error';
import { fromGlobalId, toGlobalId } from '../../core/global-id';
import { Endpoint, EndpointStatus, ModelVersion, TenantRole } from '../../entities';
import type { EndpointDeployer } from '../../model-runtime/runtime/endpoint-deployer';
import type { AuditLog } from '../../tenants/audit-log';
import { requireRole, requireTenant, type RequestScope } from '../../tenants/request-scope';
import type { TenantDatabase } from '../../tenants/tenant-database';
import { isoKey, paginate, type ConnectionShape } from '../common/connection';
import { EndpointNode, type DeployEndpointInput, type EndpointsArgs } from './endpoints.types';
import type { InferTargetCache } from './infer-target-cache';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;
/**
 * Live (DEPLOYING or READY) endpoints per tenant. Each holds a model in the runtime's memory
 * (sessions are bounded by the LRU pool, the files it reloads from are not): one tenant must not
 * be able to fill the process every tenant shares. Checked before the insert, so concurrent
 * deployments may overshoot by a few — a guard against runaway scripts, not an exact quota.
 */
const MAX_LIVE_ENDPOINTS = 32;

export interface EndpointLimits {
  /** Accelerator kinds that can be billed (keys of BILLING_WEIGHTS). */
  billingWeights: Record<string, number>;
}

function bounded(name: string, value: number | null | undefined, fallback: number, min: number, max: number): number {
  const v = value ?? fallback;
  if (!Number.isInteger(v) || v < min || v > max) throw AppError.badInput(`${name} must be an integer from ${min} to ${max}; got ${v}`);
  return v;
}

export class EndpointsService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly audit: AuditLog,
    private readonly deployer: EndpointDeployer,
    private readonly limits: EndpointLimits,
    /** Told after a stop, so this process's next `infer` sees it at once (the notice may lag). */
    private readonly inferTargets?: Pick<InferTargetCache, 'forgetAll'>,
  ) {}

  list(scope: RequestScope, args: EndpointsArgs): Promise<ConnectionShape<EndpointNode>> {
    requireTenant(scope);
    return paginate(
      (work) => this.db.withTenant(scope, work),
      (em) => {
        const qb = em.createQueryBuilder(Endpoint, 'e');
        if (args.status?.length) qb.andWhere('e.status IN (:...status)', { status: args.status });
        return qb;
      },
      args,
      { columns: ['e.created_at', 'e.id'], key: (e) => [isoKey(e.createdAt), e.id] },
      EndpointNode.from,
    );
  }

  async deploy(scope: RequestScope, input: DeployEndpointInput): Promise<EndpointNode> {
    const tenant = requireRole(scope, TenantRole.MEMBER, 'deployEndpoint');
    const versionId = fromGlobalId(input.modelVersionId, 'ModelVersion');
    const name = input.name.trim();
    if (!NAME.test(name)) throw AppError.badInput('name must be 1–100 characters of letters, digits, ".", "_" and "-", starting with a letter or digit');
    const accelerator = (input.accelerator ?? 'cpu').trim();
    if (!Object.prototype.hasOwnProperty.call(this.limits.billingWeights, accelerator)) {
      throw AppError.badInput(`unknown accelerator '${accelerator.slice(0, 60)}'; use one of ${Object.keys(this.limits.billingWeights).join(', ')}`);
    }
    const minReplicas = bounded('minReplicas', input.minReplicas, 1, 1, 64);
    const maxReplicas = bounded('maxReplicas', input.maxReplicas, minReplicas, minReplicas, 64);
    const maxBatchSize = bounded('maxBatchSize', input.maxBatchSize, 8, 1, 1024);
    const maxQueueDelayMs = bounded('maxQueueDelayMs', input.maxQueueDelayMs, 5, 0, 10_000);
    const id = await this.db.withTenant(scope, async (em) => {
      // Visible ⇔ deployable: the same rule the endpoint_insert policy enforces.
      const version = await em.findOneBy(ModelVersion, { id: versionId });
      if (!version) throw AppError.notFound('model version', input.modelVersionId);
      const [{ live }]: { live: number }[] = await em.query(
        `SELECT count(*)::int AS live FROM endpoint WHERE tenant_id = $1 AND status IN ('DEPLOYING', 'READY')`, [tenant.tenantId]);
      if (live >= MAX_LIVE_ENDPOINTS) {
        throw AppError.badInput(`${tenant.slug} already has ${live} live endpoints (the limit is ${MAX_LIVE_ENDPOINTS}); stop one first`);
      }
      const inserted: { id: string }[] = await em.query(
        `INSERT INTO endpoint (tenant_id, name, model_id, model_version_id, accelerator, min_replicas, max_replicas,
                               max_batch_size, max_queue_delay_ms, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
         ON CONFLICT (tenant_id, name) WHERE status IN ('DEPLOYING', 'READY') DO NOTHING RETURNING id`,
        [tenant.tenantId, name, version.modelId, version.id, accelerator, minReplicas, maxReplicas, maxBatchSize, maxQueueDelayMs, scope.user.id]);
      if (!inserted[0]) throw AppError.conflict(`${tenant.slug} already has a live endpoint named "${name}"; stop it first or choose another name`);
      await this.audit.record(em, scope, tenant.tenantId, 'endpoint.deploy', { type: 'Endpoint', id: inserted[0].id },
        { name, modelVersionId: input.modelVersionId, modelId: toGlobalId('Model', version.modelId), accelerator, maxBatchSize, maxQueueDelayMs });
      return inserted[0].id;
    });
    await this.deployer.deploy(id);
    return this.load(scope, id);
  }

  /** Stops serving: queued requests fail, the row says STOPPED. Stopping twice is a no-op. */
  async stop(scope: RequestScope, globalId: string): Promise<EndpointNode> {
    const tenant = requireRole(scope, TenantRole.MEMBER, 'stopEndpoint');
    const id = fromGlobalId(globalId, 'Endpoint');
    const changed = await this.db.withTenant(scope, async (em) => {
      const endpoint = await em.findOneBy(Endpoint, { id });
      if (!endpoint) throw AppError.notFound('endpoint', globalId);
      if (endpoint.tenantId !== tenant.tenantId) {
        throw AppError.forbidden(`stopEndpoint: endpoint "${endpoint.name}" belongs to another tenant; only its owner can stop it`);
      }
      if (endpoint.status === EndpointStatus.STOPPED) return false;
      await em.query(`UPDATE endpoint SET status = 'STOPPED', updated_at = now() WHERE id = $1`, [id]);
      await this.audit.record(em, scope, tenant.tenantId, 'endpoint.stop', { type: 'Endpoint', id }, { name: endpoint.name, was: endpoint.status });
      return true;
    });
    if (changed) {
      this.inferTargets?.forgetAll();
      await this.deployer.undeploy(id);
    }
    return this.load(scope, id);
  }

  private async load(scope: RequestScope, id: string): Promise<EndpointNode> {
    const row = await this.db.withTenant(scope, (em) => em.findOneBy(Endpoint, { id }));
    if (!row) throw AppError.notFound('endpoint', toGlobalId('Endpoint', id));
    return EndpointNode.from(row);
  }
}
