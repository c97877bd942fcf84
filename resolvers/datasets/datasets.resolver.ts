import { Arg, Args, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import { AppError } from '../../core/app-error';
import type { ConnectionShape } from '../common/connection';
import { PageArgs } from '../common/connection';
import type { GraphQLContext } from '../context';
import { BlobNode } from '../blobs/blobs.types';
import { TenantNode, UserNode } from '../tenants/tenants.types';
import { ownedByActingTenant } from './dataset-policy';
import { DatasetVersionsService } from './dataset-versions.service';
import { DatasetsService } from './datasets.service';
import {
  AuditEventConnection, AuditEventNode, CreateDatasetInput, CreateDatasetVersionInput, DatasetConnection, DatasetGrantNode,
  DatasetItemConnection, DatasetItemInput, DatasetItemNode, DatasetNode, DatasetsArgs, DatasetVersionConnection,
  DatasetVersionNode,
} from './datasets.types';
import { emptyPage } from './partitioned-pages';

@Resolver(() => DatasetNode)
export class DatasetsResolver {
  constructor(private readonly service: DatasetsService) {}

  @Query(() => DatasetConnection, {
    description: 'Every dataset the acting tenant may read: its own, ALLIANCE ones, and SHARED ones it holds a live grant for.',
  })
  datasets(@Args() args: DatasetsArgs, @Ctx() ctx: GraphQLContext) {
    return this.service.list(ctx.scope, args);
  }

  @Mutation(() => DatasetNode)
  createDataset(@Arg('input') input: CreateDatasetInput, @Ctx() ctx: GraphQLContext) {
    return this.service.create(ctx.scope, input);
  }

  @FieldResolver(() => TenantNode)
  async owner(@Root() dataset: DatasetNode, @Ctx() ctx: GraphQLContext) {
    return (await ctx.loaders.tenantDirectoryById.load(dataset.tenantId)) ?? Promise.reject(AppError.notFound('tenant'));
  }

  @FieldResolver(() => DatasetVersionConnection, { description: 'Published versions; the owner also sees drafts.' })
  async versions(@Root() dataset: DatasetNode, @Args() args: PageArgs, @Ctx() ctx: GraphQLContext): Promise<ConnectionShape<DatasetVersionNode>> {
    const page = await ctx.loaders.versionPagesByDataset.load({ parentId: dataset.uuid, ...args });
    return { ...page, count: () => ctx.loaders.versionCountByDataset.load(dataset.uuid) };
  }

  @FieldResolver(() => DatasetVersionNode, { nullable: true, description: 'The newest published version; for the owner, the newest draft or published one.' })
  latestVersion(@Root() dataset: DatasetNode, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.latestVersionByDataset.load(dataset.uuid);
  }

  @FieldResolver(() => [DatasetGrantNode], { description: 'The owner\'s view only; any other tenant sees an empty list.' })
  grants(@Root() dataset: DatasetNode, @Ctx() ctx: GraphQLContext) {
    return ctx.loaders.grantsByDataset.load({ datasetId: dataset.uuid, ownerTenantId: dataset.tenantId });
  }

  @FieldResolver(() => AuditEventConnection, {
    description: 'Who created, published, shared, requested and decided what about this dataset, oldest first. The owner\'s view only; others see an empty connection.',
  })
  async auditEvents(@Root() dataset: DatasetNode, @Args() args: PageArgs, @Ctx() ctx: GraphQLContext): Promise<ConnectionShape<AuditEventNode>> {
    if (!ownedByActingTenant(ctx.scope, dataset.tenantId)) return emptyPage();
    const page = await ctx.loaders.auditEventPagesByDataset.load({ parentId: dataset.uuid, ...args });
    return { ...page, count: () => ctx.loaders.auditEventCountByDataset.load(dataset.uuid) };
  }
}

@Resolver(() => DatasetVersionNode)
export class DatasetVersionsResolver {
  constructor(private readonly service: DatasetVersionsService) {}

  @Mutation(() => DatasetVersionNode, { description: 'A new draft version (numbered 1, 2, …) holding the items, inserted in bulk.' })
  createDatasetVersion(@Arg('input') input: CreateDatasetVersionInput, @Ctx() ctx: GraphQLContext) {
    return this.service.create(ctx.scope, input);
  }

  @Mutation(() => DatasetVersionNode, { description: 'Appends items to a draft version; a published version answers CONFLICT.' })
  addDatasetItems(
    @Arg('versionId', () => ID) versionId: string,
    @Arg('items', () => [DatasetItemInput]) items: DatasetItemInput[],
    @Ctx() ctx: GraphQLContext,
  ) {
    return this.service.addItems(ctx.scope, versionId, items);
  }

  @Mutation(() => DatasetVersionNode, { description: 'Freezes the version; a second publish answers CONFLICT.' })
  publishDatasetVersion(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext) {
    return this.service.publish(ctx.scope, id);
  }

  @FieldResolver(() => DatasetNode)
  async dataset(@Root() version: DatasetVersionNode, @Ctx() ctx: GraphQLContext) {
    return (await ctx.loaders.datasetById.load(version.datasetId)) ?? Promise.reject(AppError.notFound('dataset'));
  }

  @FieldResolver(() => DatasetItemConnection)
  async items(@Root() version: DatasetVersionNode, @Args() args: PageArgs, @Ctx() ctx: GraphQLContext): Promise<ConnectionShape<DatasetItemNode>> {
    const page = await ctx.loaders.datasetItemPagesByVersion.load({ parentId: version.uuid, ...args });
    return { ...page, count: async () => version.itemCount };
  }
}

@Resolver(() => DatasetItemNode)
export class DatasetItemsResolver {
  @FieldResolver(() => BlobNode, { nullable: true })
  blob(@Root() item: DatasetItemNode, @Ctx() ctx: GraphQLContext) {
    return item.blobId ? ctx.loaders.blobById.load(item.blobId) : null;
  }
}

@Resolver(() => AuditEventNode)
export class AuditEventsResolver {
  @FieldResolver(() => UserNode, { nullable: true, description: 'Null when the user was deleted or the action was the system\'s.' })
  actor(@Root() event: AuditEventNode, @Ctx() ctx: GraphQLContext) {
    return event.actorUserId ? ctx.loaders.userById.load(event.actorUserId) : null;
  }

  @FieldResolver(() => TenantNode, { description: 'The tenant the actor acted for.' })
  async tenant(@Root() event: AuditEventNode, @Ctx() ctx: GraphQLContext) {
    return (await ctx.loaders.tenantDirectoryById.load(event.tenantId)) ?? Promise.reject(AppError.notFound('tenant'));
  }
}
