import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { JSONResolver } from 'graphql-scalars';
import { AppError } from '../../core/app-error';
import type { GraphQLContext } from '../context';
import { ModelVersionNode } from '../models/models.types';
import { TenantNode } from '../tenants/tenants.types';
import { EndpointsService } from './endpoints.service';
import { DeployEndpointInput, EndpointConnection, EndpointNode, EndpointsArgs, InferenceResultNode } from './endpoints.types';
import { InferenceService } from './inference.service';

@Resolver(() => EndpointNode)
export class EndpointsResolver {
  constructor(
    private readonly service: EndpointsService,
    private readonly inference: InferenceService,
  ) {}

  @Query(() => EndpointConnection, { description: 'Every endpoint the acting tenant may call: its own and those of models visible to it.' })
  endpoints(@Args() args: EndpointsArgs, @Ctx() ctx: GraphQLContext) {
    return this.service.list(ctx.scope, args);
  }

  @Mutation(() => EndpointNode, {
    description: 'MEMBER or above; any model version the tenant can see. Answers once the model is loaded and warmed (READY) or failed (FAILED, with failureReason).',
  })
  deployEndpoint(@Arg('input') input: DeployEndpointInput, @Ctx() ctx: GraphQLContext) {
    return this.service.deploy(ctx.scope, input);
  }

  @Mutation(() => EndpointNode, { description: "The endpoint's owner; queued requests fail, later calls answer CONFLICT." })
  stopEndpoint(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return this.service.stop(ctx.scope, id);
  }

  @Mutation(() => InferenceResultNode, { description: 'Synchronous inference on a READY endpoint; charged to the acting tenant.' })
  infer(
    @Arg('endpointId', () => ID) endpointId: string,
    @Arg('inputs', () => [JSONResolver]) inputs: unknown[],
    @Ctx() ctx: GraphQLContext,
  ) {
    return this.inference.infer(ctx.scope, endpointId, inputs, ctx.inferLookahead);
  }

  @FieldResolver(() => TenantNode)
  async owner(@Root() endpoint: EndpointNode, @Ctx() ctx: GraphQLContext) {
    return (await ctx.loaders.tenantDirectoryById.load(endpoint.tenantId)) ?? Promise.reject(AppError.notFound('tenant'));
  }

  @FieldResolver(() => ModelVersionNode)
  async modelVersion(@Root() endpoint: EndpointNode, @Ctx() ctx: GraphQLContext) {
    // Null only for the owner of an endpoint whose model is no longer shared with it.
    return (await ctx.loaders.modelVersionById.load(endpoint.modelVersionId)) ?? Promise.reject(AppError.notFound('model version'));
  }
}
