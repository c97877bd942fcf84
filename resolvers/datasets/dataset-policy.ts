// Who may change a dataset, in one place for every use case. Reads never come here: what a
// tenant may read is row-level security's job (migrations/1764489600000-create-datasets.ts),
// so "not visible" and "does not exist" are the same NOT_FOUND by construction. Writes need
// more than visibility — an ALLIANCE dataset is visible to all but writable by its owner only —
// and answer FORBIDDEN for a visible dataset of another tenant.
import type { EntityManager } from 'typeorm';
import { AppError } from '../../core/app-error';
import { Dataset, DatasetVersion } from '../../entities';
import type { RequestScope, TenantMembershipRef } from '../../tenants/request-scope';

export function ownedByActingTenant(scope: RequestScope, tenantId: string): boolean {
  return scope.tenant?.tenantId === tenantId;
}

/** The dataset, if visible and owned by the acting tenant. */
export async function datasetForWrite(
  em: EntityManager, tenant: TenantMembershipRef, id: string, globalId: string, action: string,
): Promise<Dataset> {
  const dataset = await em.findOneBy(Dataset, { id });
  if (!dataset) throw AppError.notFound('dataset', globalId);
  if (dataset.tenantId !== tenant.tenantId) {
    throw AppError.forbidden(`${action}: dataset "${dataset.name}" belongs to another tenant; only its owner can change it`);
  }
  return dataset;
}

/**
 * The version, if visible and owned by the acting tenant, locked FOR UPDATE so that publishing
 * and adding items to the same version run one after the other, never interleaved.
 */
export async function versionForWrite(
  em: EntityManager, tenant: TenantMembershipRef, id: string, globalId: string, action: string,
): Promise<DatasetVersion> {
  const visible = await em.findOneBy(DatasetVersion, { id });
  if (!visible) throw AppError.notFound('dataset version', globalId);
  if (visible.tenantId !== tenant.tenantId) {
    throw AppError.forbidden(`${action}: this dataset version belongs to another tenant; only its owner can change it`);
  }
  return em.createQueryBuilder(DatasetVersion, 'v').setLock('pessimistic_write').where('v.id = :id', { id }).getOneOrFail();
}
