// The tenant directory: id, slug, name and creation time of any tenant, for any signed-in user
// (SQL function tenant_directory(), SECURITY DEFINER). It lets a dataset show its owner, a grant
// its grantee and a request its requester when those are other tenants — which the tenant
// policy itself hides. Nothing else about a foreign tenant is reachable through it: its
// `members` still answer NOT_FOUND (TenantsService.members), and node(id:) on a foreign Tenant
// still goes through the strict tenantById loader.
import DataLoader from 'dataloader';
import type { EntityManager } from 'typeorm';
import type { Tenant } from '../../entities';
import type { RequestScope } from '../../tenants/request-scope';
import type { TenantDatabase } from '../../tenants/tenant-database';
import { byKeys } from '../tenants/tenants.loaders';
import { TenantNode } from '../tenants/tenants.types';

interface DirectoryRow {
  id: string;
  slug: string;
  name: string;
  created_at: Date;
}

function toTenant(r: DirectoryRow): Tenant {
  return { id: r.id, slug: r.slug, name: r.name, createdAt: r.created_at };
}

export async function tenantBySlug(em: EntityManager, slug: string): Promise<Tenant | null> {
  const rows: DirectoryRow[] = await em.query('SELECT * FROM tenant_directory(NULL, ARRAY[$1]::text[])', [slug]);
  return rows[0] ? toTenant(rows[0]) : null;
}

export function createTenantDirectoryLoader(db: TenantDatabase, scope: RequestScope) {
  return new DataLoader<string, TenantNode | null>(async (ids) => {
    const rows: DirectoryRow[] = await db.withTenant(scope, (em) =>
      em.query('SELECT * FROM tenant_directory($1::uuid[], NULL)', [ids]));
    return byKeys(ids, rows.map((r) => TenantNode.from(toTenant(r))), (t) => t.uuid);
  });
}
