import DataLoader from 'dataloader';
import { In } from 'typeorm';
import { Endpoint } from '../../entities';
import type { RequestScope } from '../../tenants/request-scope';
import type { TenantDatabase } from '../../tenants/tenant-database';
import { byKeys } from '../tenants/tenants.loaders';
import { EndpointNode } from './endpoints.types';

export function createEndpointLoaders(db: TenantDatabase, scope: RequestScope) {
  return {
    /** Row-level security decides: own endpoints and those whose model the caller can see. */
    endpointById: new DataLoader<string, EndpointNode | null>(async (ids) => {
      const rows = await db.withTenant(scope, (em) => em.findBy(Endpoint, { id: In([...ids]) }));
      return byKeys(ids, rows.map(EndpointNode.from), (e) => e.uuid);
    }),
  };
}
