// Request-scoped DataLoaders for every relation, so a list of N parents costs one query per
// relation, not N (see bench/ for the queries-per-request measurement).
import type { RequestScope } from '../tenants/request-scope';
import type { TenantDatabase } from '../tenants/tenant-database';
import { createJobLoaders } from './jobs/jobs.loaders';
import { createQuotaLoaders } from './quota/quota.loaders';
import { createTenantLoaders } from './tenants/tenants.loaders';
import { createBlobLoaders } from './blobs/blobs.loaders';
import { createDatasetLoaders } from './datasets/datasets.loaders';
import { createEndpointLoaders } from './endpoints/endpoints.loaders';
import { createModelLoaders } from './models/models.loaders';

function buildLoaders(db: TenantDatabase, scope: RequestScope) {
  return {
    ...createTenantLoaders(db, scope),
    ...createBlobLoaders(db, scope),
    ...createDatasetLoaders(db, scope),
    ...createModelLoaders(db, scope),
    ...createEndpointLoaders(db, scope),
    ...createQuotaLoaders(db, scope),
    ...createJobLoaders(db, scope),
  };
}

export type Loaders = ReturnType<typeof buildLoaders>;

/**
 * The request's loaders, built on first use: many operations (`infer`, most mutations,
 * `{ __typename }`) read no relation, and building some thirty DataLoaders was a measurable part
 * of their request.
 */
export function createLoaders(db: TenantDatabase, scope: RequestScope): Loaders {
  let built: Loaders | undefined;
  return new Proxy({} as Loaders, {
    get: (_target, key) => (built ??= buildLoaders(db, scope))[key as keyof Loaders],
  });
}
