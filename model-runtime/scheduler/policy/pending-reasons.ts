import type { DispatchPass, KindPool } from './dispatch-pass';
import type { PendingCause, PendingJobReason } from './dispatch.types';
import { type Candidate, candidateOf, compareCandidates } from './fair-share-order';
import type { JobQueue } from './job-queue';
import { type ReclaimOutcome, reclaimKey } from './reclaim-planner';
import type { TenantStanding } from './tenant-standing';

function count(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? '' : 's'}`;
}

/** "casia is using its 2 guaranteed devices and 1 of 2 borrowable" */
function describeStanding(standing: TenantStanding): string {
  const { id, inUse, guaranteed, borrowLimit } = standing;
  if (inUse < guaranteed) return `${id} is using ${inUse} of its ${count(guaranteed, 'guaranteed device')}`;
  return `${id} is using its ${count(guaranteed, 'guaranteed device')} and ${inUse - guaranteed} of ${borrowLimit} borrowable`;
}

/** Why a tenant can take no slot of this kind at all, whatever else happens in the cluster. */
function blockedReason(standing: TenantStanding, pool: KindPool): { cause: PendingCause; reason: string } {
  if (pool.slotCount === 0) return { cause: 'no-device-of-kind', reason: `no device of kind ${pool.kind} is registered` };
  if (standing.problem?.cause === 'unknown-tenant') {
    return { cause: 'unknown-tenant', reason: `tenant ${standing.id} has no quota record: an operator must set its quota` };
  }
  if (standing.problem) {
    return {
      cause: 'invalid-quota',
      reason: `tenant ${standing.id} has an invalid quota (${standing.problem.detail}): an operator must correct it`,
    };
  }
  if (standing.limit === 0) {
    return {
      cause: 'no-quota',
      reason: `tenant ${standing.id} has no device quota (0 guaranteed, 0 borrowable): an operator must set guaranteedDevices or borrowLimitDevices`,
    };
  }
  return {
    cause: 'borrow-limit',
    reason:
      `tenant ${standing.id} reached its borrow limit (${standing.guaranteed} guaranteed + ${standing.borrowLimit} borrowed); ` +
      `its next shard starts when one of its ${standing.inUse} running shards finishes`,
  };
}

function reclaimNote(standing: TenantStanding, pool: KindPool, reclaims: ReclaimOutcome): string {
  if (!standing.belowGuarantee) return '';
  const reclaimed = reclaims.reclaimedFor.get(reclaimKey(standing.id, pool.kind));
  if (!reclaimed) {
    return `; no borrowed ${pool.kind} slot is left to reclaim (guarantees on ${pool.kind} exceed its ${count(pool.slotCount, 'slot')})`;
  }
  return `; ${count(reclaimed.slots, `borrowed ${pool.kind} slot`)} of ${reclaimed.fromTenants.join(', ')} will be reclaimed at their next shard boundary`;
}

/**
 * One reason per job that got nothing, listed in the order the jobs would be served: per kind,
 * contending tenants in fair-share order and each tenant's jobs in queue order — so "jobs ahead"
 * is a running count and costs nothing extra. It is the order at the end of this pass; fair
 * share moves it as tenants use their slots.
 */
export function explainPending(pass: DispatchPass, reclaims: ReclaimOutcome, estimatedShardSeconds: number): PendingJobReason[] {
  const reasons: PendingJobReason[] = [];
  for (const pool of pass.sortedPools()) {
    const contending: Candidate[] = [];
    const blocked: { standing: TenantStanding; queue: JobQueue }[] = [];
    for (const [tenantId, queue] of pool.queues) {
      if (queue.isEmpty) continue;
      const standing = pass.standings.get(tenantId)!;
      if (pool.slotCount > 0 && standing.canTakeSlot) contending.push(candidateOf(standing, queue, estimatedShardSeconds));
      else blocked.push({ standing, queue });
    }
    contending.sort(compareCandidates);
    blocked.sort((a, b) => (a.standing.id < b.standing.id ? -1 : 1));

    let jobsAhead = 0;
    for (const { standing, queue } of contending) {
      const situation = `${describeStanding(standing)}${reclaimNote(standing, pool, reclaims)}`;
      queue.forEachRemaining((job, servedThisPass) => {
        if (!servedThisPass) {
          const ahead = jobsAhead === 0 ? 'next in line' : `${count(jobsAhead, 'job')} ahead`;
          reasons.push({
            jobId: job.id,
            tenantId: job.tenantId,
            cause: 'waiting-for-slot',
            reason: `waiting for a ${pool.kind} slot (all ${pool.slotCount} busy): ${ahead}; ${situation}`,
          });
        }
        jobsAhead += 1;
      });
    }
    for (const { standing, queue } of blocked) {
      const { cause, reason } = blockedReason(standing, pool);
      queue.forEachRemaining((job, servedThisPass) => {
        if (!servedThisPass) reasons.push({ jobId: job.id, tenantId: job.tenantId, cause, reason });
      });
    }
  }
  return reasons;
}
