import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { AppError } from '../../core/app-error';
import type { ConnectionShape } from '../common/connection';
import { PageArgs } from '../common/connection';
import type { GraphQLContext } from '../context';
import { TenantNode } from '../tenants/tenants.types';
import { ModelsService } from './models.service';
import {
  CreateModelInput, CreateModelVersionInput, ModelConnection, ModelGrantNode, ModelNode, ModelsArgs, ModelVersionConnection,
  ModelVersionNode, ShareModelInput,
} from './models.types';

@Resolver(() => ModelNode)
export class ModelsResolver {
  constructor(private readonly service: ModelsService) {}

  @Query(() => ModelConnection, { description: 'Every model the acting tenant may use: its own, ALLIANCE ones, and SHARED ones it holds a live grant for.' })
  models(@Args() args: ModelsArgs, @Ctx() ctx: GraphQLContext) {
    return this.service.list(ctx.scope, args);
  }

  @Mutation(() => ModelNode, { description: 'MEMBER or above. Versions (ONNX files) are added with createModelVersion.' })
  createModel(@Arg('input') input: CreateModelInput, @Ctx() ctx: GraphQLContext) {
    return this.service.create(ctx.scope, input);
  }

  @Mutation(() => ModelGrantNode, { description: "OWNER or ADMIN of the model's tenant; SHARED models only. Sharing again renews the grant." })
  shareModel(@Arg('input') input: ShareModelInput, @Ctx() ctx: GraphQLContext) {
    return this.service.share(ctx.scope, input);
  }

  @Mutation(() => Boolean)
  revokeModelGrant(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return this.service.revoke(ctx.scope, id);
  }

  @FieldResolver(() => TenantNode)
  async owner(@Root() model: ModelNode, @Ctx() ctx: GraphQLContext) {
    return (await ctx.loaders.tenantDirectoryById.load(model.tenantId)) ?? Promise.reject(AppError.notFound('tenant'));
  }

  @FieldResolver(() => ModelVersionConnection, { description: 'Oldest first.' })
  async versions(@Root() model: ModelNode, @Args() args: PageArgs, @Ctx() ctx: GraphQLContext): Promise<ConnectionShape<ModelVersionNode>> {
    const page = await ctx.loaders.modelVersionPagesByModel.load({ parentId: model.uuid, ...args });
    return { ...page, count: () => ctx.loaders.modelVersionCountByModel.load(model.uuid) };
  }

  @FieldResolver(() => ModelVersionNode, { nullable: true })
  latestVersion(@Root() model: ModelNode, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.latestVersionByModel.load(model.uuid);
  }

  @FieldResolver(() => [ModelGrantNode], { description: "The owner's view only; any other tenant sees an empty list." })
  grants(@Root() model: ModelNode, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.modelGrantsByModel.load({ modelId: model.uuid, ownerTenantId: model.tenantId });
  }
}

@Resolver(() => ModelVersionNode)
export class ModelVersionsResolver {
  constructor(private readonly service: ModelsService) {}

  @Mutation(() => ModelVersionNode, {
    description: 'The ONNX file is uploaded first as a blob (POST /v1/blobs). It is loaded and checked against the handler; a file that is not a valid model, or does not fit the handler, is BAD_USER_INPUT saying why.',
  })
  createModelVersion(@Arg('input') input: CreateModelVersionInput, @Ctx() ctx: GraphQLContext) {
    return this.service.createVersion(ctx.scope, input);
  }

  @FieldResolver(() => ModelNode)
  async model(@Root() version: ModelVersionNode, @Ctx() ctx: GraphQLContext) {
    return (await ctx.loaders.modelById.load(version.modelId)) ?? Promise.reject(AppError.notFound('model'));
  }
}

@Resolver(() => ModelGrantNode)
export class ModelGrantsResolver {
  @FieldResolver(() => ModelNode)
  async model(@Root() grant: ModelGrantNode, @Ctx() ctx: GraphQLContext) {
    return (await ctx.loaders.modelById.load(grant.modelId)) ?? Promise.reject(AppError.notFound('model'));
  }

  @FieldResolver(() => TenantNode)
  async grantee(@Root() grant: ModelGrantNode, @Ctx() ctx: GraphQLContext) {
    return (await ctx.loaders.tenantDirectoryById.load(grant.granteeTenantId)) ?? Promise.reject(AppError.notFound('tenant'));
  }
}
