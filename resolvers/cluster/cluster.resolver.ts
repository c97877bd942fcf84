import { Ctx, Query, Resolver } from 'type-graphql';
import type { GraphQLContext } from '../context';
import { ClusterService } from './cluster.service';
import { ClusterNode } from './cluster.types';

@Resolver(() => ClusterNode)
export class ClusterResolver {
  constructor(private readonly service: ClusterService) {}

  @Query(() => ClusterNode)
  cluster(@Ctx() ctx: GraphQLContext) {
    return this.service.view(ctx.scope);
  }
}
