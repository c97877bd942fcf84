import type { JobQueue } from './job-queue';
import type { TenantStanding } from './tenant-standing';

/**
 * A tenant's claim on the next slot of one kind, frozen at the moment it was computed: a heap
 * entry must never change under the heap, so the head job's fields are copied, not read live.
 */
export interface Candidate {
  standing: TenantStanding;
  queue: JobQueue;
  version: number;
  tier: 0 | 1;
  share: number;
  tiebreak: number;
  headPriority: number;
  headCreatedAt: number;
}

export function candidateOf(standing: TenantStanding, queue: JobQueue, estimatedShardSeconds: number): Candidate {
  const head = queue.head!;
  const { tier, share, tiebreak } = standing.rank(estimatedShardSeconds);
  return {
    standing,
    queue,
    version: standing.version,
    tier,
    share,
    tiebreak,
    headPriority: head.priority,
    headCreatedAt: head.createdAt,
  };
}

/** Guarantee tier, then fair share, then the head job's priority and age; tenant id last, for determinism. */
export function compareCandidates(a: Candidate, b: Candidate): number {
  return (
    a.tier - b.tier ||
    a.share - b.share ||
    a.tiebreak - b.tiebreak ||
    b.headPriority - a.headPriority ||
    a.headCreatedAt - b.headCreatedAt ||
    (a.standing.id < b.standing.id ? -1 : a.standing.id > b.standing.id ? 1 : 0)
  );
}
