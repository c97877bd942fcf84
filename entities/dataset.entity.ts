import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** What a dataset (and, later, a model) contains. Shared with the model registry. */
export enum Modality {
  TEXT = 'TEXT',
  IMAGE = 'IMAGE',
  AUDIO = 'AUDIO',
  VIDEO = 'VIDEO',
  MULTIMODAL = 'MULTIMODAL',
  TENSOR = 'TENSOR',
}

/** Who may read an asset: the owner only, the owner and grantees, or every member. */
export enum Visibility {
  PRIVATE = 'PRIVATE',
  SHARED = 'SHARED',
  ALLIANCE = 'ALLIANCE',
}

/** A named collection of data owned by one tenant; its content lives in numbered versions. */
@Entity({ name: 'dataset' })
export class Dataset {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** The owning tenant. */
  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ type: 'text' })
  name: string;

  @Column({ type: 'text', nullable: true })
  description: string | null;

  @Column({ type: 'text' })
  modality: Modality;

  @Column({ type: 'text', nullable: true })
  license: string | null;

  @Column({ type: 'text' })
  visibility: Visibility;

  /** The highest version number handed out so far. */
  @Column({ name: 'last_version', type: 'integer', default: 0 })
  lastVersion: number;

  @Column({ name: 'created_by', type: 'uuid', nullable: true })
  createdBy: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
