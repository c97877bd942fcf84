import { Column, CreateDateColumn, Entity, PrimaryGeneratedColumn } from 'typeorm';

/** DEPLOYING → READY (loaded and warmed) or FAILED (with a reason); STOPPED by its owner. */
export enum EndpointStatus {
  DEPLOYING = 'DEPLOYING',
  READY = 'READY',
  FAILED = 'FAILED',
  STOPPED = 'STOPPED',
}

/** A deployed model version with its batching and placement settings, owned by the deploying tenant. */
@Entity({ name: 'endpoint' })
export class Endpoint {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** The tenant that deployed it (not necessarily the model's owner). */
  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ type: 'text' })
  name: string;

  /** The model of the version (denormalised for row-level security: visible model ⇔ callable). */
  @Column({ name: 'model_id', type: 'uuid' })
  modelId: string;

  @Column({ name: 'model_version_id', type: 'uuid' })
  modelVersionId: string;

  @Column({ type: 'text' })
  status: EndpointStatus;

  @Column({ name: 'failure_reason', type: 'text', nullable: true })
  failureReason: string | null;

  /** Accelerator kind, a key of BILLING_WEIGHTS ('cpu', 'ascend-910b', 'h200', …). */
  @Column({ type: 'text', default: 'cpu' })
  accelerator: string;

  @Column({ name: 'min_replicas', type: 'integer', default: 1 })
  minReplicas: number;

  @Column({ name: 'max_replicas', type: 'integer', default: 1 })
  maxReplicas: number;

  @Column({ name: 'max_batch_size', type: 'integer', default: 8 })
  maxBatchSize: number;

  @Column({ name: 'max_queue_delay_ms', type: 'integer', default: 5 })
  maxQueueDelayMs: number;

  @Column({ name: 'created_by', type: 'uuid', nullable: true })
  createdBy: string | null;

  @CreateDateColumn({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt: Date;
}
