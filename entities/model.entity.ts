import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';
import type { Modality, Visibility } from './dataset.entity';
import { TenantGrant } from './tenant-grant';

/** A named model owned by one tenant; its ONNX files live in numbered, immutable versions. */
@Entity({ name: 'model' })
export class Model {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** The owning tenant. */
  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ type: 'text' })
  name: string;

  /** Free-form task name, e.g. 'ocr', 'voice-activity-detection', 'image-classification'. */
  @Column({ type: 'text' })
  task: string;

  @Column({ type: 'text' })
  modality: Modality;

  @Column({ type: 'text' })
  visibility: Visibility;

  @Column({ type: 'text', nullable: true })
  description: string | null;

  @Column({ type: 'text', nullable: true })
  license: string | null;

  /** The highest version number handed out so far. */
  @Column({ name: 'last_version', type: 'integer', default: 0 })
  lastVersion: number;

  @Column({ name: 'created_by', type: 'uuid', nullable: true })
  createdBy: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}

/** Read (and call) access to a SHARED model for one other tenant, optionally until a time. */
@Entity({ name: 'model_grant' })
export class ModelGrant extends TenantGrant {
  @Column({ name: 'model_id', type: 'uuid' })
  modelId: string;
}
