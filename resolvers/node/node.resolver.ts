// `node(id:)`: decode the global id, then fetch through the same request-scoped loaders the
// nested fields use, so visibility rules are identical on both paths.
import { Arg, Ctx, ID, Query, Resolver } from 'type-graphql';
import { AppError } from '../../core/app-error';
import { parseGlobalId } from '../../core/global-id';
import { Node } from '../common/node.types';
import type { GraphQLContext } from '../context';

type Fetcher = (ctx: GraphQLContext, uuid: string) => Promise<Node | null>;

const FETCHERS: Record<string, Fetcher> = {
  Tenant: (ctx, uuid) => ctx.loaders.tenantById.load(uuid),
  User: (ctx, uuid) => ctx.loaders.userById.load(uuid),
  Blob: (ctx, uuid) => ctx.loaders.blobById.load(uuid),
  Dataset: (ctx, uuid) => ctx.loaders.datasetById.load(uuid),
  DatasetVersion: (ctx, uuid) => ctx.loaders.datasetVersionById.load(uuid),
  DatasetGrant: (ctx, uuid) => ctx.loaders.datasetGrantById.load(uuid),
  AccessRequest: (ctx, uuid) => ctx.loaders.datasetAccessRequestById.load(uuid),
  LedgerEntry: (ctx, uuid) => ctx.loaders.ledgerEntryById.load(uuid),
  Model: (ctx, uuid) => ctx.loaders.modelById.load(uuid),
  ModelVersion: (ctx, uuid) => ctx.loaders.modelVersionById.load(uuid),
  ModelGrant: (ctx, uuid) => ctx.loaders.modelGrantById.load(uuid),
  Endpoint: (ctx, uuid) => ctx.loaders.endpointById.load(uuid),
  Job: (ctx, uuid) => ctx.loaders.jobById.load(uuid),
};

@Resolver()
export class NodeResolver {
  @Query(() => Node, { nullable: true })
  async node(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<Node> {
    const parsed = parseGlobalId(id);
    if (!parsed) throw AppError.badInput(`"${String(id).slice(0, 60)}" is not a valid id`);
    const fetch = FETCHERS[parsed.type];
    const node = fetch ? await fetch(ctx, parsed.id) : null;
    if (!node) throw AppError.notFound('object', id);
    return node;
  }
}
