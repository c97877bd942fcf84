import { BinaryHeap } from './binary-heap';
import { DispatchPass, type KindPool } from './dispatch-pass';
import type { ClusterSnapshot, DispatchOptions, DispatchPlan, ShardAssignment } from './dispatch.types';
import { type Candidate, candidateOf, compareCandidates } from './fair-share-order';
import { explainPending } from './pending-reasons';
import { planReclaims } from './reclaim-planner';

export const DEFAULT_ESTIMATED_SHARD_SECONDS = 10;

/**
 * Decides which job gets each free slot, one shard at a time: tenants below their guarantee
 * first, then borrowers by weighted decayed usage, then job priority and age. Also explains
 * every job left waiting, and names the borrowed slots to reclaim for tenants still below their
 * guarantee. Pure: same snapshot, same plan, whatever order the snapshot lists things in.
 *
 * Cost: O(slots + tenants + jobs·log(jobs per tenant and kind)) to index the snapshot, then
 * O(log tenants) per granted shard — there is no scan over jobs per slot.
 */
export function planDispatch(snapshot: ClusterSnapshot, options: DispatchOptions = {}): DispatchPlan {
  const estimatedShardSeconds = options.estimatedShardSeconds ?? DEFAULT_ESTIMATED_SHARD_SECONDS;
  if (!(estimatedShardSeconds >= 0) || !Number.isFinite(estimatedShardSeconds)) {
    throw new RangeError(`estimatedShardSeconds must be a finite number >= 0, got ${estimatedShardSeconds}`);
  }
  const pass = DispatchPass.of(snapshot);
  const assignments = dispatchFreeSlots(pass, estimatedShardSeconds);
  const reclaims = planReclaims(pass, estimatedShardSeconds);
  const pending = explainPending(pass, reclaims, estimatedShardSeconds);
  return { assignments, pending, preemptions: reclaims.preemptions };
}

interface OpenPool {
  pool: KindPool;
  contenders: BinaryHeap<Candidate>;
}

function dispatchFreeSlots(pass: DispatchPass, estimatedShardSeconds: number): ShardAssignment[] {
  const open: OpenPool[] = [];
  for (const pool of pass.sortedPools()) {
    if (pool.freeSlotIds.length === 0) continue;
    const contenders = new BinaryHeap(compareCandidates);
    for (const [tenantId, queue] of pool.queues) {
      const standing = pass.standings.get(tenantId)!;
      if (standing.canTakeSlot) contenders.push(candidateOf(standing, queue, estimatedShardSeconds));
    }
    open.push({ pool, contenders });
  }

  // Round-robin over kinds, one slot each: guarantees are counted over all kinds together, so
  // draining one kind first would let it consume every tenant's guarantee before the others.
  const assignments: ShardAssignment[] = [];
  while (open.length > 0) {
    for (let index = 0; index < open.length; ) {
      const { pool, contenders } = open[index];
      const winner = pool.nextFree < pool.freeSlotIds.length ? popWinner(contenders, estimatedShardSeconds) : undefined;
      if (!winner) {
        open.splice(index, 1);
        continue;
      }
      const { standing, queue } = winner;
      const basis = standing.belowGuarantee ? 'guarantee' : 'borrow';
      const job = queue.grantOne();
      standing.granted += 1;
      standing.version += 1;
      assignments.push({ slotId: pool.freeSlotIds[pool.nextFree++], kind: pool.kind, tenantId: standing.id, jobId: job.id, basis });
      if (standing.canTakeSlot && !queue.isEmpty) contenders.push(candidateOf(standing, queue, estimatedShardSeconds));
      index += 1;
    }
  }
  return assignments;
}

/**
 * A grant to a tenant on one kind makes its entries on other kinds stale. Ranks only rise with
 * grants, so a stale entry can be re-ranked when it surfaces: if the top entry is current, no
 * stale one below it can truly rank higher.
 */
function popWinner(contenders: BinaryHeap<Candidate>, estimatedShardSeconds: number): Candidate | undefined {
  for (;;) {
    const top = contenders.pop();
    if (!top || top.version === top.standing.version) return top;
    if (top.standing.canTakeSlot && !top.queue.isEmpty) {
      contenders.push(candidateOf(top.standing, top.queue, estimatedShardSeconds));
    }
  }
}
