import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/**
 * One tenant's upload of some bytes. The bytes live once in the content-addressed blob store
 * (tenants/blob-store), keyed by sha256; this row records who stored them, so a tenant's stored
 * bytes can be counted and its blobs can be referenced by its own dataset items only.
 */
@Entity({ name: 'blob' })
export class Blob {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ type: 'text' })
  sha256: string;

  /** bigint: the driver returns it as a decimal string. */
  @Column({ type: 'bigint' })
  size: string;

  @Column({ name: 'content_type', type: 'text' })
  contentType: string;

  @Column({ name: 'uploaded_by', type: 'uuid', nullable: true })
  uploadedBy: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
