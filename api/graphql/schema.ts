import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import { createPubSub } from '@graphql-yoga/subscription';
import { buildSchema } from 'type-graphql';
import { ClusterResolver } from '../../resolvers/cluster/cluster.resolver';
import { JobsResolver, JobSubscriptionsResolver } from '../../resolvers/jobs/jobs.resolver';
import { NodeResolver } from '../../resolvers/node/node.resolver';
import { EndpointsResolver } from '../../resolvers/endpoints/endpoints.resolver';
import { ModelGrantsResolver, ModelsResolver, ModelVersionsResolver } from '../../resolvers/models/models.resolver';
import { TenantStorageResolver } from '../../resolvers/blobs/blobs.resolver';
import { AccessRequestsResolver, DatasetGrantsResolver } from '../../resolvers/datasets/dataset-sharing.resolver';
import {
  AuditEventsResolver, DatasetItemsResolver, DatasetsResolver, DatasetVersionsResolver,
} from '../../resolvers/datasets/datasets.resolver';
import { LedgerEntryResolver, QuotaResolver } from '../../resolvers/quota/quota.resolver';
import { RateLimitResolver } from '../../resolvers/rate-limit/rate-limit.resolver';
import { MembershipResolver, TenantsResolver, ViewerResolver } from '../../resolvers/tenants/tenants.resolver';
import { AssetUsageResolver, UsageResolver } from '../../resolvers/usage/usage.resolver';
import type { ServiceContainer } from './service-container';

export const RESOLVERS = [NodeResolver, TenantsResolver, MembershipResolver, ViewerResolver, DatasetsResolver, DatasetVersionsResolver, DatasetItemsResolver, AuditEventsResolver, DatasetGrantsResolver, AccessRequestsResolver, TenantStorageResolver, QuotaResolver, LedgerEntryResolver, JobsResolver, JobSubscriptionsResolver, ClusterResolver, RateLimitResolver, ModelsResolver, ModelVersionsResolver, ModelGrantsResolver, EndpointsResolver, UsageResolver, AssetUsageResolver] as const;

export async function buildAppSchema(container: ServiceContainer): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: RESOLVERS,
    container,
    // Required by type-graphql once any @Subscription exists. Ours bring their own `subscribe`
    // (PostgreSQL LISTEN/NOTIFY streams, resolvers/jobs/job-event-stream.ts), so this in-process
    // PubSub carries nothing — it must not, as it would not reach other API processes.
    pubSub: createPubSub(),
    scalarsMap: [{ type: Date, scalar: DateTimeResolver }],
    orphanedTypes: [],
    validate: false,
    emitSchemaFile: false,
  });
}

/** The schema as committed in schema.graphql: sorted, so diffs show real changes only. */
export function printAppSchema(schema: GraphQLSchema): string {
  return printSchema(lexicographicSortSchema(schema)) + '\n';
}

export { JSONResolver };
