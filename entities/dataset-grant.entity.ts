import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** Read access to a SHARED dataset for one other tenant, with a purpose and optional expiry. */
@Entity({ name: 'dataset_grant' })
export class DatasetGrant {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'dataset_id', type: 'uuid' })
  datasetId: string;

  /** The dataset's owner, who granted it. */
  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ name: 'grantee_tenant_id', type: 'uuid' })
  granteeTenantId: string;

  @Column({ type: 'text', nullable: true })
  purpose: string | null;

  /** NULL: until revoked. Compared with now() in every visibility check. */
  @Column({ name: 'expires_at', type: 'timestamptz', nullable: true })
  expiresAt: Date | null;

  @Column({ name: 'created_by', type: 'uuid', nullable: true })
  createdBy: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
