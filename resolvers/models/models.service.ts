// The model registry: create and list models, register versions (an uploaded ONNX file checked
// against its handler), and share SHARED models with other tenants. What a tenant may list is
// row-level security's decision (own, ALLIANCE, SHARED with a live grant).
import type { EntityManager } from 'typeorm';
import { grantTerms } from '../common/grant-terms';
import { AppError } from '../../core/app-error';
import { fromGlobalId, toGlobalId } from '../../core/global-id';
import { Model, ModelGrant, ModelVersion, TenantRole, Visibility } from '../../entities';
// The engine's errors and the handlers' names, never the engine itself: in split mode this runs
// in API processes, which do not load ONNX Runtime (inspection is the runtime's job).
import { InvalidModelError } from '../../model-runtime/engine/engine-errors';
import { HANDLER_NAMES, isKnownHandler } from '../../model-runtime/runtime/handler-names';
import type { InferenceRuntime } from '../../model-runtime/runtime/inference-runtime';
import type { AuditLog } from '../../tenants/audit-log';
import { requireRole, requireTenant, type RequestScope } from '../../tenants/request-scope';
import { returning } from '../../tenants/sql';
import type { TenantDatabase } from '../../tenants/tenant-database';
import type { BlobsService } from '../blobs/blobs.service';
import { isoKey, paginate, type ConnectionShape } from '../common/connection';
import { tenantBySlug } from '../datasets/tenant-directory';
import type { InferTargetCache } from '../endpoints/infer-target-cache';
import { CONTROL, memberHandlerConfig, modelForWrite } from './model-policy';
import { ModelGrantNode, ModelNode, ModelVersionNode, type CreateModelInput, type CreateModelVersionInput, type ModelsArgs, type ShareModelInput } from './models.types';


export interface ModelsServiceOptions {
  /** Largest ONNX file accepted (bytes). */
  maxModelBytes: number;
}

export class ModelsService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly audit: AuditLog,
    private readonly blobs: BlobsService,
    private readonly runtime: InferenceRuntime,
    private readonly options: ModelsServiceOptions,
    /** Told after a grant changes, so this process's next `infer` reads it (the notice may lag). */
    private readonly inferTargets?: Pick<InferTargetCache, 'forgetAll'>,
  ) {}

  list(scope: RequestScope, args: ModelsArgs): Promise<ConnectionShape<ModelNode>> {
    requireTenant(scope);
    const filter = args.filter ?? {};
    return paginate(
      (work) => this.db.withTenant(scope, work),
      (em) => {
        const qb = em.createQueryBuilder(Model, 'm');
        if (filter.owner) {
          qb.andWhere('m.tenant_id IN (SELECT id FROM tenant_directory(NULL, ARRAY[:owner]::text[]))', { owner: filter.owner.trim() });
        }
        if (filter.task) qb.andWhere('m.task = :task', { task: filter.task.trim() });
        if (filter.modality) qb.andWhere('m.modality = :modality', { modality: filter.modality });
        return qb;
      },
      args,
      { columns: ['m.created_at', 'm.id'], key: (m) => [isoKey(m.createdAt), m.id] },
      ModelNode.from,
    );
  }

  async create(scope: RequestScope, input: CreateModelInput): Promise<ModelNode> {
    const tenant = requireRole(scope, TenantRole.MEMBER, 'createModel');
    const name = input.name.trim();
    const task = input.task.trim();
    const description = input.description?.trim() || null;
    const license = input.license?.trim() || null;
    if (name.length < 1 || name.length > 200 || CONTROL.test(name)) throw AppError.badInput('name must be 1–200 printable characters');
    if (task.length < 1 || task.length > 100 || CONTROL.test(task)) throw AppError.badInput('task must be 1–100 printable characters');
    if (description && description.length > 10_000) throw AppError.badInput('description must be at most 10000 characters');
    if (license && (license.length > 200 || CONTROL.test(license))) throw AppError.badInput('license must be at most 200 printable characters');
    return this.db.withTenant(scope, async (em) => {
      // ON CONFLICT instead of a prior SELECT: concurrent creates of one name get one model and
      // one clear CONFLICT, never a raw unique violation.
      const inserted: { id: string }[] = await em.query(
        `INSERT INTO model (tenant_id, name, task, modality, visibility, description, license, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (tenant_id, name) DO NOTHING RETURNING id`,
        [tenant.tenantId, name, task, input.modality, input.visibility, description, license, scope.user.id]);
      if (!inserted[0]) throw AppError.conflict(`${tenant.slug} already has a model named "${name}"`);
      const model = await em.findOneByOrFail(Model, { id: inserted[0].id });
      await this.audit.record(em, scope, tenant.tenantId, 'model.create', { type: 'Model', id: model.id },
        { name, task, modality: input.modality, visibility: input.visibility });
      return ModelNode.from(model);
    });
  }

  /**
   * Registers an uploaded ONNX file as the next version. The file is loaded in ONNX Runtime and
   * checked against the handler before anything is written: a corrupt file or a signature the
   * handler cannot serve is BAD_USER_INPUT with the engine's reason, and leaves no row behind.
   */
  async createVersion(scope: RequestScope, input: CreateModelVersionInput): Promise<ModelVersionNode> {
    const tenant = requireRole(scope, TenantRole.MEMBER, 'createModelVersion');
    const modelId = fromGlobalId(input.modelId, 'Model');
    const handler = input.handler.trim();
    if (!isKnownHandler(handler)) throw AppError.badInput(`unknown handler '${handler.slice(0, 60)}'; use one of ${HANDLER_NAMES.join(', ')}`);
    const config = memberHandlerConfig(input.config);
    // Permission first, so nobody makes the server read and parse files for a model it cannot change.
    await this.db.withTenant(scope, (em) => modelForWrite(em, tenant, modelId, input.modelId, 'createModelVersion'));
    const blob = await this.blobs.readable(scope, input.blobId, this.options.maxModelBytes);
    if (blob.tenantId !== tenant.tenantId) {
      throw AppError.badInput(`the model file must be uploaded by ${tenant.slug} itself (POST /v1/blobs with X-Tenant: ${tenant.slug})`);
    }
    let signature;
    try {
      // Outside any transaction, and off the API's thread (the runtime loads it where models
      // run): loading a large model takes a while and holds no row. A runtime that reads the
      // blob store itself (split mode's workers) is given the file's address, not its bytes.
      signature = this.runtime.inspectStored
        ? await this.runtime.inspectStored(blob.sha256, handler, config)
        : await this.runtime.inspect(await this.blobs.storedBytes(blob.sha256), handler, config);
    } catch (error) {
      if (error instanceof InvalidModelError) throw AppError.badInput(error.message);
      throw error;
    }
    return this.db.withTenant(scope, async (em) => {
      await modelForWrite(em, tenant, modelId, input.modelId, 'createModelVersion');
      const [{ last_version: version }] = await returning<{ last_version: number }>(em,
        `UPDATE model SET last_version = last_version + 1 WHERE id = $1 RETURNING last_version`, [modelId]);
      const [{ id }]: { id: string }[] = await em.query(
        `INSERT INTO model_version (model_id, tenant_id, version, blob_id, sha256, size_bytes, handler, config, inputs, outputs, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11) RETURNING id`,
        [modelId, tenant.tenantId, version, blob.uuid, blob.sha256, blob.size, handler, JSON.stringify(config),
          JSON.stringify(signature.inputs), JSON.stringify(signature.outputs), scope.user.id]);
      await this.audit.record(em, scope, tenant.tenantId, 'model.version.create', { type: 'Model', id: modelId },
        { version, handler, sha256: blob.sha256, modelVersionId: toGlobalId('ModelVersion', id) });
      return ModelVersionNode.from(await em.findOneByOrFail(ModelVersion, { id }));
    });
  }

  /** Grants (or renews the grant of) another tenant access to a SHARED model. */
  async share(scope: RequestScope, input: ShareModelInput): Promise<ModelGrantNode> {
    const tenant = requireRole(scope, TenantRole.ADMIN, 'shareModel');
    const modelId = fromGlobalId(input.modelId, 'Model');
    const { slug, purpose, expiresAt } = grantTerms(tenant, 'model', input);
    return this.db.withTenant(scope, async (em) => {
      const model = await modelForWrite(em, tenant, modelId, input.modelId, 'shareModel');
      if (model.visibility !== Visibility.SHARED) {
        throw AppError.badInput(`model "${model.name}" is ${model.visibility}; only SHARED models are shared with grants`);
      }
      const grantee = await tenantBySlug(em, slug);
      if (!grantee) throw AppError.notFound('tenant', slug);
      const { row, renewed } = await this.upsertGrant(em, scope, model, grantee.id, purpose, expiresAt);
      await this.audit.record(em, scope, tenant.tenantId, renewed ? 'model.grant.renew' : 'model.grant', { type: 'Model', id: model.id },
        { grantId: toGlobalId('ModelGrant', row.id), grantee: slug, purpose, expiresAt: expiresAt?.toISOString() ?? null });
      return ModelGrantNode.from(row);
    }).finally(() => this.inferTargets?.forgetAll()); // a renewal may end a grant sooner
  }

  async revoke(scope: RequestScope, grantGlobalId: string): Promise<boolean> {
    const tenant = requireRole(scope, TenantRole.ADMIN, 'revokeModelGrant');
    const grantId = fromGlobalId(grantGlobalId, 'ModelGrant');
    return this.db.withTenant(scope, async (em) => {
      // Grants are visible to the owner only, so another tenant's grant is simply not found.
      const grant = await em.findOneBy(ModelGrant, { id: grantId, tenantId: tenant.tenantId });
      if (!grant) throw AppError.notFound('model grant', grantGlobalId);
      await em.delete(ModelGrant, { id: grant.id });
      await this.audit.record(em, scope, tenant.tenantId, 'model.grant.revoke', { type: 'Model', id: grant.modelId },
        { grantId: grantGlobalId, granteeTenantId: toGlobalId('Tenant', grant.granteeTenantId) });
      return true;
    }).finally(() => this.inferTargets?.forgetAll());
  }

  /** One grant per grantee: sharing again replaces purpose and expiry (an expired grant revives). */
  private async upsertGrant(
    em: EntityManager, scope: RequestScope, model: Model, granteeTenantId: string, purpose: string | null, expiresAt: Date | null,
  ): Promise<{ row: ModelGrant; renewed: boolean }> {
    const [{ id, renewed }]: { id: string; renewed: boolean }[] = await em.query(
      `INSERT INTO model_grant (model_id, tenant_id, grantee_tenant_id, purpose, expires_at, created_by)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (model_id, grantee_tenant_id) DO UPDATE SET purpose = EXCLUDED.purpose, expires_at = EXCLUDED.expires_at
       RETURNING id, (xmax <> 0) AS renewed`,
      [model.id, model.tenantId, granteeTenantId, purpose, expiresAt, scope.user.id]);
    return { row: await em.findOneByOrFail(ModelGrant, { id }), renewed };
  }
}
