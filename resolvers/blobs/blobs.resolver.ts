import { Ctx, FieldResolver, Float, Resolver, Root } from 'type-graphql';
import { AppError } from '../../core/app-error';
import type { GraphQLContext } from '../context';
import { TenantNode } from '../tenants/tenants.types';

/** Adds the tenant's blob storage to `Tenant` (the quota feature charges for it). */
@Resolver(() => TenantNode)
export class TenantStorageResolver {
  @FieldResolver(() => Float, { description: 'Bytes of blobs this tenant stores (each distinct content once). Members and alliance admins only.' })
  async storedBlobBytes(@Root() tenant: TenantNode, @Ctx() ctx: GraphQLContext): Promise<number> {
    return (await ctx.loaders.storedBlobBytesByTenant.load(tenant.uuid)) ?? Promise.reject(AppError.notFound('storage of tenant'));
  }
}
