import DataLoader from 'dataloader';
import { In } from 'typeorm';
import { Blob } from '../../entities';
import type { RequestScope } from '../../tenants/request-scope';
import type { TenantDatabase } from '../../tenants/tenant-database';
import { byKeys } from '../tenants/tenants.loaders';
import { BlobNode } from './blobs.types';

export function createBlobLoaders(db: TenantDatabase, scope: RequestScope) {
  return {
    /** Row-level security decides: the uploader's blobs and those of readable dataset items. */
    blobById: new DataLoader<string, BlobNode | null>(async (ids) => {
      const rows = await db.withTenant(scope, (em) => em.findBy(Blob, { id: In([...ids]) }));
      return byKeys(ids, rows.map(BlobNode.from), (b) => b.uuid);
    }),
    /**
     * Bytes each tenant stores (each distinct content once), for its members and alliance
     * admins; null for any other tenant (tenant_blob_bytes() omits those rows too).
     */
    storedBlobBytesByTenant: new DataLoader<string, number | null>(async (tenantIds) => {
      const rows: { tenant_id: string; bytes: string }[] = await db.withTenant(scope, (em) =>
        em.query('SELECT tenant_id, bytes FROM tenant_blob_bytes($1::uuid[])', [tenantIds]));
      const mine = new Set(scope.memberships.map((m) => m.tenantId));
      const bytes = new Map(rows.map((r) => [r.tenant_id, Number(r.bytes)]));
      return tenantIds.map((id) => (scope.isAllianceAdmin || mine.has(id) ? bytes.get(id) ?? 0 : null));
    }),
  };
}
