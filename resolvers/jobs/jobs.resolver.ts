import { Arg, Args, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, Subscription } from 'type-graphql';
import { AppError } from '../../core/app-error';
import { PageArgs } from '../common/connection';
import type { GraphQLContext } from '../context';
import { DatasetVersionNode } from '../datasets/datasets.types';
import { EndpointNode } from '../endpoints/endpoints.types';
import { QuotaNode } from '../quota/quota.types';
import { TenantNode, UserNode } from '../tenants/tenants.types';
import { JobsService } from './jobs.service';
import { JobConnection, JobEventNode, JobFilter, JobNode, JobResultConnection, SubmitJobInput, SubmitJobPayloadNode } from './jobs.types';

interface SubscribeData {
  args: Record<string, any>;
  context: GraphQLContext;
}

@Resolver(() => JobNode)
export class JobsResolver {
  constructor(private readonly service: JobsService) {}

  @Query(() => JobConnection)
  jobs(@Args() args: PageArgs, @Arg('filter', () => JobFilter, { nullable: true }) filter: JobFilter | undefined, @Ctx() ctx: GraphQLContext) {
    return this.service.list(ctx.scope, args, filter);
  }

  @Mutation(() => SubmitJobPayloadNode, { description: 'Batch inference over a dataset version or inline inputs. dryRun returns the estimate only.' })
  submitJob(@Arg('input') input: SubmitJobInput, @Ctx() ctx: GraphQLContext) {
    return this.service.submit(ctx.scope, input);
  }

  @Mutation(() => JobNode)
  cancelJob(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return this.service.cancel(ctx.scope, id);
  }

  @FieldResolver(() => TenantNode)
  async tenant(@Root() job: JobNode, @Ctx() ctx: GraphQLContext) {
    return (await ctx.loaders.tenantById.load(job.tenantId)) ?? Promise.reject(AppError.notFound('tenant'));
  }

  @FieldResolver(() => UserNode)
  async submittedBy(@Root() job: JobNode, @Ctx() ctx: GraphQLContext) {
    const user = job.submittedBy ? await ctx.loaders.userById.load(job.submittedBy) : null;
    return user ?? UserNode.from({ id: '00000000-0000-0000-0000-000000000000', username: '(deleted user)' });
  }

  @FieldResolver(() => EndpointNode)
  async endpoint(@Root() job: JobNode, @Ctx() ctx: GraphQLContext) {
    return (await ctx.loaders.endpointById.load(job.endpointId)) ?? Promise.reject(AppError.notFound('endpoint'));
  }

  @FieldResolver(() => DatasetVersionNode, { nullable: true, description: 'The dataset version that fed the job; null for inline inputs, or once its dataset is no longer readable.' })
  datasetVersion(@Root() job: JobNode, @Ctx() ctx: GraphQLContext) {
    return job.datasetVersionId ? ctx.loaders.datasetVersionById.load(job.datasetVersionId) : null;
  }

  @FieldResolver(() => JobResultConnection)
  results(@Root() job: JobNode, @Args() args: PageArgs, @Ctx() ctx: GraphQLContext) {
    return this.service.results(ctx.scope, job.uuid, args);
  }
}

@Resolver()
export class JobSubscriptionsResolver {
  @Subscription(() => JobEventNode, {
    description: 'Events of one job, replaying those after afterSeq first: no gaps, no duplicates.',
    subscribe: ({ args, context }: SubscribeData) => context.streams.jobEvents.jobEvents(context.scope, args.jobId, args.afterSeq ?? undefined),
  })
  jobEvents(@Root() event: JobEventNode, @Arg('jobId', () => ID) _jobId: string, @Arg('afterSeq', () => Int, { nullable: true }) _afterSeq?: number): JobEventNode {
    return event;
  }

  @Subscription(() => JobEventNode, {
    description: 'Events of every job of the acting tenant.',
    subscribe: ({ context }: SubscribeData) => context.streams.jobEvents.tenantJobEvents(context.scope),
  })
  tenantJobEvents(@Root() event: JobEventNode): JobEventNode {
    return event;
  }

  @Subscription(() => QuotaNode, {
    subscribe: ({ context }: SubscribeData) => context.streams.quota.subscribe(context.scope),
  })
  quotaChanged(@Root() quota: QuotaNode): QuotaNode {
    return quota;
  }
}
