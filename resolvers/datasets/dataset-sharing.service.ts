// Sharing between members: grants (shareDataset / revokeDatasetGrant) and gated access
// (requestDatasetAccess / decideAccessRequest), after Hugging Face's gated datasets.
//
// Discovery of SHARED datasets — by id only. A SHARED dataset the acting tenant holds no live
// grant for is NOT_FOUND everywhere (`datasets`, `node(id:)`, nested fields, blob downloads),
// exactly like a PRIVATE or a missing one: the visibility rule holds without exception.
// Its owner announces the id out of band (the alliance's catalogue page, a mail); any member
// tenant that has it may call requestDatasetAccess(datasetId). That call alone tells SHARED
// ids apart from the rest (PRIVATE and missing ids both answer NOT_FOUND), which reveals
// nothing a random uuid could find. Once a tenant has asked, its own AccessRequest.dataset shows
// the dataset's metadata (name, owner, description) so the request is readable; versions, items
// and blobs still need the grant.
//
// A tenant that already holds a grant may ask again: that is how a grantee asks to renew a grant
// before it expires (approval renews the one grant it has). Only a second PENDING request for the
// same dataset is a CONFLICT.
import type { EntityManager } from 'typeorm';
import { MAX_PURPOSE, grantTerms } from '../common/grant-terms';
import { AppError } from '../../core/app-error';
import { fromGlobalId, toGlobalId } from '../../core/global-id';
import { AccessRequest, AccessRequestStatus, Dataset, DatasetGrant, TenantRole, Visibility } from '../../entities';
import type { AuditLog } from '../../tenants/audit-log';
import { requireRole, requireTenant, type RequestScope, type TenantMembershipRef } from '../../tenants/request-scope';
import type { TenantDatabase } from '../../tenants/tenant-database';
import { isoKey, paginate, type ConnectionShape } from '../common/connection';
import { datasetForWrite } from './dataset-policy';
import {
  AccessRequestDirection, AccessRequestNode, DatasetGrantNode, type AccessRequestsArgs, type ShareDatasetInput,
} from './datasets.types';
import { tenantBySlug } from './tenant-directory';

const MAX_REASON = 2000;

export class DatasetSharingService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly audit: AuditLog,
  ) {}

  /** Grants (or renews the grant of) another tenant read access to a SHARED dataset. */
  async share(scope: RequestScope, input: ShareDatasetInput): Promise<DatasetGrantNode> {
    const tenant = requireRole(scope, TenantRole.ADMIN, 'shareDataset');
    const datasetId = fromGlobalId(input.datasetId, 'Dataset');
    const { slug, purpose, expiresAt } = grantTerms(tenant, 'dataset', input);
    return this.db.withTenant(scope, async (em) => {
      const dataset = await datasetForWrite(em, tenant, datasetId, input.datasetId, 'shareDataset');
      this.assertShareable(dataset);
      const grantee = await tenantBySlug(em, slug);
      if (!grantee) throw AppError.notFound('tenant', slug);
      const grant = await this.upsertGrant(em, scope, dataset, grantee.id, purpose, expiresAt);
      await this.audit.record(em, scope, tenant.tenantId, grant.renewed ? 'dataset.grant.renew' : 'dataset.grant',
        { type: 'Dataset', id: dataset.id },
        { grantId: toGlobalId('DatasetGrant', grant.row.id), grantee: slug, purpose, expiresAt: expiresAt?.toISOString() ?? null });
      return DatasetGrantNode.from(grant.row);
    });
  }

  async revoke(scope: RequestScope, grantGlobalId: string): Promise<boolean> {
    const tenant = requireRole(scope, TenantRole.ADMIN, 'revokeDatasetGrant');
    const grantId = fromGlobalId(grantGlobalId, 'DatasetGrant');
    return this.db.withTenant(scope, async (em) => {
      // Grants are visible to the owner only, so another tenant's grant is simply not found.
      const grant = await em.findOneBy(DatasetGrant, { id: grantId, tenantId: tenant.tenantId });
      if (!grant) throw AppError.notFound('dataset grant', grantGlobalId);
      await em.delete(DatasetGrant, { id: grant.id });
      await this.audit.record(em, scope, tenant.tenantId, 'dataset.grant.revoke', { type: 'Dataset', id: grant.datasetId },
        { grantId: grantGlobalId, granteeTenantId: toGlobalId('Tenant', grant.granteeTenantId) });
      return true;
    });
  }

  async requestAccess(scope: RequestScope, datasetGlobalId: string, reasonInput: string): Promise<AccessRequestNode> {
    const tenant = requireRole(scope, TenantRole.MEMBER, 'requestDatasetAccess');
    const datasetId = fromGlobalId(datasetGlobalId, 'Dataset');
    const reason = reasonInput.trim();
    if (reason.length < 1 || reason.length > MAX_REASON) {
      throw AppError.badInput(`reason must be 1–${MAX_REASON} characters: say what the data is for`);
    }
    return this.db.withTenant(scope, async (em) => {
      const readable = await em.findOneBy(Dataset, { id: datasetId });
      if (readable) this.assertRequestable(readable, tenant);
      const [{ owner }]: { owner: string | null }[] = await em.query('SELECT app_shared_dataset_owner($1) AS owner', [datasetId]);
      if (!owner) throw AppError.notFound('dataset', datasetGlobalId);
      // The partial unique index (one PENDING per dataset and requester) decides races.
      const inserted: { id: string }[] = await em.query(
        `INSERT INTO access_request (dataset_id, tenant_id, requester_tenant_id, requested_by, reason)
         VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (dataset_id, requester_tenant_id) WHERE status = 'PENDING' DO NOTHING RETURNING id`,
        [datasetId, owner, tenant.tenantId, scope.user.id, reason]);
      if (!inserted[0]) {
        throw AppError.conflict(`${tenant.slug} already has a pending request for this dataset; wait for the owner's decision`);
      }
      const request = await em.findOneByOrFail(AccessRequest, { id: inserted[0].id });
      // Recorded in the requester's log with the dataset as target: the owner reads it through
      // the policy audit_event_dataset_owner.
      await this.audit.record(em, scope, tenant.tenantId, 'dataset.access.request', { type: 'Dataset', id: datasetId },
        { accessRequestId: toGlobalId('AccessRequest', request.id), reason });
      return AccessRequestNode.from(request);
    });
  }

  async decide(
    scope: RequestScope, requestGlobalId: string, approve: boolean, noteInput: string | null | undefined, expiresAt: Date | null | undefined,
  ): Promise<AccessRequestNode> {
    const tenant = requireTenant(scope);
    const requestId = fromGlobalId(requestGlobalId, 'AccessRequest');
    const note = noteInput?.trim() || null;
    if (note && note.length > MAX_REASON) throw AppError.badInput(`note must be at most ${MAX_REASON} characters`);
    if (expiresAt && expiresAt.getTime() <= Date.now()) throw AppError.badInput('expiresAt must be in the future');
    return this.db.withTenant(scope, async (em) => {
      // Visible to the owner and to the requester; a third tenant gets NOT_FOUND.
      const visible = await em.findOneBy(AccessRequest, { id: requestId });
      if (!visible) throw AppError.notFound('access request', requestGlobalId);
      if (visible.tenantId !== tenant.tenantId) {
        throw AppError.forbidden('only the owner of the dataset decides an access request; your tenant made this one');
      }
      requireRole(scope, TenantRole.ADMIN, 'decideAccessRequest');
      const request = await em.createQueryBuilder(AccessRequest, 'r').setLock('pessimistic_write')
        .where('r.id = :id', { id: requestId }).getOneOrFail();
      if (request.status !== AccessRequestStatus.PENDING) {
        throw AppError.conflict(`this request was already ${request.status.toLowerCase()} at ${request.decidedAt?.toISOString()}`);
      }
      let grantId: string | null = null;
      if (approve) {
        const dataset = await em.findOneByOrFail(Dataset, { id: request.datasetId });
        this.assertShareable(dataset);
        const grant = await this.upsertGrant(em, scope, dataset, request.requesterTenantId,
          `access request: ${request.reason}`.slice(0, MAX_PURPOSE), expiresAt ?? null);
        grantId = grant.row.id;
      }
      await em.query(
        `UPDATE access_request SET status = $2, note = $3, decided_by = $4, decided_at = date_trunc('milliseconds', now()), grant_id = $5
          WHERE id = $1`,
        [request.id, approve ? AccessRequestStatus.APPROVED : AccessRequestStatus.REJECTED, note, scope.user.id, grantId]);
      const decided = await em.findOneByOrFail(AccessRequest, { id: request.id });
      await this.audit.record(em, scope, tenant.tenantId, approve ? 'dataset.access.approve' : 'dataset.access.reject',
        { type: 'Dataset', id: request.datasetId },
        { accessRequestId: requestGlobalId, requesterTenantId: toGlobalId('Tenant', request.requesterTenantId), note,
          grantId: grantId && toGlobalId('DatasetGrant', grantId) });
      return AccessRequestNode.from(decided);
    });
  }

  /** Requests for the acting tenant's datasets (INCOMING) or made by it (OUTGOING). */
  list(scope: RequestScope, args: AccessRequestsArgs): Promise<ConnectionShape<AccessRequestNode>> {
    const tenant = requireTenant(scope);
    return paginate(
      (work) => this.db.withTenant(scope, work),
      (em) => {
        const column = args.direction === AccessRequestDirection.OUTGOING ? 'r.requester_tenant_id' : 'r.tenant_id';
        const qb = em.createQueryBuilder(AccessRequest, 'r').where(`${column} = :tenantId`, { tenantId: tenant.tenantId });
        if (args.status) qb.andWhere('r.status = :status', { status: args.status });
        return qb;
      },
      args,
      { columns: ['r.created_at', 'r.id'], key: (r) => [isoKey(r.createdAt), r.id] },
      AccessRequestNode.from,
    );
  }

  private assertShareable(dataset: Dataset): void {
    if (dataset.visibility !== Visibility.SHARED) {
      throw AppError.badInput(`dataset "${dataset.name}" is ${dataset.visibility}; only SHARED datasets are shared with ` +
        (dataset.visibility === Visibility.ALLIANCE ? 'grants (every member already reads it)' : 'grants'));
    }
  }

  /** Requests that could never mean anything: for one's own dataset, or for an ALLIANCE one. */
  private assertRequestable(dataset: Dataset, tenant: TenantMembershipRef): void {
    if (dataset.tenantId === tenant.tenantId) throw AppError.badInput(`${tenant.slug} owns dataset "${dataset.name}"`);
    if (dataset.visibility === Visibility.ALLIANCE) {
      throw AppError.badInput(`dataset "${dataset.name}" is ALLIANCE: every member reads it without asking`);
    }
  }

  /** One grant per grantee: sharing again replaces purpose and expiry (an expired grant revives). */
  private async upsertGrant(
    em: EntityManager, scope: RequestScope, dataset: Dataset, granteeTenantId: string, purpose: string | null, expiresAt: Date | null,
  ): Promise<{ row: DatasetGrant; renewed: boolean }> {
    const [{ id, renewed }]: { id: string; renewed: boolean }[] = await em.query(
      `INSERT INTO dataset_grant (dataset_id, tenant_id, grantee_tenant_id, purpose, expires_at, created_by)
       VALUES ($1, $2, $3, $4, $5, $6)
       ON CONFLICT (dataset_id, grantee_tenant_id) DO UPDATE SET purpose = EXCLUDED.purpose, expires_at = EXCLUDED.expires_at
       RETURNING id, (xmax <> 0) AS renewed`,
      [dataset.id, dataset.tenantId, granteeTenantId, purpose, expiresAt, scope.user.id]);
    return { row: await em.findOneByOrFail(DatasetGrant, { id }), renewed };
  }
}
