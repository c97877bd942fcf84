// Slurm's fair-share usage (PriorityDecayHalfLife): past device-seconds count less the older they
// are, so a tenant that used the cluster heavily last month is not starved today, and one that
// just burst is not ahead of everyone for the rest of the week.

export interface DecayedUsage {
  deviceSeconds: number;
  /** Seconds on the caller's clock at which `deviceSeconds` is valid. */
  asOfSec: number;
}

function assertHalfLife(halfLifeSec: number): void {
  // Infinity is allowed and means "never forget"; zero or NaN would turn usage into NaN and
  // silently reorder every tenant.
  if (!(halfLifeSec > 0)) throw new RangeError(`half-life must be > 0 seconds, got ${halfLifeSec}`);
}

/** `usage` as it is worth `elapsedSec` later. */
export function decay(usage: number, elapsedSec: number, halfLifeSec: number): number {
  assertHalfLife(halfLifeSec);
  if (elapsedSec <= 0) return usage;
  return usage * Math.pow(2, -elapsedSec / halfLifeSec);
}

/**
 * Adds `deviceSeconds` that were measured at `atSec` (a finished shard). A report older than the
 * record — workers report out of order — is decayed to the record's instant instead of moving
 * the record back in time.
 */
export function addUsage(
  usage: DecayedUsage,
  deviceSeconds: number,
  atSec: number,
  halfLifeSec: number,
): DecayedUsage {
  if (atSec < usage.asOfSec) {
    return {
      deviceSeconds: usage.deviceSeconds + decay(deviceSeconds, usage.asOfSec - atSec, halfLifeSec),
      asOfSec: usage.asOfSec,
    };
  }
  return {
    deviceSeconds: decay(usage.deviceSeconds, atSec - usage.asOfSec, halfLifeSec) + deviceSeconds,
    asOfSec: atSec,
  };
}

/**
 * Accrues `runningDevices` busy from the record's instant up to `atSec`: the exact integral of
 * decayed usage, so accruing in one step or in many small ones gives the same number.
 */
export function accrueRunning(
  usage: DecayedUsage,
  runningDevices: number,
  atSec: number,
  halfLifeSec: number,
): DecayedUsage {
  assertHalfLife(halfLifeSec);
  const elapsed = atSec - usage.asOfSec;
  if (elapsed <= 0) return usage;
  const fresh =
    halfLifeSec === Infinity
      ? runningDevices * elapsed
      : (runningDevices * halfLifeSec * (1 - Math.pow(2, -elapsed / halfLifeSec))) / Math.LN2;
  return { deviceSeconds: decay(usage.deviceSeconds, elapsed, halfLifeSec) + fresh, asOfSec: atSec };
}
