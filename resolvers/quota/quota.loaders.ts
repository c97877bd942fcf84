import DataLoader from 'dataloader';
import { In } from 'typeorm';
import { LedgerEntry } from '../../entities';
import type { RequestScope } from '../../tenants/request-scope';
import type { TenantDatabase } from '../../tenants/tenant-database';
import { byKeys } from '../tenants/tenants.loaders';
import { ledgerNode } from './quota.service';
import type { LedgerEntryNode } from './quota.types';

export function createQuotaLoaders(db: TenantDatabase, scope: RequestScope) {
  return {
    ledgerEntryById: new DataLoader<string, LedgerEntryNode | null>(async (ids) => {
      const rows = await db.withTenant(scope, (em) => em.find(LedgerEntry, { where: { id: In([...ids]) } }));
      const nodes = byKeys(ids, rows, (r) => r.id);
      return nodes.map((r) => (r ? ledgerNode(r) : null));
    }),
  };
}
