import { Column, Entity, PrimaryGeneratedColumn } from 'typeorm';
import { bigintAsNumber } from './column-transformers';


/**
 * Synchronous inference usage, aggregated: one row per calling tenant, endpoint, user and
 * minute, incremented by every request (never one row per request). The money itself is in the
 * ledger; these rows say who used which model how much, for `usage` and `usageOfMyAssets`.
 */
@Entity({ name: 'usage_record' })
export class UsageRecord {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  /** The calling tenant, which was charged. */
  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ name: 'user_id', type: 'uuid', nullable: true })
  userId: string | null;

  @Column({ name: 'endpoint_id', type: 'uuid' })
  endpointId: string;

  @Column({ name: 'model_id', type: 'uuid' })
  modelId: string;

  /** The model's owner, who may count this row (usageOfMyAssets). */
  @Column({ name: 'owner_tenant_id', type: 'uuid' })
  ownerTenantId: string;

  /** Start of the minute (UTC) this row aggregates. */
  @Column({ name: 'bucket_start', type: 'timestamptz' })
  bucketStart: Date;

  @Column({ type: 'integer', default: 0 })
  requests: number;

  @Column({ type: 'integer', default: 0 })
  items: number;

  /** Measured model execution time, milliseconds (fractional). */
  @Column({ name: 'device_ms', type: 'double precision', default: 0 })
  deviceMs: number;

  /** Compute units charged, in milli-units (as the ledger). */
  @Column({ name: 'units_milli', type: 'bigint', default: 0, transformer: bigintAsNumber })
  unitsMilli: number;
}
