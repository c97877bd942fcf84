// Request-scoped DataLoaders for every relation, so a list of N parents costs one query per
// relation, not N (see bench/ for the queries-per-request measurement).
import type { RequestScope } from '../tenants/request-scope';
import type { TenantDatabase } from '../tenants/tenant-database';
import { createTenantLoaders } from './tenants/tenants.loaders';

export function createLoaders(db: TenantDatabase, scope: RequestScope) {
  return {
    ...createTenantLoaders(db, scope),
  };
}

export type Loaders = ReturnType<typeof createLoaders>;
