// Request-scoped loaders of the model registry: a page of N models with their owners, latest
// versions, version pages and grants costs one query per relation. Every loader reads through
// withTenant, so row-level security decides visibility exactly as for the top-level queries.
import DataLoader from 'dataloader';
import { In } from 'typeorm';
import { Model, ModelGrant, ModelVersion } from '../../entities';
import type { RequestScope } from '../../tenants/request-scope';
import type { TenantDatabase } from '../../tenants/tenant-database';
import type { InTransaction } from '../common/connection';
import { createPageLoader } from '../datasets/partitioned-pages';
import { byKeys } from '../tenants/tenants.loaders';
import { ModelGrantNode, ModelNode, ModelVersionNode } from './models.types';

export function createModelLoaders(db: TenantDatabase, scope: RequestScope) {
  const run: InTransaction = (work) => db.withTenant(scope, work);
  const isActingTenant = (tenantId: string) => scope.tenant?.tenantId === tenantId;

  return {
    modelById: new DataLoader<string, ModelNode | null>(async (ids) => {
      const rows = await run((em) => em.findBy(Model, { id: In([...ids]) }));
      return byKeys(ids, rows.map(ModelNode.from), (m) => m.uuid);
    }),

    modelVersionById: new DataLoader<string, ModelVersionNode | null>(async (ids) => {
      const rows = await run((em) => em.findBy(ModelVersion, { id: In([...ids]) }));
      return byKeys(ids, rows.map(ModelVersionNode.from), (v) => v.uuid);
    }),

    latestVersionByModel: new DataLoader<string, ModelVersionNode | null>(async (modelIds) => {
      const rows = await run((em) => em.createQueryBuilder(ModelVersion, 'v')
        .distinctOn(['v.model_id'])
        .where('v.model_id IN (:...ids)', { ids: modelIds })
        .orderBy('v.model_id').addOrderBy('v.version', 'DESC')
        .getMany());
      return byKeys(modelIds, rows.map(ModelVersionNode.from), (v) => v.modelId);
    }),

    modelVersionPagesByModel: createPageLoader(run, {
      entity: ModelVersion, table: 'model_version', parentColumn: 'model_id', parentOf: (v) => v.modelId,
      columns: ['{a}.version'], key: (v) => [v.version],
    }, ModelVersionNode.from),

    modelVersionCountByModel: new DataLoader<string, number>(async (modelIds) => {
      const rows: { model_id: string; n: number }[] = await run((em) => em.query(
        'SELECT model_id, count(*)::int AS n FROM model_version WHERE model_id = ANY($1::uuid[]) GROUP BY model_id', [modelIds]));
      const counts = new Map(rows.map((r) => [r.model_id, r.n]));
      return modelIds.map((id) => counts.get(id) ?? 0);
    }),

    modelGrantById: new DataLoader<string, ModelGrantNode | null>(async (ids) => {
      const rows = await run((em) => em.findBy(ModelGrant, { id: In([...ids]) }));
      return byKeys(ids, rows.filter((g) => isActingTenant(g.tenantId)).map(ModelGrantNode.from), (g) => g.uuid);
    }),

    /** The owner's view only; any other tenant gets [] (RLS would return no rows anyway). */
    modelGrantsByModel: new DataLoader<{ modelId: string; ownerTenantId: string }, ModelGrantNode[], string>(async (keys) => {
      const owned = keys.filter((k) => isActingTenant(k.ownerTenantId)).map((k) => k.modelId);
      const rows = owned.length === 0 ? [] : await run((em) =>
        em.find(ModelGrant, { where: { modelId: In(owned) }, order: { createdAt: 'ASC', id: 'ASC' } }));
      return keys.map((k) => rows.filter((g) => g.modelId === k.modelId && isActingTenant(k.ownerTenantId)).map(ModelGrantNode.from));
    }, { cacheKeyFn: (k) => k.modelId }),
  };
}
