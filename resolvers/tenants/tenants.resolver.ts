import { Arg, Args, Ctx, FieldResolver, Mutation, Query, Resolver, Root } from 'type-graphql';
import { AppError } from '../../core/app-error';
import { TenantRole } from '../../entities';
import { PageArgs } from '../common/connection';
import type { GraphQLContext } from '../context';
import { TenantsService } from './tenants.service';
import {
  CreateTenantInput, MembershipConnection, MembershipNode, TenantConnection, TenantNode, UserNode, ViewerNode,
} from './tenants.types';

@Resolver(() => TenantNode)
export class TenantsResolver {
  constructor(private readonly service: TenantsService) {}

  @Query(() => TenantConnection)
  tenants(@Args() args: PageArgs, @Ctx() ctx: GraphQLContext) {
    return this.service.list(ctx.scope, args);
  }

  @Query(() => TenantNode, { nullable: true })
  tenant(@Arg('slug') slug: string, @Ctx() ctx: GraphQLContext) {
    return this.service.bySlug(ctx.scope, slug);
  }

  @Mutation(() => TenantNode, { description: 'Alliance admins only.' })
  createTenant(@Arg('input') input: CreateTenantInput, @Ctx() ctx: GraphQLContext) {
    return this.service.create(ctx.scope, input);
  }

  @Mutation(() => MembershipNode, { description: 'Tenant OWNER or ADMIN of that tenant. The user must have signed in once.' })
  addMember(
    @Arg('tenantSlug') tenantSlug: string,
    @Arg('username') username: string,
    @Arg('role', () => TenantRole) role: TenantRole,
    @Ctx() ctx: GraphQLContext,
  ) {
    return this.service.addMember(ctx.scope, tenantSlug, username, role);
  }

  @Mutation(() => Boolean)
  removeMember(@Arg('tenantSlug') tenantSlug: string, @Arg('username') username: string, @Ctx() ctx: GraphQLContext) {
    return this.service.removeMember(ctx.scope, tenantSlug, username);
  }

  @FieldResolver(() => MembershipConnection)
  members(@Root() tenant: TenantNode, @Args() args: PageArgs, @Ctx() ctx: GraphQLContext) {
    return this.service.members(ctx.scope, tenant.uuid, args);
  }
}

@Resolver(() => MembershipNode)
export class MembershipResolver {
  @FieldResolver(() => UserNode)
  async user(@Root() m: MembershipNode, @Ctx() ctx: GraphQLContext) {
    return (await ctx.loaders.userById.load(m.userId)) ?? Promise.reject(AppError.notFound('user'));
  }

  @FieldResolver(() => TenantNode)
  async tenant(@Root() m: MembershipNode, @Ctx() ctx: GraphQLContext) {
    return (await ctx.loaders.tenantById.load(m.tenantId)) ?? Promise.reject(AppError.notFound('tenant'));
  }
}

@Resolver(() => ViewerNode)
export class ViewerResolver {
  @Query(() => ViewerNode)
  viewer(@Ctx() ctx: GraphQLContext): ViewerNode {
    const { user, isAllianceAdmin } = ctx.scope;
    return Object.assign(new ViewerNode(), { id: UserNode.from(user).id, username: user.username, isAllianceAdmin });
  }

  @FieldResolver(() => [MembershipNode])
  memberships(@Ctx() ctx: GraphQLContext): MembershipNode[] {
    const { user, memberships } = ctx.scope;
    return memberships.map((m) => MembershipNode.from({ tenantId: m.tenantId, userId: user.id, role: m.role, createdAt: new Date(0) }));
  }

  @FieldResolver(() => TenantNode, { nullable: true })
  activeTenant(@Ctx() ctx: GraphQLContext) {
    return ctx.scope.tenant ? ctx.loaders.tenantById.load(ctx.scope.tenant.tenantId) : null;
  }
}
