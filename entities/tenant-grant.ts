import { Column, CreateDateColumn, PrimaryGeneratedColumn } from 'typeorm';

/**
 * What every grant of a SHARED object to one other tenant holds (dataset_grant, model_grant):
 * the owner who granted it, the grantee, a purpose and an optional expiry. Each table adds the
 * column naming its object. Not an entity: TypeORM maps these columns into each subclass's table.
 */
export abstract class TenantGrant {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** The object's owner, who granted it. */
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
