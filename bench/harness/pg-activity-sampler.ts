// Where PostgreSQL's side of a run goes: samples pg_stat_activity every `intervalMs` and counts,
// per application and wait (Lock:transactionid = waiting for another transaction's row lock,
// IO:WALSync / LWLock:WALWrite = commit flushes, Client:ClientRead inside a transaction = the
// server waiting for Node), which statement each active or in-transaction backend was on.
// Sampling, not tracing: a share of samples is a share of backend-time, roughly.
import { Client } from 'pg';

export interface ActivityShare {
  application: string;
  state: string;
  wait: string;
  statement: string;
  samples: number;
  share: number;
}

export class PgActivitySampler {
  private timer: NodeJS.Timeout | null = null;
  private readonly counts = new Map<string, number>();
  private total = 0;
  private busy = false;

  constructor(private readonly client: Client, private readonly intervalMs = 50) {}

  start(): void {
    this.timer = setInterval(() => void this.sample(), this.intervalMs);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async sample(): Promise<void> {
    if (this.busy) return;
    this.busy = true;
    try {
      const { rows } = await this.client.query(
        `SELECT application_name AS app, state, coalesce(wait_event_type || ':' || wait_event, 'CPU') AS wait,
                regexp_replace(left(query, 70), '\\s+', ' ', 'g') AS statement
           FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'`);
      this.total++;
      for (const r of rows) {
        const key = JSON.stringify([r.app, r.state, r.wait, r.statement]);
        this.counts.set(key, (this.counts.get(key) ?? 0) + 1);
      }
    } finally {
      this.busy = false;
    }
  }

  /** The most frequent (application, state, wait, statement) rows; `share` is per sample tick. */
  top(n = 12): ActivityShare[] {
    return [...this.counts.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, samples]) => {
        const [application, state, wait, statement] = JSON.parse(key) as string[];
        return { application, state, wait, statement, samples, share: samples / Math.max(1, this.total) };
      });
  }

  /** Backend-time per wait class, as average busy backends per tick. */
  byWait(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const [key, samples] of this.counts) {
      const [, state, wait] = JSON.parse(key) as string[];
      const label = state === 'idle in transaction' ? 'idle in transaction (waiting for Node)' : wait;
      out[label] = (out[label] ?? 0) + samples / Math.max(1, this.total);
    }
    return Object.fromEntries(Object.entries(out).sort((a, b) => b[1] - a[1]));
  }
}
