import { Arg, Ctx, Int, Mutation, Query, Resolver } from 'type-graphql';
import type { GraphQLContext } from '../context';
import { chargeOf } from './operation-charge';
import { RateLimitService } from './rate-limit.service';
import { RateLimitNode, TenantRateLimitNode } from './rate-limit.types';

@Resolver()
export class RateLimitResolver {
  constructor(private readonly service: RateLimitService) {}

  @Query(() => RateLimitNode, {
    description: "The caller's query-cost budget after this operation (the same numbers as the x-ratelimit-* headers).",
  })
  async rateLimit(@Ctx() ctx: GraphQLContext) {
    return RateLimitNode.from(await this.service.current(ctx.scope, chargeOf(ctx)));
  }

  @Mutation(() => TenantRateLimitNode, {
    description: "Alliance admins only. Sets a tenant's hourly query-cost budget; null restores the platform default.",
  })
  setRateLimit(
    @Arg('tenantSlug') tenantSlug: string,
    @Arg('pointsPerHour', () => Int, { nullable: true }) pointsPerHour: number | null,
    @Ctx() ctx: GraphQLContext,
  ) {
    return this.service.setTenantLimit(ctx.scope, tenantSlug, pointsPerHour ?? null);
  }
}
