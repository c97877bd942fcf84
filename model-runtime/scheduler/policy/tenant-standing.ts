import type { TenantShare } from './dispatch.types';

/** Where a tenant stands while one pass hands out slots; mutable, owned by that pass. */
export class TenantStanding {
  running = 0;
  granted = 0;
  /** Bumped on every grant, so heap entries computed before it are recognisably stale. */
  version = 0;

  private constructor(
    readonly id: string,
    readonly guaranteed: number,
    readonly borrowLimit: number,
    readonly weight: number,
    readonly decayedUsage: number,
    /** Set when the tenant must get nothing: no quota record, or a quota that would yield NaN ranks. */
    readonly problem: { cause: 'unknown-tenant' | 'invalid-quota'; detail: string } | null,
  ) {}

  static of(share: TenantShare): TenantStanding {
    const invalid = describeInvalidQuota(share);
    return new TenantStanding(
      share.id,
      share.guaranteedDevices,
      share.borrowLimitDevices,
      share.weight,
      share.decayedUsage,
      invalid === null ? null : { cause: 'invalid-quota', detail: invalid },
    );
  }

  static unknown(id: string): TenantStanding {
    return new TenantStanding(id, 0, 0, 1, 0, { cause: 'unknown-tenant', detail: 'no quota record' });
  }

  get inUse(): number {
    return this.running + this.granted;
  }

  get limit(): number {
    return this.guaranteed + this.borrowLimit;
  }

  get belowGuarantee(): boolean {
    return this.inUse < this.guaranteed;
  }

  get canTakeSlot(): boolean {
    return this.problem === null && this.inUse < this.limit;
  }

  /** In-pass grants count as usage too (see DispatchOptions.estimatedShardSeconds). */
  weightedUsage(estimatedShardSeconds: number): number {
    return (this.decayedUsage + this.granted * estimatedShardSeconds) / this.weight;
  }

  /**
   * Lower ranks first. Tier 0: below guarantee, most below (relative to the guarantee) first —
   * Kueue admits within nominal quota before any borrowing. Tier 1: borrowing, by weighted
   * decayed usage — Slurm fair-share / Kueue admission fair sharing. Every grant can only raise
   * a rank, which is what lets the dispatch heap re-rank lazily.
   */
  rank(estimatedShardSeconds: number): { tier: 0 | 1; share: number; tiebreak: number } {
    const weighted = this.weightedUsage(estimatedShardSeconds);
    if (this.belowGuarantee) return { tier: 0, share: this.inUse / this.guaranteed, tiebreak: weighted };
    return { tier: 1, share: weighted, tiebreak: 0 };
  }
}

function describeInvalidQuota(share: TenantShare): string | null {
  const problems: string[] = [];
  if (!(share.weight > 0) || !Number.isFinite(share.weight)) problems.push(`weight ${share.weight}, must be > 0`);
  if (!Number.isInteger(share.guaranteedDevices) || share.guaranteedDevices < 0)
    problems.push(`guaranteedDevices ${share.guaranteedDevices}, must be a whole number >= 0`);
  if (!Number.isInteger(share.borrowLimitDevices) || share.borrowLimitDevices < 0)
    problems.push(`borrowLimitDevices ${share.borrowLimitDevices}, must be a whole number >= 0`);
  if (!(share.decayedUsage >= 0) || !Number.isFinite(share.decayedUsage))
    problems.push(`decayedUsage ${share.decayedUsage}, must be >= 0`);
  return problems.length === 0 ? null : problems.join('; ');
}
