// Datasets: create and list. What a tenant may list is decided by row-level security (own,
// ALLIANCE, SHARED with a live grant); this service adds the filters and the write rules.
import { AppError } from '../../core/app-error';
import { Dataset, TenantRole } from '../../entities';
import type { AuditLog } from '../../tenants/audit-log';
import { requireRole, requireTenant, type RequestScope } from '../../tenants/request-scope';
import type { TenantDatabase } from '../../tenants/tenant-database';
import { isoKey, paginate, type ConnectionShape } from '../common/connection';
import { CreateDatasetInput, DatasetNode, type DatasetsArgs } from './datasets.types';

// Printable text: no control characters (they break terminals, logs and the CLI's name lookup).
const CONTROL = /[\u0000-\u001f\u007f]/;

export class DatasetsService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly audit: AuditLog,
  ) {}

  list(scope: RequestScope, args: DatasetsArgs): Promise<ConnectionShape<DatasetNode>> {
    requireTenant(scope);
    const filter = args.filter ?? {};
    return paginate(
      (work) => this.db.withTenant(scope, work),
      (em) => {
        const qb = em.createQueryBuilder(Dataset, 'd');
        if (filter.owner) {
          qb.andWhere('d.tenant_id IN (SELECT id FROM tenant_directory(NULL, ARRAY[:owner]::text[]))', { owner: filter.owner.trim() });
        }
        if (filter.modality) qb.andWhere('d.modality = :modality', { modality: filter.modality });
        if (filter.visibility) qb.andWhere('d.visibility = :visibility', { visibility: filter.visibility });
        if (filter.search?.trim()) {
          // strpos, not LIKE: the user's % and _ are plain characters.
          qb.andWhere('(strpos(lower(d.name), lower(:search)) > 0 OR strpos(lower(coalesce(d.description, \'\')), lower(:search)) > 0)',
            { search: filter.search.trim() });
        }
        return qb;
      },
      args,
      { columns: ['d.created_at', 'd.id'], key: (d) => [isoKey(d.createdAt), d.id] },
      DatasetNode.from,
    );
  }

  async create(scope: RequestScope, input: CreateDatasetInput): Promise<DatasetNode> {
    const tenant = requireRole(scope, TenantRole.MEMBER, 'createDataset');
    const name = input.name.trim();
    const description = input.description?.trim() || null;
    const license = input.license?.trim() || null;
    if (name.length < 1 || name.length > 200 || CONTROL.test(name)) {
      throw AppError.badInput('name must be 1–200 printable characters');
    }
    if (description && description.length > 10_000) throw AppError.badInput('description must be at most 10000 characters');
    if (license && (license.length > 200 || CONTROL.test(license))) throw AppError.badInput('license must be at most 200 printable characters');
    return this.db.withTenant(scope, async (em) => {
      // ON CONFLICT instead of a prior SELECT: two concurrent creates of one name get one
      // dataset and one clear CONFLICT, never a raw unique violation.
      const inserted: { id: string }[] = await em.query(
        `INSERT INTO dataset (tenant_id, name, description, modality, license, visibility, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, name) DO NOTHING RETURNING id`,
        [tenant.tenantId, name, description, input.modality, license, input.visibility, scope.user.id],
      );
      if (!inserted[0]) throw AppError.conflict(`${tenant.slug} already has a dataset named "${name}"`);
      const dataset = await em.findOneByOrFail(Dataset, { id: inserted[0].id });
      await this.audit.record(em, scope, tenant.tenantId, 'dataset.create', { type: 'Dataset', id: dataset.id },
        { name, modality: input.modality, visibility: input.visibility });
      return DatasetNode.from(dataset);
    });
  }
}
