import { Column, Entity, PrimaryColumn, PrimaryGeneratedColumn } from 'typeorm';
import { bigintAsNumber } from './column-transformers';

export enum LedgerKind {
  GRANT = 'GRANT',
  ADJUST = 'ADJUST',
  RESERVE = 'RESERVE',
  CAPTURE = 'CAPTURE',
  RELEASE = 'RELEASE',
}


@Entity({ name: 'quota_policy' })
export class QuotaPolicy {
  @PrimaryColumn({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ name: 'budget_milli', type: 'bigint', transformer: bigintAsNumber })
  budgetMilli: number;

  @Column({ name: 'guaranteed_devices', type: 'integer' })
  guaranteedDevices: number;

  @Column({ name: 'borrow_limit_devices', type: 'integer' })
  borrowLimitDevices: number;

  @Column({ type: 'double precision', default: 1 })
  weight: number;

  @Column({ name: 'updated_at', type: 'timestamptz', default: () => 'now()' })
  updatedAt: Date;
}

@Entity({ name: 'ledger_entry' })
export class LedgerEntry {
  @PrimaryGeneratedColumn('uuid')
  id: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ type: 'text' })
  period: string;

  @Column({ type: 'enum', enum: LedgerKind, enumName: 'ledger_kind' })
  kind: LedgerKind;

  @Column({ name: 'units_milli', type: 'bigint', transformer: bigintAsNumber })
  unitsMilli: number;

  @Column({ name: 'job_id', type: 'uuid', nullable: true })
  jobId: string | null;

  /** The synchronous-inference hold it belongs to (RESERVE, CAPTURE from it, RELEASE). */
  @Column({ name: 'hold_id', type: 'uuid', nullable: true })
  holdId: string | null;

  @Column({ name: 'entry_key', type: 'text', unique: true })
  entryKey: string;

  @Column({ type: 'text', nullable: true })
  memo: string | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}

@Entity({ name: 'quota_balance' })
export class QuotaBalance {
  @PrimaryColumn({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @PrimaryColumn({ type: 'text' })
  period: string;

  @Column({ name: 'granted_milli', type: 'bigint', transformer: bigintAsNumber })
  grantedMilli: number;

  @Column({ name: 'reserved_milli', type: 'bigint', transformer: bigintAsNumber })
  reservedMilli: number;

  @Column({ name: 'used_milli', type: 'bigint', transformer: bigintAsNumber })
  usedMilli: number;
}

/** A process's prepaid hold of a tenant's budget for synchronous inference (tenants/quota-holds.ts). */
@Entity({ name: 'quota_hold' })
export class QuotaHold {
  @PrimaryColumn({ type: 'uuid' })
  id: string;

  @Column({ name: 'tenant_id', type: 'uuid' })
  tenantId: string;

  @Column({ type: 'text' })
  period: string;

  @Column({ type: 'text' })
  holder: string;

  @Column({ name: 'held_milli', type: 'bigint', transformer: bigintAsNumber })
  heldMilli: number;

  @Column({ name: 'settled_seq', type: 'integer' })
  settledSeq: number;

  @Column({ name: 'expires_at', type: 'timestamptz' })
  expiresAt: Date;

  @Column({ name: 'closed_at', type: 'timestamptz', nullable: true })
  closedAt: Date | null;

  @Column({ name: 'created_at', type: 'timestamptz' })
  createdAt: Date;
}
