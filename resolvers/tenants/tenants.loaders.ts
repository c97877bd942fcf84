import DataLoader from 'dataloader';
import { In } from 'typeorm';
import { Tenant, User } from '../../entities';
import type { RequestScope } from '../../tenants/request-scope';
import type { TenantDatabase } from '../../tenants/tenant-database';
import { TenantNode, UserNode } from './tenants.types';

/** Order results as the keys came; a key the caller may not see resolves to null. */
export function byKeys<K, V>(keys: readonly K[], rows: V[], keyOf: (row: V) => K): (V | null)[] {
  const map = new Map(rows.map((r) => [keyOf(r), r]));
  return keys.map((k) => map.get(k) ?? null);
}

export function createTenantLoaders(db: TenantDatabase, scope: RequestScope) {
  return {
    tenantById: new DataLoader<string, TenantNode | null>(async (ids) => {
      const rows = await db.withTenant(scope, (em) => em.find(Tenant, { where: { id: In([...ids]) } }));
      return byKeys(ids, rows.map(TenantNode.from), (t) => t.uuid);
    }),
    userById: new DataLoader<string, UserNode | null>(async (ids) => {
      const rows = await db.withTenant(scope, (em) => em.find(User, { where: { id: In([...ids]) } }));
      return byKeys(ids, rows.map(UserNode.from), (u) => u.uuid);
    }),
  };
}
