// Endpoint lifecycle between the database and a runtime: DEPLOYING → load and warm up → READY
// (with the measured per-item cost) or FAILED (with the reason), STOPPED → undeploy, and on
// start, every endpoint that should be serving is deployed again (no process keeps sessions
// across restarts). In split mode the API's runtime forwards each load and stop to the workers
// (worker-backed-runtime.ts), and each worker also reconciles what it holds with the database.
// In split mode a worker holds only the endpoints it is in line for (replica-placement.ts: at
// most maxReplicas workers per endpoint), at start-up and at every reconcile.
// All writes here are system work on rows the request path already authorised
// (deployEndpoint/stopEndpoint checked the caller), or start-up recovery.
//
// Races: a stop may land while a deployment is loading. The READY/FAILED update only applies
// to a row still DEPLOYING or READY, and a deployment that finds its row stopped undeploys
// itself, so a stopped endpoint never comes back to life.
import type { EntityManager } from 'typeorm';
import type { Logger } from '../../core/logger';
import { returning } from '../../tenants/sql';
import type { TenantDatabase } from '../../tenants/tenant-database';
import type { EndpointDeployment, InferenceRuntime } from './inference-runtime';
import { decide, type PlacementPeer } from './replica-placement';

/** A split-mode worker's view of its peers, for placing replicas (model-runtime/worker/inference-host.ts). */
export interface ReplicaPeers {
  /** This worker's id in the directory. */
  readonly id: string;
  /** The live workers of this one's kind, with what each holds (this one included, up to date). */
  peers(): Promise<PlacementPeer[]>;
}

const MAX_REASON = 2000;
/**
 * A worker runs job shards on any endpoint (RuntimeShardRunner loads what it lacks); one it is
 * out of line for is let go only after this long without a shard, or every shard would reload it.
 */
const SHARD_USE_GRACE_MS = 60_000;

interface DeploymentRow {
  id: string;
  name: string;
  owner_slug: string;
  status: string;
  model_version_id: string;
  sha256: string;
  handler: string;
  config: Record<string, unknown>;
  accelerator: string;
  min_replicas: number;
  max_replicas: number;
  max_batch_size: number;
  max_queue_delay_ms: number;
}

export interface DeploymentOutcome {
  status: 'READY' | 'FAILED' | 'STOPPED';
  failureReason?: string;
}

export class EndpointDeployer {
  /** Deployments in flight, so a stop can wait for the load it interrupts. */
  private readonly inFlight = new Map<string, Promise<DeploymentOutcome>>();
  /** Endpoint id → when a job shard last ran on it here. */
  private readonly shardUse = new Map<string, number>();

  constructor(
    private readonly db: TenantDatabase,
    private readonly runtime: InferenceRuntime,
    private readonly log: Logger,
    /** Split-mode workers only: without it, this runtime holds every endpoint it can serve. */
    private readonly placement?: ReplicaPeers,
  ) {}

  /** Loads the endpoint's model and records the outcome. Never throws for a model's fault. */
  deploy(endpointId: string): Promise<DeploymentOutcome> {
    const previous = this.inFlight.get(endpointId);
    const run = (previous ?? Promise.resolve()).catch(() => undefined).then(() => this.load(endpointId));
    this.inFlight.set(endpointId, run);
    run.finally(() => {
      if (this.inFlight.get(endpointId) === run) this.inFlight.delete(endpointId);
    }).catch(() => undefined);
    return run;
  }

  /** A job shard ran on the endpoint here: keep it loaded a while, in line or not. */
  usedByShard(endpointId: string): void {
    this.shardUse.set(endpointId, Date.now());
  }

  /** Stops serving an endpoint whose row is already STOPPED. */
  async undeploy(endpointId: string): Promise<void> {
    await this.inFlight.get(endpointId)?.catch(() => undefined);
    await this.runtime.undeploy(endpointId);
  }

  /**
   * Start-up recovery: every DEPLOYING or READY endpoint this runtime can serve is loaded and
   * warmed before the platform takes traffic. Returns how many came up READY.
   */
  async redeployAll(): Promise<number> {
    const rows: { id: string; max_replicas: number }[] = await this.db.withSystem('start-up: endpoints that should be serving', (em) =>
      em.query(`SELECT id, max_replicas FROM endpoint WHERE status IN ('DEPLOYING', 'READY') AND accelerator = ANY ($1) ORDER BY created_at, id`,
        [[...this.runtime.accelerators]]));
    const peers = await this.placement?.peers();
    const ids = peers ? rows.filter((r) => decide(this.placement!.id, r.id, r.max_replicas, peers, false) === 'load') : rows;
    let ready = 0;
    // One at a time: loads compete for the same cores, and memory peaks stay low.
    for (const { id } of ids) {
      if ((await this.deploy(id)).status === 'READY') ready += 1;
    }
    return ready;
  }

  /**
   * Split-mode workers, every few heartbeats: load the READY endpoints of this runtime's kinds
   * it is in line for and does not hold (a forwarded deploy that missed it, an engine thread that
   * restarted, a peer that died), drop the ones it holds that are no longer live (a forwarded
   * stop that missed it) or that the workers in line now serve (a peer joined).
   * Writes nothing: an endpoint's state is the outcome of the deployment the API ran, and one
   * worker failing to load a READY endpoint is logged here, not recorded for every worker.
   */
  async reconcile(held: readonly string[]): Promise<{ loaded: number; dropped: number }> {
    const rows: { id: string; status: string; max_replicas: number }[] = await this.db.withSystem('a worker compares what it serves with the endpoints', (em) =>
      em.query(`SELECT id, status, max_replicas FROM endpoint WHERE (status = 'READY' AND accelerator = ANY ($1)) OR id = ANY ($2::uuid[])`,
        [[...this.runtime.accelerators], [...held]]));
    const byId = new Map(rows.map((r) => [r.id, r]));
    const peers = await this.placement?.peers();
    const placed = (id: string, maxReplicas: number, holds: boolean) =>
      peers ? decide(this.placement!.id, id, maxReplicas, peers, holds) : holds ? 'keep' : 'load';
    let dropped = 0;
    for (const id of held) {
      if (this.inFlight.has(id)) continue;
      const row = byId.get(id);
      const live = row?.status === 'READY' || row?.status === 'DEPLOYING';
      if (live && (placed(id, row.max_replicas, true) !== 'drop' || this.shardedRecently(id))) continue;
      await this.runtime.undeploy(id).catch((err) => this.log.warn({ endpoint: id, err: (err as Error).message }, 'could not drop an endpoint'));
      dropped += 1;
    }
    let loaded = 0;
    for (const { id, status, max_replicas } of rows) {
      if (status !== 'READY' || this.inFlight.has(id) || this.runtime.isDeployed(id)) continue;
      if (placed(id, max_replicas, false) !== 'load') continue;
      const row = await this.db.withSystem('a worker loads an endpoint it missed', (em) => readDeployment(em, id));
      if (row?.status !== 'READY') continue;
      const deployment = toDeployment(row);
      try {
        await this.runtime.deploy(deployment);
        loaded += 1;
      } catch (error) {
        this.log.warn({ endpoint: deployment.label, reason: (error as Error).message }, 'could not load a READY endpoint on this worker');
      }
    }
    return { loaded, dropped };
  }

  private shardedRecently(endpointId: string): boolean {
    const at = this.shardUse.get(endpointId);
    if (at === undefined) return false;
    if (Date.now() - at < SHARD_USE_GRACE_MS) return true;
    this.shardUse.delete(endpointId);
    return false;
  }

  private async load(endpointId: string): Promise<DeploymentOutcome> {
    const row = await this.db.withSystem('deploy an endpoint its owner asked for', (em) => readDeployment(em, endpointId));
    if (!row || !['DEPLOYING', 'READY'].includes(row.status)) return { status: 'STOPPED' };
    const deployment = toDeployment(row);
    let perItem: number | undefined;
    try {
      perItem = (await this.runtime.deploy(deployment)).perItemDeviceSeconds;
    } catch (error) {
      const reason = (error instanceof Error ? error.message : String(error)).slice(0, MAX_REASON);
      this.log.warn({ endpoint: deployment.label, reason }, 'endpoint deployment failed');
      // A failed redeploy must not leave an earlier deployment of the same endpoint serving.
      await this.runtime.undeploy(endpointId).catch(() => undefined);
      await this.db.withSystem('record a failed deployment', (em) => em.query(
        `UPDATE endpoint SET status = 'FAILED', failure_reason = $2, updated_at = now()
          WHERE id = $1 AND status IN ('DEPLOYING', 'READY')`, [endpointId, reason]));
      return { status: 'FAILED', failureReason: reason };
    }
    const stillWanted = await this.db.withSystem('record a finished deployment', async (em) => {
      const updated = await returning(em,
        `UPDATE endpoint SET status = 'READY', failure_reason = NULL, updated_at = now()
          WHERE id = $1 AND status IN ('DEPLOYING', 'READY') RETURNING id`, [endpointId]);
      if (perItem !== undefined) {
        // The warm-up measures a synthetic item; once real runs have set the figure, it stays theirs.
        await em.query(
          `UPDATE model_version SET per_item_device_seconds = $2 WHERE id = $1 AND per_item_device_seconds IS NULL`,
          [row.model_version_id, perItem]);
      }
      return updated.length > 0;
    });
    if (!stillWanted) {
      // Stopped while loading: do not keep serving it.
      await this.runtime.undeploy(endpointId);
      return { status: 'STOPPED' };
    }
    this.log.info({ endpoint: deployment.label, perItemDeviceSeconds: perItem }, 'endpoint ready');
    return { status: 'READY' };
  }
}

function toDeployment(row: DeploymentRow): EndpointDeployment {
  return {
    endpointId: row.id,
    label: `${row.owner_slug}/${row.name}`,
    modelVersionId: row.model_version_id,
    modelSha256: row.sha256,
    handler: row.handler,
    config: row.config ?? {},
    accelerator: row.accelerator,
    minReplicas: row.min_replicas,
    maxReplicas: row.max_replicas,
    maxBatchSize: row.max_batch_size,
    maxQueueDelayMs: row.max_queue_delay_ms,
  };
}

async function readDeployment(em: EntityManager, endpointId: string): Promise<DeploymentRow | undefined> {
  const rows: DeploymentRow[] = await em.query(
    `SELECT e.id, e.name, t.slug AS owner_slug, e.status, e.model_version_id, v.sha256, v.handler, v.config,
            e.accelerator, e.min_replicas, e.max_replicas, e.max_batch_size, e.max_queue_delay_ms
       FROM endpoint e
       JOIN model_version v ON v.id = e.model_version_id
       JOIN tenant t ON t.id = e.tenant_id
      WHERE e.id = $1`,
    [endpointId]);
  return rows[0];
}
