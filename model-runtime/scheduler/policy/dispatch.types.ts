/**
 * The scheduler's decision core: a pure function from a snapshot of the cluster to a plan.
 * No clock, no database, no I/O — the caller reads the snapshot inside its transaction and
 * applies the plan.
 *
 * Glossary
 * - slot: one schedulable device (an NPU, a GPU, a CPU slot). A shard runs on exactly one slot.
 * - kind: the accelerator kind of a slot ('cpu', 'ascend-910b', 'h200'). Kinds never substitute
 *   for one another (Kueue ResourceFlavors without fungibility).
 * - shard: the unit of scheduling, seconds long. Its end — the shard boundary — is the only
 *   moment a slot changes hands: nothing is killed mid-shard.
 * - in use: the slots a tenant runs now plus those granted to it earlier in the same pass.
 * - guarantee (`guaranteedDevices`, Kueue nominalQuota): devices a tenant gets before anyone
 *   borrows, whenever it has work. Counted over all kinds together: the alliance sells a device
 *   budget, and the billing weight per kind (Slurm TRESBillingWeights) lives in the ledger, not
 *   here. Run one snapshot per kind if per-kind guarantees are ever needed.
 * - borrow limit (`borrowLimitDevices`, Kueue borrowingLimit): how many devices beyond its
 *   guarantee a tenant may take while they are idle.
 * - weight (Slurm fair-share shares, Kueue fairSharing.weight): a tenant's entitlement relative to
 *   others when borrowing; > 0.
 * - decayed usage (Slurm PriorityDecayHalfLife): device-seconds used, halved every half-life, and
 *   including what running shards have accrued so far (Slurm accrues running jobs every
 *   PriorityCalcPeriod) — see usage-decay.ts.
 * - weighted usage: decayed usage / weight. Among borrowers, lowest goes first.
 * - reclaim (Kueue reclaimWithinCohort): a tenant below its guarantee takes back slots lent to
 *   borrowers — cooperatively, at the borrowers' next shard boundary.
 */

export type DeviceKind = string;

export interface RunningShard {
  tenantId: string;
  jobId: string;
  /** Any clock; only compared, to reclaim the longest-running shard (likely nearest its end) first. */
  startedAt: number;
}

export interface SlotState {
  id: string;
  kind: DeviceKind;
  /** Absent when the slot is free. Slots of dead devices must be left out of the snapshot. */
  running?: RunningShard;
}

export interface TenantShare {
  id: string;
  guaranteedDevices: number;
  borrowLimitDevices: number;
  weight: number;
  /** Decayed to the snapshot's instant by the caller. */
  decayedUsage: number;
}

export interface PendingJob {
  id: string;
  tenantId: string;
  kind: DeviceKind;
  /** Higher goes first. */
  priority: number;
  /** Any clock; only compared (older first). */
  createdAt: number;
  /** Shards not yet dispatched. Jobs with none are ignored. */
  pendingShards: number;
}

/**
 * A tenant's running-slot count is not an input: it is derived from `slots`, so the two can
 * never disagree.
 */
export interface ClusterSnapshot {
  slots: readonly SlotState[];
  tenants: readonly TenantShare[];
  jobs: readonly PendingJob[];
}

export interface DispatchOptions {
  /**
   * Usage charged to a tenant for each slot granted within this pass, so that one pass does not
   * hand every free slot to whoever had the lowest usage when it started. Use the mean shard
   * duration. Default 10 s.
   */
  estimatedShardSeconds?: number;
}

/** Why a slot went to a tenant: within its guarantee, or borrowed idle capacity. */
export type DispatchBasis = 'guarantee' | 'borrow';

export interface ShardAssignment {
  slotId: string;
  kind: DeviceKind;
  tenantId: string;
  jobId: string;
  basis: DispatchBasis;
}

export type PendingCause =
  | 'no-device-of-kind'
  | 'unknown-tenant'
  | 'invalid-quota'
  | 'no-quota'
  | 'borrow-limit'
  | 'waiting-for-slot';

export interface PendingJobReason {
  jobId: string;
  tenantId: string;
  cause: PendingCause;
  /** For people: says what blocks the job and what would unblock it. */
  reason: string;
}

/**
 * Cooperative preemption: the shard on `slotId` runs to its end; the caller must not dispatch
 * `tenantId`'s next shard there (nor pre-queue one). The next pass then hands the slot to
 * `forTenantId`, which outranks every borrower.
 */
export interface Preemption {
  slotId: string;
  kind: DeviceKind;
  tenantId: string;
  jobId: string;
  forTenantId: string;
  reason: string;
}

export interface DispatchPlan {
  assignments: ShardAssignment[];
  /** Every job with pending shards that got none in this pass, in queue order per kind. */
  pending: PendingJobReason[];
  preemptions: Preemption[];
}
