import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** One record of a dataset version: a text, a blob, or both, with free-form metadata. */
@Entity({ name: 'dataset_item' })
export class DatasetItem {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'version_id', type: 'uuid' })
  versionId: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  /** 0-based position in the version. */
  @Column({ type: 'integer' })
  ordinal: number;

  @Column({ type: 'text', nullable: true })
  text: string | null;

  @Column({ name: 'blob_id', type: 'uuid', nullable: true })
  blobId: string | null;

  @Column({ type: 'jsonb', nullable: true })
  metadata: unknown;
}
