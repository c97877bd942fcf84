import { Field, Int, ObjectType } from 'type-graphql';
import type { RateLimitState } from '../../tenants/rate-limiter';
import { TenantNode } from '../tenants/tenants.types';

@ObjectType('RateLimit', {
  description: "The caller's hourly query-cost budget: the acting tenant's, or the user's own without a tenant.",
})
export class RateLimitNode {
  @Field(() => Int, { description: 'Points per hour.' })
  limit: number;

  @Field(() => Int, { description: 'Points this operation cost.' })
  cost: number;

  @Field(() => Int, { description: 'Points left in the current window, after this operation.' })
  remaining: number;

  @Field(() => Int, { description: 'Points spent in the current window, this operation included.' })
  used: number;

  @Field({ description: 'When the current hourly window ends and the budget is full again.' })
  resetAt: Date;

  static from(state: RateLimitState): RateLimitNode {
    return Object.assign(new RateLimitNode(), {
      limit: state.limit, cost: state.cost, remaining: state.remaining, used: state.used, resetAt: state.resetAt,
    });
  }
}

@ObjectType('TenantRateLimit', { description: "A tenant's hourly query-cost budget as alliance admins set it." })
export class TenantRateLimitNode {
  @Field(() => TenantNode)
  tenant: TenantNode;

  @Field(() => Int, { description: 'Points per hour.' })
  pointsPerHour: number;

  @Field({ description: 'True when no admin override is set and the platform default applies.' })
  isDefault: boolean;

  @Field(() => Int, { description: 'Points spent in the current window.' })
  used: number;

  @Field()
  resetAt: Date;
}
