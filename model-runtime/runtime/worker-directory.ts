// Where split mode's workers serve inference, as an API process knows it: the live rows of
// `inference_worker` (model-runtime/worker/inference-host.ts writes them), cached briefly so a
// call costs no query. A call that finds no worker holding its endpoint asks again at once
// (refresh), so a deployment another API process just finished is found without waiting.
import type { TenantDatabase } from '../../tenants/tenant-database';

export interface WorkerEntry {
  id: string;
  node: string;
  kind: string;
  url: string;
  /** Endpoint ids the worker holds loaded (its last heartbeat, plus what this process deployed there since). */
  endpoints: Set<string>;
}

export interface WorkerDirectoryOptions {
  /** A worker whose heartbeat is older than this is gone (DEVICE_TIMEOUT_SECONDS). */
  liveSeconds: number;
  /** A cached view older than this is refreshed in the background on the next use. */
  maxAgeMs: number;
}

/** Forced refreshes closer together than this share one query (a burst of calls to an unserved endpoint). */
const MIN_REFRESH_MS = 200;

export class WorkerDirectory {
  private entries: WorkerEntry[] = [];
  private fetchedAt = 0;
  private refreshing?: Promise<WorkerEntry[]>;

  constructor(
    private readonly db: TenantDatabase,
    private readonly o: WorkerDirectoryOptions,
  ) {}

  /** The last known live workers, without waiting; a stale view is refreshed behind the call. */
  current(): WorkerEntry[] {
    if (Date.now() - this.fetchedAt > this.o.maxAgeMs) void this.refresh().catch(() => undefined);
    return this.entries;
  }

  /** Reads the directory now (shared with a read already under way or just finished). */
  refresh(): Promise<WorkerEntry[]> {
    if (this.refreshing) return this.refreshing;
    if (Date.now() - this.fetchedAt < MIN_REFRESH_MS) return Promise.resolve(this.entries);
    const read = this.db.withSystem('split mode: which workers serve inference, and what', (em) =>
      em.query(
        `SELECT id, node, kind, url, endpoints::text[] AS endpoints FROM inference_worker
          WHERE last_heartbeat_at > now() - make_interval(secs => $1) ORDER BY started_at, id`,
        [this.o.liveSeconds]) as Promise<{ id: string; node: string; kind: string; url: string; endpoints: string[] }[]>)
      .then((rows) => {
        this.entries = rows.map((r) => ({ ...r, endpoints: new Set(r.endpoints) }));
        this.fetchedAt = Date.now();
        return this.entries;
      })
      .finally(() => {
        this.refreshing = undefined;
      });
    this.refreshing = read;
    return read;
  }

  /** The accelerator kind an endpoint runs on, for a message that says which workers are missing. */
  async acceleratorOf(endpointId: string): Promise<string | undefined> {
    const rows: { accelerator: string }[] = await this.db.withSystem('split mode: the kind of an endpoint no worker serves', (em) =>
      em.query(`SELECT accelerator FROM endpoint WHERE id = $1`, [endpointId]));
    return rows[0]?.accelerator;
  }
}
