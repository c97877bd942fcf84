import { Arg, Ctx, FieldResolver, Query, Resolver, Root } from 'type-graphql';
import { AppError } from '../../core/app-error';
import type { GraphQLContext } from '../context';
import { TenantNode } from '../tenants/tenants.types';
import { UsageService } from './usage.service';
import { AssetUsageNode, UsageBucketNode, UsageGroupBy } from './usage.types';

@Resolver(() => UsageBucketNode)
export class UsageResolver {
  constructor(private readonly service: UsageService) {}

  @Query(() => [UsageBucketNode], { description: "The acting tenant's usage, bucketed." })
  usage(
    @Arg('from', () => Date) from: Date,
    @Arg('to', () => Date, { description: 'Exclusive; at most 366 days after from.' }) to: Date,
    @Arg('groupBy', () => UsageGroupBy) groupBy: UsageGroupBy,
    @Ctx() ctx: GraphQLContext,
  ) {
    return this.service.usage(ctx.scope, from, to, groupBy);
  }

  @FieldResolver(() => [UsageBucketNode], {
    description: 'This bucket split by a second key (e.g. each DAY by MODEL, for a stacked chart); one query for all buckets of the answer.',
  })
  breakdown(@Root() bucket: UsageBucketNode, @Arg('groupBy', () => UsageGroupBy) groupBy: UsageGroupBy) {
    return bucket.source.breakdown(bucket.rawKey, groupBy);
  }
}

@Resolver(() => AssetUsageNode)
export class AssetUsageResolver {
  constructor(private readonly service: UsageService) {}

  @Query(() => [AssetUsageNode], { description: "Who used the acting tenant's datasets and models, bucketed by consumer tenant." })
  usageOfMyAssets(@Arg('from', () => Date) from: Date, @Arg('to', () => Date) to: Date, @Ctx() ctx: GraphQLContext) {
    return this.service.assetUsage(ctx.scope, from, to);
  }

  @FieldResolver(() => TenantNode)
  async consumer(@Root() usage: AssetUsageNode, @Ctx() ctx: GraphQLContext) {
    // The tenant directory (slug and name of any tenant), as datasets show a foreign owner.
    return (await ctx.loaders.tenantDirectoryById.load(usage.consumerTenantId)) ?? Promise.reject(AppError.notFound('tenant'));
  }
}
