import { Arg, Args, Ctx, FieldResolver, Mutation, Query, Resolver, Root } from 'type-graphql';
import { AppError } from '../../core/app-error';
import { PageArgs } from '../common/connection';
import type { GraphQLContext } from '../context';
import { TenantNode } from '../tenants/tenants.types';
import { QuotaService } from './quota.service';
import { LedgerEntryConnection, LedgerEntryNode, QuotaNode, SetQuotaInput } from './quota.types';
import { JobNode } from '../jobs/jobs.types';

@Resolver(() => QuotaNode)
export class QuotaResolver {
  constructor(private readonly service: QuotaService) {}

  @Query(() => QuotaNode, { description: "The acting tenant's quota for the current period." })
  quota(@Ctx() ctx: GraphQLContext) {
    return this.service.current(ctx.scope);
  }

  @Mutation(() => QuotaNode, { description: 'Alliance admins only.' })
  setQuota(@Arg('input') input: SetQuotaInput, @Ctx() ctx: GraphQLContext) {
    return this.service.set(ctx.scope, input);
  }

  @Query(() => LedgerEntryConnection)
  ledger(@Args() args: PageArgs, @Ctx() ctx: GraphQLContext) {
    return this.service.ledgerEntries(ctx.scope, args);
  }

  @FieldResolver(() => TenantNode)
  async tenant(@Root() quota: QuotaNode, @Ctx() ctx: GraphQLContext) {
    return (await ctx.loaders.tenantById.load(quota.tenantId)) ?? Promise.reject(AppError.notFound('tenant'));
  }
}

@Resolver(() => LedgerEntryNode)
export class LedgerEntryResolver {
  @FieldResolver(() => JobNode, { nullable: true })
  job(@Root() entry: LedgerEntryNode, @Ctx() ctx: GraphQLContext) {
    return entry.jobId ? ctx.loaders.jobById.load(entry.jobId) : null;
  }
}
