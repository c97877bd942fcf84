import DataLoader from 'dataloader';
import { In } from 'typeorm';
import { Job } from '../../entities';
import type { RequestScope } from '../../tenants/request-scope';
import type { TenantDatabase } from '../../tenants/tenant-database';
import { byKeys } from '../tenants/tenants.loaders';
import { JobNode } from './jobs.types';

export function createJobLoaders(db: TenantDatabase, scope: RequestScope) {
  return {
    jobById: new DataLoader<string, JobNode | null>(async (ids) => {
      const rows = await db.withTenant(scope, (em) => em.find(Job, { where: { id: In([...ids]) } }));
      return byKeys(ids, rows, (r) => r.id).map((r) => (r ? JobNode.from(r) : null));
    }),
  };
}
