import { Column, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import { bigintAsNumber } from './column-transformers';

export enum JobStatus {
  PENDING = 'PENDING',
  QUEUED = 'QUEUED',
  RUNNING = 'RUNNING',
  SUCCEEDED = 'SUCCEEDED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}

export enum ShardStatus {
  PENDING = 'PENDING',
  DISPATCHED = 'DISPATCHED',
  RUNNING = 'RUNNING',
  DONE = 'DONE',
  CANCELLED = 'CANCELLED',
}

export const FINISHED_JOB_STATUSES = [JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED];


@Entity({ name: 'device' })
export class Device {
  @PrimaryColumn({ type: 'uuid' })
  id: string;

  @Column({ type: 'text' })
  node: string;

  @Column({ type: 'text' })
  kind: string;

  @Column({ type: 'integer' })
  slot: number;

  @Column({ name: 'registered_at', type: 'timestamptz' })
  registeredAt: Date;

  @Column({ name: 'last_heartbeat_at', type: 'timestamptz' })
  lastHeartbeatAt: Date;
}

@Entity({ name: 'job' })
export class Job {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ name: 'submitted_by', type: 'uuid', nullable: true })
  submittedBy: string | null;

  @Column({ name: 'endpoint_id', type: 'uuid' })
  endpointId: string;

  @Column({ name: 'dataset_version_id', type: 'uuid', nullable: true })
  datasetVersionId: string | null;

  @Column({ type: 'text' })
  accelerator: string;

  @Column({ type: 'enum', enum: JobStatus, enumName: 'job_status' })
  status: JobStatus;

  @Column({ type: 'integer' })
  priority: number;

  @Column({ name: 'pending_reason', type: 'text', nullable: true })
  pendingReason: string | null;

  @Column({ name: 'total_items', type: 'integer' })
  totalItems: number;

  @Column({ name: 'done_items', type: 'integer' })
  doneItems: number;

  @Column({ name: 'failed_items', type: 'integer' })
  failedItems: number;

  @Column({ name: 'estimate_device_seconds', type: 'double precision' })
  estimateDeviceSeconds: number;

  @Column({ name: 'estimate_milli', type: 'bigint', transformer: bigintAsNumber })
  estimateMilli: number;

  @Column({ name: 'reserved_milli', type: 'bigint', transformer: bigintAsNumber })
  reservedMilli: number;

  @Column({ name: 'charged_milli', type: 'bigint', transformer: bigintAsNumber })
  chargedMilli: number;

  @Column({ type: 'text' })
  period: string;

  @Column({ type: 'integer' })
  attempts: number;

  @Column({ type: 'text', nullable: true })
  error: string | null;

  @Column({ name: 'idempotency_key', type: 'text', nullable: true })
  idempotencyKey: string | null;

  @Column({ name: 'input_hash', type: 'text' })
  inputHash: string;

  @Column({ type: 'jsonb', nullable: true })
  inputs: unknown[] | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;

  @Column({ name: 'started_at', type: 'timestamptz', nullable: true })
  startedAt: Date | null;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt: Date | null;
}

@Entity({ name: 'job_shard' })
export class JobShard {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'job_id', type: 'uuid' })
  jobId: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ name: 'shard_index', type: 'integer' })
  shardIndex: number;

  @Column({ name: 'item_from', type: 'integer' })
  itemFrom: number;

  @Column({ name: 'item_to', type: 'integer' })
  itemTo: number;

  @Column({ type: 'enum', enum: ShardStatus, enumName: 'shard_status' })
  status: ShardStatus;

  @Column({ type: 'integer' })
  attempt: number;

  @Column({ name: 'device_id', type: 'uuid', nullable: true })
  deviceId: string | null;

  @Column({ type: 'text', nullable: true })
  node: string | null;

  @Column({ name: 'lease_expires_at', type: 'timestamptz', nullable: true })
  leaseExpiresAt: Date | null;

  @Column({ name: 'device_seconds', type: 'double precision', nullable: true })
  deviceSeconds: number | null;

  @Column({ name: 'charged_milli', type: 'bigint', nullable: true, transformer: bigintAsNumber })
  chargedMilli: number | null;

  @Column({ name: 'dispatched_at', type: 'timestamptz', nullable: true })
  dispatchedAt: Date | null;

  @Column({ name: 'finished_at', type: 'timestamptz', nullable: true })
  finishedAt: Date | null;
}

@Entity({ name: 'job_result' })
export class JobResult {
  @PrimaryColumn({ name: 'job_id', type: 'uuid' })
  jobId: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @PrimaryColumn({ name: 'item_index', type: 'integer' })
  itemIndex: number;

  @Column({ name: 'item_id', type: 'uuid', nullable: true })
  itemId: string | null;

  @Column({ type: 'jsonb', nullable: true })
  output: unknown;

  @Column({ type: 'text', nullable: true })
  error: string | null;
}

@Entity({ name: 'job_event' })
export class JobEvent {
  @PrimaryColumn({ name: 'job_id', type: 'uuid' })
  jobId: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @PrimaryColumn({ type: 'integer' })
  seq: number;

  @Column({ type: 'text' })
  type: string;

  @Column({ type: 'enum', enum: JobStatus, enumName: 'job_status' })
  status: JobStatus;

  @Column({ type: 'integer' })
  total: number;

  @Column({ type: 'integer' })
  done: number;

  @Column({ type: 'integer' })
  failed: number;

  @Column({ type: 'text', nullable: true })
  message: string | null;

  @Column({ type: 'timestamptz' })
  at: Date;
}

@Entity({ name: 'fair_share_usage' })
export class FairShareUsage {
  @PrimaryColumn({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ name: 'decayed_slot_seconds', type: 'double precision' })
  decayedSlotSeconds: number;

  @Column({ name: 'updated_at', type: 'timestamptz' })
  updatedAt: Date;
}
