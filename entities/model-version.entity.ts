import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** One input or output of a model as ONNX Runtime reports it; -1 marks a dynamic dimension. */
export interface TensorSignatureEntry {
  name: string;
  type: string;
  shape: number[];
}

/**
 * Version n of a model: an ONNX file (a blob of the owner), the handler that serves it and the
 * signature recorded when it was registered. Immutable, except for the measured cost per item.
 */
@Entity({ name: 'model_version' })
export class ModelVersion {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'model_id', type: 'uuid' })
  modelId: string;

  /** The model's owner (denormalised for row-level security). */
  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ type: 'integer' })
  version: number;

  @Column({ name: 'blob_id', type: 'uuid' })
  blobId: string;

  /** Content address of the ONNX file in the blob store. */
  @Column({ type: 'text' })
  sha256: string;

  /** bigint: the driver returns it as a decimal string. */
  @Column({ name: 'size_bytes', type: 'bigint' })
  sizeBytes: string;

  @Column({ type: 'text' })
  handler: string;

  @Column({ type: 'jsonb', default: () => "'{}'::jsonb" })
  config: Record<string, unknown>;

  @Column({ type: 'jsonb' })
  inputs: TensorSignatureEntry[];

  @Column({ type: 'jsonb' })
  outputs: TensorSignatureEntry[];

  /**
   * Device seconds one item takes: measured on the warm-up run of the first deployment, then
   * followed (moving average) from real runs. Cost estimates of batch jobs multiply by it.
   */
  @Column({ name: 'per_item_device_seconds', type: 'double precision', nullable: true })
  perItemDeviceSeconds: number | null;

  @Column({ name: 'created_by', type: 'uuid', nullable: true })
  createdBy: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
