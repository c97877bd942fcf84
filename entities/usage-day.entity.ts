import { Column, Entity, PrimaryColumn } from 'typeorm';
import { bigintAsNumber } from './column-transformers';


/**
 * Usage of closed days, rolled up (migrations/1764921600000-create-usage-indexes.ts): one row per
 * tenant, UTC day and job — or per day, endpoint and user for synchronous inference — already
 * attributed to model, dataset and their owners. Written and read by SQL functions only.
 */
@Entity({ name: 'usage_day' })
export class UsageDay {
  @PrimaryColumn({ type: 'bigint', transformer: bigintAsNumber })
  id: number;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ type: 'date' })
  day: string;

  @Column({ name: 'job_id', type: 'uuid', nullable: true })
  jobId: string | null;

  @Column({ name: 'endpoint_id', type: 'uuid', nullable: true })
  endpointId: string | null;

  @Column({ name: 'model_id', type: 'uuid', nullable: true })
  modelId: string | null;

  @Column({ name: 'model_owner_id', type: 'uuid', nullable: true })
  modelOwnerId: string | null;

  @Column({ name: 'user_id', type: 'uuid', nullable: true })
  userId: string | null;

  @Column({ name: 'dataset_id', type: 'uuid', nullable: true })
  datasetId: string | null;

  @Column({ name: 'dataset_owner_id', type: 'uuid', nullable: true })
  datasetOwnerId: string | null;

  @Column({ name: 'units_milli', type: 'bigint', transformer: bigintAsNumber })
  unitsMilli: number;

  @Column({ name: 'device_seconds', type: 'double precision' })
  deviceSeconds: number;

  @Column({ type: 'bigint', transformer: bigintAsNumber })
  items: number;

  @Column({ type: 'bigint', transformer: bigintAsNumber })
  requests: number;
}

/** How far the roll-up has come: every day before `rolledUntil` is in usage_day. One row. */
@Entity({ name: 'usage_rollup' })
export class UsageRollup {
  @PrimaryColumn({ type: 'boolean', default: true })
  id: boolean;

  @Column({ name: 'rolled_until', type: 'date', nullable: true })
  rolledUntil: string | null;
}
