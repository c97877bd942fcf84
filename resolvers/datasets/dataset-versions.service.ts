// Dataset versions: numbered 1, 2, … per dataset, filled with items in bulk, then frozen by
// publishing. Every write runs in one transaction, so a refused call leaves nothing behind —
// no version number consumed, no partial items.
import type { EntityManager } from 'typeorm';
import { AppError } from '../../core/app-error';
import { fromGlobalId, toGlobalId } from '../../core/global-id';
import { DatasetVersion, TenantRole } from '../../entities';
import type { AuditLog } from '../../tenants/audit-log';
import { requireRole, type RequestScope, type TenantMembershipRef } from '../../tenants/request-scope';
import type { TenantDatabase } from '../../tenants/tenant-database';
import { parseItems, type ParsedItem } from './dataset-items';
import { datasetForWrite, versionForWrite } from './dataset-policy';
import { DatasetVersionNode, type CreateDatasetVersionInput, type DatasetItemInput } from './datasets.types';

export class DatasetVersionsService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly audit: AuditLog,
  ) {}

  async create(scope: RequestScope, input: CreateDatasetVersionInput): Promise<DatasetVersionNode> {
    const tenant = requireRole(scope, TenantRole.MEMBER, 'createDatasetVersion');
    const datasetId = fromGlobalId(input.datasetId, 'Dataset');
    const items = parseItems(input.items);
    return this.db.withTenant(scope, async (em) => {
      const dataset = await datasetForWrite(em, tenant, datasetId, input.datasetId, 'createDatasetVersion');
      await this.assertOwnBlobs(em, tenant, items);
      // The row lock taken by this UPDATE serialises concurrent creates on one dataset: each
      // gets the next number, none a duplicate (UNIQUE (dataset_id, version) backs it up).
      const [[{ last_version: version }]] = await em.query(
        'UPDATE dataset SET last_version = last_version + 1 WHERE id = $1 RETURNING last_version', [dataset.id]);
      const [{ id }]: { id: string }[] = await em.query(
        `INSERT INTO dataset_version (dataset_id, tenant_id, version, created_by) VALUES ($1, $2, $3, $4) RETURNING id`,
        [dataset.id, tenant.tenantId, version, scope.user.id]);
      await this.insertItems(em, id, tenant, items, 0);
      const created = await em.findOneByOrFail(DatasetVersion, { id });
      await this.audit.record(em, scope, tenant.tenantId, 'dataset.version.create', { type: 'Dataset', id: dataset.id },
        { versionId: toGlobalId('DatasetVersion', id), version, itemCount: created.itemCount, sizeBytes: Number(created.sizeBytes) });
      return DatasetVersionNode.from(created);
    });
  }

  /** Appends items to a draft version (large uploads arrive in several calls). */
  async addItems(scope: RequestScope, versionGlobalId: string, input: DatasetItemInput[]): Promise<DatasetVersionNode> {
    const tenant = requireRole(scope, TenantRole.MEMBER, 'addDatasetItems');
    const versionId = fromGlobalId(versionGlobalId, 'DatasetVersion');
    const items = parseItems(input);
    return this.db.withTenant(scope, async (em) => {
      const version = await versionForWrite(em, tenant, versionId, versionGlobalId, 'addDatasetItems');
      if (version.publishedAt) throw this.frozen(version);
      await this.assertOwnBlobs(em, tenant, items);
      await this.insertItems(em, version.id, tenant, items, version.itemCount);
      const updated = await em.findOneByOrFail(DatasetVersion, { id: version.id });
      await this.audit.record(em, scope, tenant.tenantId, 'dataset.version.add-items', { type: 'Dataset', id: version.datasetId },
        { versionId: versionGlobalId, version: version.version, added: items.length, itemCount: updated.itemCount });
      return DatasetVersionNode.from(updated);
    });
  }

  async publish(scope: RequestScope, versionGlobalId: string): Promise<DatasetVersionNode> {
    const tenant = requireRole(scope, TenantRole.MEMBER, 'publishDatasetVersion');
    const versionId = fromGlobalId(versionGlobalId, 'DatasetVersion');
    return this.db.withTenant(scope, async (em) => {
      const version = await versionForWrite(em, tenant, versionId, versionGlobalId, 'publishDatasetVersion');
      if (version.publishedAt) throw this.frozen(version);
      await em.query(`UPDATE dataset_version SET published_at = date_trunc('milliseconds', now()) WHERE id = $1`, [version.id]);
      const published = await em.findOneByOrFail(DatasetVersion, { id: version.id });
      await this.audit.record(em, scope, tenant.tenantId, 'dataset.version.publish', { type: 'Dataset', id: version.datasetId },
        { versionId: versionGlobalId, version: version.version, itemCount: published.itemCount });
      return DatasetVersionNode.from(published);
    });
  }

  private frozen(version: DatasetVersion): AppError {
    return AppError.conflict(`dataset version ${version.version} was published at ${version.publishedAt!.toISOString()} ` +
      'and is immutable; create a new version instead');
  }

  /**
   * Every referenced blob must be one the acting tenant uploaded. Checked explicitly (RLS would
   * also show blobs of readable datasets of other tenants) so the message can name the items;
   * the composite foreign key (blob_id, tenant_id) holds the same rule in the database.
   */
  private async assertOwnBlobs(em: EntityManager, tenant: TenantMembershipRef, items: ParsedItem[]): Promise<void> {
    const referencing = items.filter((i) => i.blobId !== null).map((i) => ({ idx: i.index, blob_id: i.blobId }));
    if (referencing.length === 0) return;
    const bad: { idx: number }[] = await em.query(
      `SELECT t.idx FROM jsonb_to_recordset($1::jsonb) AS t(idx int, blob_id uuid)
        WHERE NOT EXISTS (SELECT 1 FROM blob b WHERE b.id = t.blob_id AND b.tenant_id = $2)
        ORDER BY t.idx LIMIT 5`,
      [JSON.stringify(referencing), tenant.tenantId]);
    if (bad.length > 0) {
      const list = bad.map((b) => `items[${b.idx}]`).join(', ');
      throw AppError.badInput(`${list}: blobId is not a blob uploaded by ${tenant.slug} (unknown, or another tenant's); ` +
        'a dataset item can only reference its own tenant\'s uploads', { indexes: bad.map((b) => b.idx) });
    }
  }

  /**
   * One INSERT … SELECT FROM jsonb_to_recordset for the whole batch (not a row per item), and
   * in the same statement the version's counters: items, and bytes (blob sizes plus the UTF-8
   * length of texts). The item policy refuses rows for a published version as a backstop.
   */
  private async insertItems(
    em: EntityManager, versionId: string, tenant: TenantMembershipRef, items: ParsedItem[], firstOrdinal: number,
  ): Promise<void> {
    const rows = items.map((i) => ({ idx: i.index, text: i.text, blob_id: i.blobId, metadata: i.metadata }));
    await em.query(
      `WITH input AS (
         SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(idx int, text text, blob_id uuid, metadata jsonb)
       ), inserted AS (
         INSERT INTO dataset_item (version_id, tenant_id, ordinal, text, blob_id, metadata)
         SELECT $2, $3, $4 + idx, text, blob_id, CASE WHEN metadata = 'null'::jsonb THEN NULL ELSE metadata END FROM input
         RETURNING text, blob_id
       )
       UPDATE dataset_version v SET item_count = v.item_count + s.n, size_bytes = v.size_bytes + s.bytes
         FROM (SELECT count(*)::int AS n,
                      coalesce(sum(coalesce(octet_length(i.text), 0) + coalesce(b.size, 0)), 0)::bigint AS bytes
                 FROM inserted i LEFT JOIN blob b ON b.id = i.blob_id) s
        WHERE v.id = $2`,
      [JSON.stringify(rows), versionId, tenant.tenantId, firstOrdinal]);
  }
}

