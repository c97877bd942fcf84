// Request-scoped loaders for every relation of the datasets feature: a page of N datasets with
// their owners, latest versions, version pages and grants costs one query per relation.
// Every loader reads through withTenant, so row-level security applies on top of the explicit
// rules below (owner-only relations check the owner here as well, not only in SQL).
import DataLoader from 'dataloader';
import { In } from 'typeorm';
import { AccessRequest, AuditEvent, Dataset, DatasetGrant, DatasetItem, DatasetVersion } from '../../entities';
import type { RequestScope } from '../../tenants/request-scope';
import type { TenantDatabase } from '../../tenants/tenant-database';
import { isoKey, type InTransaction } from '../common/connection';
import { byKeys } from '../tenants/tenants.loaders';
import {
  AccessRequestNode, AuditEventNode, DatasetGrantNode, DatasetItemNode, DatasetNode, DatasetVersionNode,
} from './datasets.types';
import { createPageLoader } from './partitioned-pages';
import { createTenantDirectoryLoader } from './tenant-directory';

/** A relation only the dataset's owner may list (grants, audit events). */
export interface OwnedKey {
  datasetId: string;
  ownerTenantId: string;
}

export function createDatasetLoaders(db: TenantDatabase, scope: RequestScope) {
  const run: InTransaction = (work) => db.withTenant(scope, work);
  const isActingTenant = (tenantId: string) => scope.tenant?.tenantId === tenantId;

  const datasetById = new DataLoader<string, DatasetNode | null>(async (ids) => {
    const rows = await db.withTenant(scope, (em) => em.findBy(Dataset, { id: In([...ids]) }));
    return byKeys(ids, rows.map(DatasetNode.from), (d) => d.uuid);
  });

  const datasetVersionById = new DataLoader<string, DatasetVersionNode | null>(async (ids) => {
    const rows = await db.withTenant(scope, (em) => em.findBy(DatasetVersion, { id: In([...ids]) }));
    return byKeys(ids, rows.map(DatasetVersionNode.from), (v) => v.uuid);
  });

  return {
    datasetById,
    datasetVersionById,
    tenantDirectoryById: createTenantDirectoryLoader(db, scope),

    /**
     * AccessRequest.dataset: the dataset if the caller can read it; otherwise, for the tenant that
     * asked, the dataset's metadata only (app_requested_datasets()), so a pending request shows
     * what it is about. Its versions, items and blobs stay behind row-level security.
     */
    datasetForAccessRequest: new DataLoader<string, DatasetNode | null>(async (ids) => {
      const readable = await datasetById.loadMany(ids);
      const missing = ids.filter((_, i) => !(readable[i] instanceof DatasetNode));
      const cards: Record<string, unknown>[] = missing.length === 0 ? [] : await db.withTenant(scope, (em) =>
        em.query('SELECT * FROM app_requested_datasets($1::uuid[])', [missing]));
      const byId = new Map(cards.map((c) => [c.id as string, DatasetNode.from(datasetFromRow(c))]));
      return ids.map((id, i) => (readable[i] instanceof DatasetNode ? (readable[i] as DatasetNode) : byId.get(id) ?? null));
    }),

    /** The highest version the caller can see: drafts for the owner, published ones for others. */
    latestVersionByDataset: new DataLoader<string, DatasetVersionNode | null>(async (datasetIds) => {
      const rows = await db.withTenant(scope, (em) => em.createQueryBuilder(DatasetVersion, 'v')
        .distinctOn(['v.dataset_id'])
        .where('v.dataset_id IN (:...ids)', { ids: datasetIds })
        .orderBy('v.dataset_id').addOrderBy('v.version', 'DESC')
        .getMany());
      return byKeys(datasetIds, rows.map(DatasetVersionNode.from), (v) => v.datasetId);
    }),

    versionPagesByDataset: createPageLoader(run, {
      entity: DatasetVersion, table: 'dataset_version', parentColumn: 'dataset_id', parentOf: (v) => v.datasetId,
      columns: ['{a}.version'], key: (v) => [v.version],
    }, DatasetVersionNode.from),

    versionCountByDataset: new DataLoader<string, number>(async (datasetIds) => {
      const rows: { dataset_id: string; n: number }[] = await db.withTenant(scope, (em) => em.query(
        'SELECT dataset_id, count(*)::int AS n FROM dataset_version WHERE dataset_id = ANY($1::uuid[]) GROUP BY dataset_id',
        [datasetIds]));
      const counts = new Map(rows.map((r) => [r.dataset_id, r.n]));
      return datasetIds.map((id) => counts.get(id) ?? 0);
    }),

    datasetItemPagesByVersion: createPageLoader(run, {
      entity: DatasetItem, table: 'dataset_item', parentColumn: 'version_id', parentOf: (i) => i.versionId,
      columns: ['{a}.ordinal'], key: (i) => [i.ordinal],
    }, DatasetItemNode.from),

    datasetGrantById: new DataLoader<string, DatasetGrantNode | null>(async (ids) => {
      const rows = await db.withTenant(scope, (em) => em.findBy(DatasetGrant, { id: In([...ids]) }));
      return byKeys(ids, rows.filter((g) => isActingTenant(g.tenantId)).map(DatasetGrantNode.from), (g) => g.uuid);
    }),

    /** The owner's view only; any other tenant gets [] (and RLS would return no rows anyway). */
    grantsByDataset: new DataLoader<OwnedKey, DatasetGrantNode[], string>(async (keys) => {
      const owned = keys.filter((k) => isActingTenant(k.ownerTenantId)).map((k) => k.datasetId);
      const rows = owned.length === 0 ? [] : await db.withTenant(scope, (em) =>
        em.find(DatasetGrant, { where: { datasetId: In(owned) }, order: { createdAt: 'ASC', id: 'ASC' } }));
      return keys.map((k) => rows.filter((g) => g.datasetId === k.datasetId && isActingTenant(k.ownerTenantId)).map(DatasetGrantNode.from));
    }, { cacheKeyFn: (k) => k.datasetId }),

    datasetAccessRequestById: new DataLoader<string, AccessRequestNode | null>(async (ids) => {
      const rows = await db.withTenant(scope, (em) => em.findBy(AccessRequest, { id: In([...ids]) }));
      return byKeys(ids, rows.map(AccessRequestNode.from), (r) => r.uuid);
    }),

    /**
     * Audit events about a dataset, whichever tenant recorded them (the policy
     * audit_event_dataset_owner lets the owner read the requests other tenants made).
     * Keyset on the millisecond-truncated time: audit_event.at keeps microseconds, a cursor
     * that went through a JavaScript Date only milliseconds.
     */
    auditEventPagesByDataset: createPageLoader(run, {
      entity: AuditEvent, table: 'audit_event', parentColumn: 'target_id', parentOf: (e) => e.targetId!,
      where: `{a}.target_type = 'Dataset'`,
      columns: [`date_trunc('milliseconds', {a}.at)`, '{a}.id'], key: (e) => [isoKey(e.at), e.id],
    }, AuditEventNode.from),

    auditEventCountByDataset: new DataLoader<string, number>(async (datasetIds) => {
      const rows: { target_id: string; n: number }[] = await db.withTenant(scope, (em) => em.query(
        `SELECT target_id, count(*)::int AS n FROM audit_event
          WHERE target_type = 'Dataset' AND target_id = ANY($1::uuid[]) GROUP BY target_id`, [datasetIds]));
      const counts = new Map(rows.map((r) => [r.target_id, r.n]));
      return datasetIds.map((id) => counts.get(id) ?? 0);
    }),
  };
}

/** A raw `dataset` row (from a SQL function) in entity shape. */
function datasetFromRow(r: Record<string, unknown>): Dataset {
  return {
    id: r.id, tenantId: r.tenant_id, name: r.name, description: r.description, modality: r.modality,
    license: r.license, visibility: r.visibility, lastVersion: r.last_version, createdBy: r.created_by, createdAt: r.created_at,
  } as Dataset;
}
