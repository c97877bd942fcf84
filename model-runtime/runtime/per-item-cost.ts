// Device seconds per item, followed from real runs: cost estimates of batch jobs multiply a
// job's item count by model_version.per_item_device_seconds, so the figure should describe real
// inputs, not only the warm-up's synthetic one. Calls accumulate in memory and are folded into
// the row as an exponentially weighted moving average every `flushMs` — one UPDATE per model
// version and interval instead of one per request (the request path stays write-light, and the
// caller's tenant could not update another owner's row anyway: this is system work).
import type { Logger } from '../../core/logger';
import type { TenantDatabase } from '../../tenants/tenant-database';

/** Weight of one interval's mean in the average: recent behaviour counts, one odd interval does not dominate. */
const ALPHA = 0.3;

interface Pending {
  deviceSeconds: number;
  items: number;
}

export class PerItemCostTracker {
  private pending = new Map<string, Pending>();
  private readonly timer?: NodeJS.Timeout;

  constructor(
    private readonly db: TenantDatabase,
    private readonly log: Logger,
    flushMs = 30_000,
  ) {
    if (flushMs > 0) {
      this.timer = setInterval(() => void this.flush().catch((err) => log.warn({ err }, 'per-item cost flush failed')), flushMs);
      this.timer.unref();
    }
  }

  /** Items that ran successfully and the device time they took together. */
  record(modelVersionId: string, deviceSeconds: number, items: number): void {
    if (!(items > 0) || !(deviceSeconds >= 0)) return;
    const entry = this.pending.get(modelVersionId) ?? { deviceSeconds: 0, items: 0 };
    entry.deviceSeconds += deviceSeconds;
    entry.items += items;
    this.pending.set(modelVersionId, entry);
  }

  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const batch = [...this.pending];
    this.pending = new Map();
    await this.db.withSystem('fold measured per-item device time into model versions', async (em) => {
      for (const [id, p] of batch) {
        const mean = p.deviceSeconds / p.items;
        await em.query(
          `UPDATE model_version SET per_item_device_seconds =
             CASE WHEN per_item_device_seconds IS NULL THEN $2::float8 ELSE per_item_device_seconds * (1 - $3::float8) + $2::float8 * $3::float8 END
           WHERE id = $1`,
          [id, mean, ALPHA]);
      }
    });
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.flush().catch((err) => this.log.warn({ err }, 'per-item cost flush failed at shutdown'));
  }
}
