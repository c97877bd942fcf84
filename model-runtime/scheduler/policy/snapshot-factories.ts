// Small builders for specs and the benchmark: a snapshot reads as the situation it describes.
import type { ClusterSnapshot, PendingJob, SlotState, TenantShare } from './dispatch.types';

export function freeSlots(kind: string, count: number, prefix = kind): SlotState[] {
  return Array.from({ length: count }, (_, i) => ({ id: `${prefix}-${String(i).padStart(3, '0')}`, kind }));
}

/** Slots of `kind` busy with `tenantId`'s shards of `jobId`, started at 0, 1, 2, … */
export function busySlots(kind: string, count: number, tenantId: string, jobId = `${tenantId}-running`, prefix = `${kind}-${tenantId}`): SlotState[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-${String(i).padStart(3, '0')}`,
    kind,
    running: { tenantId, jobId, startedAt: i },
  }));
}

export function tenant(id: string, quota: Partial<Omit<TenantShare, 'id'>> = {}): TenantShare {
  return { id, guaranteedDevices: 0, borrowLimitDevices: 100, weight: 1, decayedUsage: 0, ...quota };
}

export function job(id: string, tenantId: string, fields: Partial<Omit<PendingJob, 'id' | 'tenantId'>> = {}): PendingJob {
  return { id, tenantId, kind: 'cpu', priority: 0, createdAt: 0, pendingShards: 1, ...fields };
}

export function snapshot(parts: Partial<ClusterSnapshot>): ClusterSnapshot {
  return { slots: [], tenants: [], jobs: [], ...parts };
}
