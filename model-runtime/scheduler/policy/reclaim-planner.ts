import type { DispatchPass, KindPool } from './dispatch-pass';
import type { DeviceKind, Preemption, SlotState } from './dispatch.types';
import type { TenantStanding } from './tenant-standing';

export interface ReclaimOutcome {
  preemptions: Preemption[];
  /** Keyed by reclaimKey(tenant, kind): what is being taken back on that tenant's behalf. */
  reclaimedFor: Map<string, { slots: number; fromTenants: string[] }>;
}

export function reclaimKey(tenantId: string, kind: DeviceKind): string {
  return `${tenantId}\u0000${kind}`;
}

interface Need {
  standing: TenantStanding;
  promised: number;
  /** Kinds it waits on, with shards still unserved. */
  kinds: { pool: KindPool; shardsLeft: number }[];
}

/**
 * Kueue reclaimWithinCohort, made cooperative: a tenant below its guarantee with work waiting
 * and no free slot takes back slots lent to borrowers — most over their share first — but only
 * at the borrowers' next shard boundary, because a shard lasts seconds and killing it would
 * waste its work and charge for nothing. Never takes a borrower below its own guarantee.
 */
export function planReclaims(pass: DispatchPass, estimatedShardSeconds: number): ReclaimOutcome {
  const outcome: ReclaimOutcome = { preemptions: [], reclaimedFor: new Map() };
  const needs = collectNeeds(pass);
  if (needs.length === 0) return outcome;

  const lendersByKind = collectLenders(pass.snapshot.slots, new Set(needs.flatMap((need) => need.kinds.map((k) => k.pool.kind))));
  const reclaimedFrom = new Map<string, number>();
  const borrowedBy = (lender: TenantStanding) => lender.inUse - (reclaimedFrom.get(lender.id) ?? 0) - lender.guaranteed;

  for (;;) {
    const need = mostBelowGuarantee(needs);
    if (!need) return outcome;
    const taken = takeOneSlot(need, pass, lendersByKind, borrowedBy, estimatedShardSeconds);
    if (!taken) {
      need.kinds = [];
      continue;
    }
    const { slot, lender, kindNeed } = taken;
    const lenderBorrowed = borrowedBy(lender);
    reclaimedFrom.set(lender.id, (reclaimedFrom.get(lender.id) ?? 0) + 1);
    need.promised += 1;
    kindNeed.shardsLeft -= 1;
    const key = reclaimKey(need.standing.id, slot.kind);
    const record = outcome.reclaimedFor.get(key) ?? { slots: 0, fromTenants: [] };
    record.slots += 1;
    if (!record.fromTenants.includes(lender.id)) record.fromTenants.push(lender.id);
    outcome.reclaimedFor.set(key, record);
    outcome.preemptions.push({
      slotId: slot.id,
      kind: slot.kind,
      tenantId: lender.id,
      jobId: slot.running!.jobId,
      forTenantId: need.standing.id,
      reason:
        `${lender.id} borrows ${lenderBorrowed} beyond its ${lender.guaranteed} guaranteed; ` +
        `${need.standing.id} is below its guarantee (${need.standing.inUse} of ${need.standing.guaranteed}) with ${slot.kind} work waiting: ` +
        `let the running shard of ${slot.running!.jobId} finish, then do not dispatch ${lender.id}'s next shard on ${slot.id}`,
    });
  }
}

function collectNeeds(pass: DispatchPass): Need[] {
  const needs = new Map<string, Need>();
  for (const pool of pass.sortedPools()) {
    // A free slot left over means nobody below guarantee wanted this kind (they rank first).
    if (pool.slotCount === 0 || pool.nextFree < pool.freeSlotIds.length) continue;
    for (const [tenantId, queue] of pool.queues) {
      const standing = pass.standings.get(tenantId)!;
      if (standing.problem !== null || !standing.belowGuarantee || queue.isEmpty) continue;
      let need = needs.get(tenantId);
      if (!need) needs.set(tenantId, (need = { standing, promised: 0, kinds: [] }));
      need.kinds.push({ pool, shardsLeft: queue.pendingShardsOfRemaining() });
    }
  }
  return [...needs.values()];
}

/** Per kind, per tenant: its running slots, longest-running first (likely nearest their boundary). */
function collectLenders(slots: readonly SlotState[], kinds: Set<DeviceKind>): Map<DeviceKind, Map<string, SlotState[]>> {
  const lenders = new Map<DeviceKind, Map<string, SlotState[]>>();
  for (const slot of slots) {
    if (!slot.running || !kinds.has(slot.kind)) continue;
    let byTenant = lenders.get(slot.kind);
    if (!byTenant) lenders.set(slot.kind, (byTenant = new Map()));
    const list = byTenant.get(slot.running.tenantId);
    if (list) list.push(slot);
    else byTenant.set(slot.running.tenantId, [slot]);
  }
  for (const byTenant of lenders.values()) {
    for (const list of byTenant.values()) {
      list.sort((a, b) => a.running!.startedAt - b.running!.startedAt || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      // Consumed from the end.
      list.reverse();
    }
  }
  return lenders;
}

function mostBelowGuarantee(needs: Need[]): Need | undefined {
  let best: Need | undefined;
  let bestShare = Infinity;
  for (const need of needs) {
    const inUse = need.standing.inUse + need.promised;
    if (inUse >= need.standing.guaranteed || need.kinds.every((k) => k.shardsLeft <= 0)) continue;
    const share = inUse / need.standing.guaranteed;
    if (share < bestShare || (share === bestShare && best && need.standing.id < best.standing.id)) {
      best = need;
      bestShare = share;
    }
  }
  return best;
}

function takeOneSlot(
  need: Need,
  pass: DispatchPass,
  lendersByKind: Map<DeviceKind, Map<string, SlotState[]>>,
  borrowedBy: (lender: TenantStanding) => number,
  estimatedShardSeconds: number,
): { slot: SlotState; lender: TenantStanding; kindNeed: Need['kinds'][number] } | undefined {
  for (const kindNeed of need.kinds) {
    if (kindNeed.shardsLeft <= 0) continue;
    const byTenant = lendersByKind.get(kindNeed.pool.kind);
    if (!byTenant) continue;
    // Over-share = borrowed devices per unit of weight, the single-resource form of Kueue's
    // dominant resource share; re-evaluated per slot so reclaims spread over borrowers.
    let lender: TenantStanding | undefined;
    let lenderRank: readonly [number, number] = [-Infinity, -Infinity];
    for (const [tenantId, slots] of byTenant) {
      const standing = pass.standings.get(tenantId);
      if (!standing || slots.length === 0) continue;
      const borrowed = borrowedBy(standing);
      if (borrowed <= 0) continue;
      const rank = [borrowed / standing.weight, standing.weightedUsage(estimatedShardSeconds)] as const;
      const order = rank[0] - lenderRank[0] || rank[1] - lenderRank[1] || (lender && standing.id < lender.id ? 1 : -1);
      if (order > 0) {
        lender = standing;
        lenderRank = rank;
      }
    }
    if (lender) return { slot: byTenant.get(lender.id)!.pop()!, lender, kindNeed };
  }
  return undefined;
}
