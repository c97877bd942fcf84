import type { PendingJob } from './dispatch.types';

/** Slurm's job ordering within an account: priority first, then submit time, then id for determinism. */
export function compareJobs(a: PendingJob, b: PendingJob): number {
  if (a.priority !== b.priority) return b.priority - a.priority;
  if (a.createdAt !== b.createdAt) return a.createdAt - b.createdAt;
  return a.id < b.id ? -1 : a.id > b.id ? 1 : 0;
}

/**
 * One tenant's pending jobs of one kind, in dispatch order. Sorted once per pass; granting a
 * shard only moves a cursor, so a grant costs O(1) whatever the number of jobs.
 */
export class JobQueue {
  private readonly jobs: PendingJob[];
  private headIndex = 0;
  private grantedToHead = 0;

  constructor(jobs: PendingJob[]) {
    this.jobs = jobs.sort(compareJobs);
  }

  get head(): PendingJob | undefined {
    return this.jobs[this.headIndex];
  }

  get isEmpty(): boolean {
    return this.headIndex >= this.jobs.length;
  }

  /** Hands the head job's next shard out; the job stays at the head until its shards run out. */
  grantOne(): PendingJob {
    const job = this.jobs[this.headIndex];
    this.grantedToHead += 1;
    if (this.grantedToHead >= job.pendingShards) {
      this.headIndex += 1;
      this.grantedToHead = 0;
    }
    return job;
  }

  /**
   * Calls `visit` for each remaining job in order, flagging the one that already got a shard in
   * this pass. A plain loop, not a generator: it runs for every waiting job on every pass.
   */
  forEachRemaining(visit: (job: PendingJob, servedThisPass: boolean) => void): void {
    const { jobs, headIndex } = this;
    if (headIndex < jobs.length) visit(jobs[headIndex], this.grantedToHead > 0);
    for (let index = headIndex + 1; index < jobs.length; index++) visit(jobs[index], false);
  }

  pendingShardsOfRemaining(): number {
    let shards = -this.grantedToHead;
    for (let index = this.headIndex; index < this.jobs.length; index++) shards += this.jobs[index].pendingShards;
    return shards;
  }
}
