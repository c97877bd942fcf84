import { lexicographicSortSchema, printSchema, type GraphQLSchema } from 'graphql';
import { DateTimeResolver, JSONResolver } from 'graphql-scalars';
import { buildSchema } from 'type-graphql';
import { NodeResolver } from '../../resolvers/node/node.resolver';
import { TenantStorageResolver } from '../../resolvers/blobs/blobs.resolver';
import { AccessRequestsResolver, DatasetGrantsResolver } from '../../resolvers/datasets/dataset-sharing.resolver';
import {
  AuditEventsResolver, DatasetItemsResolver, DatasetsResolver, DatasetVersionsResolver,
} from '../../resolvers/datasets/datasets.resolver';
import { QuotaResolver } from '../../resolvers/quota/quota.resolver';
import { MembershipResolver, TenantsResolver, ViewerResolver } from '../../resolvers/tenants/tenants.resolver';
import type { ServiceContainer } from './service-container';

export const RESOLVERS = [NodeResolver, TenantsResolver, MembershipResolver, ViewerResolver, DatasetsResolver, DatasetVersionsResolver, DatasetItemsResolver, AuditEventsResolver, DatasetGrantsResolver, AccessRequestsResolver, TenantStorageResolver, QuotaResolver] as const;

export async function buildAppSchema(container: ServiceContainer): Promise<GraphQLSchema> {
  return buildSchema({
    resolvers: RESOLVERS,
    container,
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
