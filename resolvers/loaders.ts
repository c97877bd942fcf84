// Request-scoped DataLoaders for every relation, so a list of N parents costs one query per
// relation, not N (see bench/ for the queries-per-request measurement).
import type { RequestScope } from '../tenants/request-scope';
import type { TenantDatabase } from '../tenants/tenant-database';
import { createQuotaLoaders } from './quota/quota.loaders';
import { createTenantLoaders } from './tenants/tenants.loaders';
import { createBlobLoaders } from './blobs/blobs.loaders';
import { createDatasetLoaders } from './datasets/datasets.loaders';

export function createLoaders(db: TenantDatabase, scope: RequestScope) {
  return {
    ...createTenantLoaders(db, scope),
    ...createBlobLoaders(db, scope),
    ...createDatasetLoaders(db, scope),
    ...createQuotaLoaders(db, scope),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
