import { Column, Entity } from 'typeorm';
import { TenantGrant } from './tenant-grant';

/** Read access to a SHARED dataset for one other tenant, with a purpose and optional expiry. */
@Entity({ name: 'dataset_grant' })
export class DatasetGrant extends TenantGrant {
  @Column({ name: 'dataset_id', type: 'uuid' })
  datasetId: string;
}
