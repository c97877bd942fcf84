import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { AppError } from '../../core/app-error';
import type { GraphQLContext } from '../context';
import { TenantNode } from '../tenants/tenants.types';
import { DatasetSharingService } from './dataset-sharing.service';
import {
  AccessRequestConnection, AccessRequestNode, AccessRequestsArgs, DatasetGrantNode, DatasetNode, ShareDatasetInput,
} from './datasets.types';

@Resolver(() => DatasetGrantNode)
export class DatasetGrantsResolver {
  constructor(private readonly service: DatasetSharingService) {}

  @Mutation(() => DatasetGrantNode, { description: 'OWNER or ADMIN of the dataset\'s tenant; SHARED datasets only. Sharing again renews the grant.' })
  shareDataset(@Arg('input') input: ShareDatasetInput, @Ctx() ctx: GraphQLContext) {
    return this.service.share(ctx.scope, input);
  }

  @Mutation(() => Boolean)
  revokeDatasetGrant(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return this.service.revoke(ctx.scope, id);
  }

  @FieldResolver(() => DatasetNode)
  async dataset(@Root() grant: DatasetGrantNode, @Ctx() ctx: GraphQLContext) {
    return (await ctx.loaders.datasetById.load(grant.datasetId)) ?? Promise.reject(AppError.notFound('dataset'));
  }

  @FieldResolver(() => TenantNode)
  async grantee(@Root() grant: DatasetGrantNode, @Ctx() ctx: GraphQLContext) {
    return (await ctx.loaders.tenantDirectoryById.load(grant.granteeTenantId)) ?? Promise.reject(AppError.notFound('tenant'));
  }
}

@Resolver(() => AccessRequestNode)
export class AccessRequestsResolver {
  constructor(private readonly service: DatasetSharingService) {}

  @Query(() => AccessRequestConnection, { description: 'Access requests for the acting tenant\'s datasets (INCOMING) or made by it (OUTGOING).' })
  accessRequests(@Args() args: AccessRequestsArgs, @Ctx() ctx: GraphQLContext) {
    return this.service.list(ctx.scope, args);
  }

  @Mutation(() => AccessRequestNode, { description: 'Asks the owner of a SHARED dataset for a grant; the dataset is named by its id.' })
  requestDatasetAccess(@Arg('datasetId', () => ID) datasetId: string, @Arg('reason') reason: string, @Ctx() ctx: GraphQLContext) {
    return this.service.requestAccess(ctx.scope, datasetId, reason);
  }

  @Mutation(() => AccessRequestNode, { description: 'OWNER or ADMIN of the dataset\'s tenant. Approval creates (or renews) a grant.' })
  decideAccessRequest(
    @Arg('id', () => ID) id: string,
    @Arg('approve') approve: boolean,
    @Arg('note', () => String, { nullable: true }) note: string | null,
    @Arg('expiresAt', () => Date, { nullable: true, description: 'Expiry of the grant an approval creates; none by default.' }) expiresAt: Date | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return this.service.decide(ctx.scope, id, approve, note, expiresAt);
  }

  @FieldResolver(() => DatasetNode)
  async dataset(@Root() request: AccessRequestNode, @Ctx() ctx: GraphQLContext) {
    return (await ctx.loaders.datasetForAccessRequest.load(request.datasetId)) ?? Promise.reject(AppError.notFound('dataset'));
  }

  @FieldResolver(() => TenantNode)
  async requester(@Root() request: AccessRequestNode, @Ctx() ctx: GraphQLContext) {
    return (await ctx.loaders.tenantDirectoryById.load(request.requesterTenantId)) ?? Promise.reject(AppError.notFound('tenant'));
  }
}
