// A worker process's part in split mode's sync inference: it wraps the process's local runtime
// (what it deploys, it knows and advertises), serves it to API processes (inference-server.ts),
// and keeps its row in the `inference_worker` directory — address, accelerator kind, the
// endpoints it holds — alive with heartbeats, like the device rows of its shard slots.
//
// Start-up order (api/platform.ts): the READY endpoints this worker is in line for are loaded
// first (EndpointDeployer.redeployAll; replica-placement.ts, from peers()), then the server
// listens and the row appears, so API processes only ever send a call to a worker that is warm.
// After that, deploys and stops arrive from API processes; a reconcile pass every two heartbeats
// repairs whatever one of them missed (a deploy while this worker was starting, a stop while the
// network was down, an engine thread that restarted) and follows placement as peers come and go.
//
// A SIGKILLed worker leaves its row: API processes stop trusting it once its heartbeat is older
// than DEVICE_TIMEOUT_SECONDS, and fail over to another worker as soon as a connection is refused.
import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type { Logger } from '../../core/logger';
import type { TenantDatabase } from '../../tenants/tenant-database';
import type { ModelSignature } from '../engine';
import type { EndpointDeployer, ReplicaPeers } from '../runtime/endpoint-deployer';
import type {
  DeployedModel, EndpointDeployment, InferOptions, InferenceRuntime, RuntimeInferResult, RuntimeStats,
} from '../runtime/inference-runtime';
import type { PlacementPeer } from '../runtime/replica-placement';
import { InferenceServer } from './inference-server';

export interface InferenceHostOptions {
  node: string;
  kind: string;
  listenHost: string;
  listenPort: number;
  /** Unset: http://<listen host, or this machine's hostname when listening on every interface>:<bound port>. */
  advertiseUrl?: string;
  secret: string;
  maxRequestBytes: number;
  maxModelBytes: number;
  /** A model file from the blob store, by content address (registration through an API process). */
  loadModel: (sha256: string) => Promise<Uint8Array>;
  heartbeatSeconds: number;
  /** Rows silent this long are another worker's remains (DEVICE_TIMEOUT_SECONDS). */
  deviceTimeoutSeconds: number;
  shutdownGraceMs: number;
  log: Logger;
}

/** Rows of workers dead for this many device timeouts are deleted by the next worker to start. */
const FORGET_AFTER_TIMEOUTS = 20;

export class InferenceHost implements InferenceRuntime, ReplicaPeers {
  /** This process's row: a new one per start. */
  readonly id = randomUUID();
  private readonly labels = new Map<string, string>();
  private server?: InferenceServer;
  private url?: string;
  private deployer?: EndpointDeployer;
  private heartbeat?: NodeJS.Timeout;
  private beats = 0;
  /** Writes of the row, one at a time and in order. */
  private writes: Promise<void> = Promise.resolve();
  private reconciling = false;
  private stopped = false;

  constructor(
    private readonly local: InferenceRuntime,
    private readonly db: TenantDatabase,
    private readonly o: InferenceHostOptions,
  ) {}

  get accelerators(): readonly string[] {
    return this.local.accelerators;
  }

  /** Endpoints loaded here now (a dead engine thread holds none, whatever was deployed). */
  held(): string[] {
    return [...this.labels.keys()].filter((id) => this.local.isDeployed(id));
  }

  /** The live workers of this kind and what they hold; this one as it is now, listed or not yet. */
  async peers(): Promise<PlacementPeer[]> {
    const rows: { id: string; endpoints: string[] }[] = await this.db.withSystem('a worker looks at its peers to place replicas', (em) =>
      em.query(`SELECT id, endpoints::text[] AS endpoints FROM inference_worker
                 WHERE kind = $1 AND id <> $2 AND last_heartbeat_at > now() - make_interval(secs => $3)`,
        [this.o.kind, this.id, this.o.deviceTimeoutSeconds]));
    return [...rows.map((r) => ({ id: r.id, endpoints: new Set(r.endpoints) })), { id: this.id, endpoints: new Set(this.held()) }];
  }

  async deploy(deployment: EndpointDeployment): Promise<DeployedModel> {
    const deployed = await this.local.deploy(deployment);
    this.labels.set(deployment.endpointId, deployment.label);
    // Advertised before the API hears "deployed", so its next look at the directory finds it here.
    await this.advertise();
    return deployed;
  }

  infer(endpointId: string, inputs: unknown[], options?: InferOptions): Promise<RuntimeInferResult> {
    return this.local.infer(endpointId, inputs, options);
  }

  async undeploy(endpointId: string): Promise<void> {
    this.labels.delete(endpointId);
    await this.local.undeploy(endpointId);
    await this.advertise();
  }

  isDeployed(endpointId: string): boolean {
    return this.local.isDeployed(endpointId);
  }

  inspect(bytes: Uint8Array, handler: string, config: Record<string, unknown>): Promise<ModelSignature> {
    return this.local.inspect(bytes, handler, config);
  }

  stats(): Promise<RuntimeStats> {
    return this.local.stats();
  }

  close(): Promise<void> {
    return this.local.close();
  }

  /** Serves and joins the directory; call after the start-up redeploy. */
  async start(deployer: EndpointDeployer): Promise<void> {
    this.deployer = deployer;
    const server = new InferenceServer({
      runtime: this,
      secret: this.o.secret,
      host: this.o.listenHost,
      port: this.o.listenPort,
      maxRequestBytes: this.o.maxRequestBytes,
      maxModelBytes: this.o.maxModelBytes,
      loadModel: this.o.loadModel,
      labelOf: (id) => this.labels.get(id),
      log: this.o.log,
    });
    const address = await server.start();
    this.server = server;
    this.url = this.o.advertiseUrl ?? defaultUrl(this.o.listenHost, address.port);
    await this.db.withSystem('a worker joins the inference directory', async (em) => {
      // Its own earlier incarnation (same address: it was SIGKILLed and restarted on a fixed port)
      // and long-dead workers go; the rest expire by their heartbeats.
      await em.query(
        `DELETE FROM inference_worker WHERE url = $1 OR last_heartbeat_at < now() - make_interval(secs => $2)`,
        [this.url, this.o.deviceTimeoutSeconds * FORGET_AFTER_TIMEOUTS]);
    });
    await this.advertise();
    this.heartbeat = setInterval(() => void this.beat(), this.o.heartbeatSeconds * 1000);
    this.heartbeat.unref();
    this.o.log.info({ url: this.url, kind: this.o.kind, endpoints: this.labels.size }, 'serving inference to API processes');
  }

  /** Leaves the directory first (no new calls are sent here), then lets calls in flight finish. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.heartbeat);
    await this.writes;
    if (this.url) {
      await this.db.withSystem('a worker leaves the inference directory', (em) => em.query(`DELETE FROM inference_worker WHERE id = $1`, [this.id]))
        .catch((err) => this.o.log.warn({ err: (err as Error).message }, 'could not leave the inference directory'));
    }
    await this.server?.close(this.o.shutdownGraceMs);
  }

  private async beat(): Promise<void> {
    this.beats += 1;
    await this.advertise();
    if (this.beats % 2 === 0) await this.reconcile();
  }

  private async reconcile(): Promise<void> {
    if (!this.deployer || this.reconciling || this.stopped) return;
    this.reconciling = true;
    try {
      const { loaded, dropped } = await this.deployer.reconcile(this.held());
      if (loaded || dropped) this.o.log.info({ loaded, dropped }, 'reconciled served endpoints with the database');
    } catch (err) {
      this.o.log.warn({ err: (err as Error).message }, 'could not reconcile served endpoints; retrying');
    } finally {
      this.reconciling = false;
    }
  }

  /** Upserts the row: heartbeat and the endpoints held now. Never throws (the next beat retries). */
  private advertise(): Promise<void> {
    if (!this.url || this.stopped) return this.writes;
    const write = this.writes.then(() => this.db.withSystem('worker heartbeat: address and endpoints held', async (em) => {
      await em.query(
        `INSERT INTO inference_worker (id, node, kind, url, endpoints) VALUES ($1, $2, $3, $4, $5::uuid[])
         ON CONFLICT (id) DO UPDATE SET endpoints = EXCLUDED.endpoints, last_heartbeat_at = now()`,
        [this.id, this.o.node, this.o.kind, this.url, this.held()]);
    })).catch((err) => this.o.log.warn({ err: (err as Error).message }, 'inference heartbeat failed; retrying'));
    this.writes = write;
    return write;
  }
}

function defaultUrl(host: string, port: number): string {
  const everywhere = host === '0.0.0.0' || host === '::';
  const name = everywhere ? os.hostname() : host;
  return `http://${name.includes(':') ? `[${name}]` : name}:${port}`;
}
