import type { ClusterSnapshot, DeviceKind, PendingJob } from './dispatch.types';
import { JobQueue } from './job-queue';
import { TenantStanding } from './tenant-standing';

export interface KindPool {
  kind: DeviceKind;
  slotCount: number;
  /** Sorted, so which slot a shard lands on does not depend on the snapshot's row order. */
  freeSlotIds: string[];
  nextFree: number;
  /** Per tenant, its jobs of this kind. */
  queues: Map<string, JobQueue>;
}

/** Everything one pass works on, indexed once: O(slots + tenants + jobs log jobs-per-queue). */
export class DispatchPass {
  private constructor(
    readonly snapshot: ClusterSnapshot,
    readonly standings: Map<string, TenantStanding>,
    readonly pools: Map<DeviceKind, KindPool>,
  ) {}

  static of(snapshot: ClusterSnapshot): DispatchPass {
    const standings = new Map<string, TenantStanding>();
    for (const share of snapshot.tenants) standings.set(share.id, TenantStanding.of(share));

    const pools = new Map<DeviceKind, KindPool>();
    const poolOf = (kind: DeviceKind): KindPool => {
      let pool = pools.get(kind);
      if (!pool) {
        pool = { kind, slotCount: 0, freeSlotIds: [], nextFree: 0, queues: new Map() };
        pools.set(kind, pool);
      }
      return pool;
    };

    for (const slot of snapshot.slots) {
      const pool = poolOf(slot.kind);
      pool.slotCount += 1;
      if (!slot.running) pool.freeSlotIds.push(slot.id);
      else {
        const standing = standings.get(slot.running.tenantId);
        if (standing) standing.running += 1;
      }
    }
    for (const pool of pools.values()) pool.freeSlotIds.sort();

    const grouped = new Map<DeviceKind, Map<string, PendingJob[]>>();
    for (const job of snapshot.jobs) {
      if (!(job.pendingShards > 0)) continue;
      if (!standings.has(job.tenantId)) standings.set(job.tenantId, TenantStanding.unknown(job.tenantId));
      let byTenant = grouped.get(job.kind);
      if (!byTenant) grouped.set(job.kind, (byTenant = new Map()));
      const jobs = byTenant.get(job.tenantId);
      if (jobs) jobs.push(job);
      else byTenant.set(job.tenantId, [job]);
    }
    for (const [kind, byTenant] of grouped) {
      const pool = poolOf(kind);
      for (const [tenantId, jobs] of byTenant) pool.queues.set(tenantId, new JobQueue(jobs));
    }

    return new DispatchPass(snapshot, standings, pools);
  }

  /** Kinds in a fixed order, so the plan is the same whatever order the snapshot lists things in. */
  sortedPools(): KindPool[] {
    return [...this.pools.values()].sort((a, b) => (a.kind < b.kind ? -1 : a.kind > b.kind ? 1 : 0));
  }
}
