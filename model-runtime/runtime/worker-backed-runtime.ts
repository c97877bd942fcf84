// Split mode's InferenceRuntime in API processes: every operation is forwarded to worker
// processes (model-runtime/worker/inference-server.ts) found in the `inference_worker` directory
// (worker-directory.ts), over keep-alive HTTP connections. This process never loads ONNX Runtime.
//
// - deploy: to the live workers of the endpoint's accelerator kind in line for it — at most its
//   maxReplicas, chosen by rendezvous hashing (replica-placement.ts), which is also how each
//   worker's reconcile decides what to hold, so both agree without talking; with more than one
//   replica a call survives the loss of any one of them. Ready when at least one loaded it (a
//   worker in line that cannot be reached is replaced by the next in line); a model's own fault
//   (INVALID_MODEL, a handler that refuses it) fails the deployment as in all-in-one. Fewer
//   live workers of the kind than the endpoint's minReplicas fail it too, saying so.
//   No live worker of the kind: the deployment FAILS with a reason naming the kind, as an
//   unserved kind does in all-in-one mode.
// - infer: to a live worker holding the endpoint — fewest calls in flight from this process,
//   round robin among equals. A refused or cut connection (a dead worker) moves the call to the
//   next one, as does a worker that is full (OVERLOADED) or no longer holds the endpoint
//   (STOPPED). A call runs nothing but the model on a worker and is charged here only once it
//   succeeded, so trying it elsewhere can never charge twice. When no worker can take it, the
//   caller gets WorkerUnavailableError (RATE_LIMITED: "retry shortly"); a worker that does not
//   answer within INFERENCE_FORWARD_TIMEOUT_MS gets the same, without a retry elsewhere (a slow
//   worker is usually a busy one; doubling its work helps nobody).
// - undeploy: to every live worker, whatever its kind; one that misses it drops the endpoint at
//   its next reconcile (EndpointDeployer.reconcile).
// - inspect, stats: any live worker / the sum over all of them. A model version's file is
//   inspected by its content address (inspectStored): the worker reads it from the blob store it
//   shares with API processes, as it does to deploy, so a large file is neither read nor sent here.
//
// Errors cross as runtime-messages.ts's SerializedError and are rebuilt as the engine's classes:
// a bad input answers BAD_USER_INPUT with the same message and inputIndex as in-process.
// Request-level metrics (calls, errors by code) are recorded here, as the API's /metrics always
// did; batch-level ones (batch sizes, queue and run times) are the worker's own /metrics.
import http from 'node:http';
import https from 'node:https';
import type { Logger } from '../../core/logger';
import type { ModelSignature } from '../engine';
import { EngineError, EngineInputError } from '../engine/engine-errors';
import type {
  DeployedModel, EndpointDeployment, InferOptions, InferenceObserver, InferenceRuntime, RuntimeInferResult, RuntimeStats,
} from './inference-runtime';
import { INFERENCE_ROUTES, INSPECT_HEADER, bearer, liftBytes, type WireReply } from './inference-wire';
import { deserializeError } from './runtime-messages';
import { DeploymentError, WorkerUnavailableError } from './runtime-errors';
import { rankWorkers } from './replica-placement';
import type { WorkerDirectory, WorkerEntry } from './worker-directory';

export interface WorkerBackedRuntimeOptions {
  directory: WorkerDirectory;
  secret: string;
  /** Deadline of infer, undeploy and stats on one worker. */
  timeoutMs: number;
  /** Deadline of deploy and inspect: loading and warming a large model takes a while. */
  loadTimeoutMs: number;
  /** Largest encoded call or answer. */
  maxRequestBytes: number;
  /** How long a worker that refused a connection is tried last (it is probably gone). */
  suspectMs: number;
  observer?: InferenceObserver;
  log: Logger;
}

/** The connection failed or broke before an answer: the worker is gone or unreachable. */
class ConnectionFailed extends Error {
  constructor(message: string, readonly reusedSocket: boolean) {
    super(message);
  }
}

class NoAnswer extends Error {}

interface Answer {
  status: number;
  reply: WireReply;
}

const EMPTY_STATS: RuntimeStats = { loads: 0, reloads: 0, evictions: 0, hits: 0, loadedSessions: 0, loadedBytes: 0, registeredModels: 0, endpoints: {} };

export class WorkerBackedRuntime implements InferenceRuntime {
  private readonly agents = {
    'http:': new http.Agent({ keepAlive: true, maxSockets: 256 }),
    'https:': new https.Agent({ keepAlive: true, maxSockets: 256 }),
  };
  /** Calls this process has in flight per worker id. */
  private readonly inFlight = new Map<string, number>();
  /** Worker id → when a refused connection stops counting against it. */
  private readonly suspect = new Map<string, number>();
  private readonly labels = new Map<string, string>();
  private turn = 0;

  constructor(private readonly o: WorkerBackedRuntimeOptions) {}

  /** Kinds some live worker serves now. */
  get accelerators(): readonly string[] {
    return [...new Set(this.o.directory.current().map((w) => w.kind))];
  }

  async deploy(d: EndpointDeployment): Promise<DeployedModel> {
    this.labels.set(d.endpointId, d.label);
    const workers = (await this.o.directory.refresh()).filter((w) => w.kind === d.accelerator);
    if (workers.length === 0) {
      throw new DeploymentError(`no worker serving accelerator '${d.accelerator}' is running; start one (npm run worker with WORKER_KIND=${d.accelerator}) and deploy again`);
    }
    const body = Buffer.from(JSON.stringify({ deployment: d }));
    const load = async (w: WorkerEntry) => {
      const value = unwrap(await this.exchange(w, INFERENCE_ROUTES.deploy, body, 'application/json', this.o.loadTimeoutMs)) as DeployedModel;
      w.endpoints.add(d.endpointId);
      return value;
    };
    if (workers.length < d.minReplicas) {
      throw new DeploymentError(`it asks for at least ${d.minReplicas} replicas, but ${workers.length} worker${workers.length === 1 ? '' : 's'} `
        + `serving accelerator '${d.accelerator}' ${workers.length === 1 ? 'is' : 'are'} running; start more or lower minReplicas, and deploy again`);
    }
    const ranked = rankWorkers(d.endpointId, workers);
    const inLine = ranked.slice(0, Math.max(1, d.maxReplicas));
    const settled = await Promise.allSettled(inLine.map(load));
    const loaded = settled.find((s): s is PromiseFulfilledResult<DeployedModel> => s.status === 'fulfilled');
    settled.forEach((s, i) => {
      if (s.status === 'rejected') this.o.log.warn({ worker: inLine[i].url, endpoint: d.label, err: (s.reason as Error).message }, 'a worker could not load an endpoint');
    });
    if (loaded) return loaded.value;
    const failures = settled.map((s) => (s as PromiseRejectedResult).reason as Error);
    const modelFault = failures.find((e) => (e instanceof EngineError && !(e instanceof WorkerUnavailableError)) || e instanceof DeploymentError);
    if (modelFault) throw modelFault;
    // None in line could be reached (gone, their heartbeats not yet lapsed): the next in line,
    // one at a time, until one holds it. Their reconciles settle the rest once the directory
    // has caught up.
    for (const w of ranked.slice(inLine.length)) {
      try {
        return await load(w);
      } catch (error) {
        if (error instanceof ConnectionFailed) continue;
        throw error;
      }
    }
    // Addresses and transport details stay in the log: the reason is shown to the endpoint's owner.
    throw new DeploymentError(`no worker serving accelerator '${d.accelerator}' could be reached; deploy again shortly`);
  }

  async infer(endpointId: string, inputs: unknown[], options: InferOptions = {}): Promise<RuntimeInferResult> {
    const started = performance.now();
    let label = this.labels.get(endpointId) ?? endpointId;
    const report = (code: string | null) => this.o.observer?.request(label, { code, items: inputs.length, latencyMs: performance.now() - started });
    try {
      const lifted = liftBytes(inputs);
      const body = Buffer.from(JSON.stringify({ endpointId, inputs: lifted.inputs, binary: lifted.binary, options }));
      if (body.byteLength > this.o.maxRequestBytes) {
        throw new EngineInputError(`the inputs of this call are ${body.byteLength} bytes once encoded for a model worker; `
          + `one call may carry at most ${this.o.maxRequestBytes} (send fewer or smaller inputs per call, or submit a job)`);
      }
      // The cached view first; a fresh one when it offers nobody, or when everybody it offered
      // is gone (a worker that restarted is a new row).
      const tried = new Set<string>();
      let busy: Error | undefined;
      let view = this.o.directory.current();
      for (let pass = 0; pass < 2; pass++) {
        if (pass === 1) view = await this.o.directory.refresh();
        for (const worker of this.holders(view, endpointId).filter((w) => !tried.has(w.id))) {
          tried.add(worker.id);
          let answer: Answer;
          try {
            answer = await this.exchange(worker, INFERENCE_ROUTES.infer, body, 'application/json', this.o.timeoutMs);
          } catch (error) {
            if (error instanceof ConnectionFailed) continue; // gone: the next holder takes it
            throw error;
          }
          if (answer.reply.label) {
            label = answer.reply.label;
            this.labels.set(endpointId, label);
          }
          if ('value' in answer.reply) {
            const result = answer.reply.value as RuntimeInferResult;
            report(null);
            // The caller's latency includes the hop: that is the time this runtime took.
            return { ...result, latencyMs: performance.now() - started };
          }
          const error = deserializeError(answer.reply.error);
          const code = (error as { code?: string }).code;
          if (code === 'STOPPED') {
            worker.endpoints.delete(endpointId); // it no longer holds it; its next heartbeat says what it does hold
            continue;
          }
          if (code === 'OVERLOADED') {
            busy = error;
            continue;
          }
          throw error;
        }
        if (busy) break;
      }
      if (busy) throw busy;
      throw await this.unavailable(endpointId, tried.size);
    } catch (error) {
      report(error instanceof EngineError ? error.code : 'INTERNAL');
      throw error;
    }
  }

  async undeploy(endpointId: string): Promise<void> {
    const workers = await this.o.directory.refresh().catch(() => this.o.directory.current());
    const body = Buffer.from(JSON.stringify({ endpointId }));
    await Promise.all(workers.map(async (w) => {
      try {
        unwrap(await this.exchange(w, INFERENCE_ROUTES.undeploy, body, 'application/json', this.o.timeoutMs));
        w.endpoints.delete(endpointId);
      } catch (err) {
        this.o.log.warn({ worker: w.url, endpoint: endpointId, err: (err as Error).message }, 'a worker missed an undeploy; it drops the endpoint when it reconciles');
      }
    }));
  }

  isDeployed(endpointId: string): boolean {
    return this.o.directory.current().some((w) => w.endpoints.has(endpointId));
  }

  inspect(bytes: Uint8Array, handler: string, config: Record<string, unknown>): Promise<ModelSignature> {
    return this.inspectOn(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { handler, config });
  }

  /** The worker reads the file from the shared blob store: a model of a gigabyte is not read here, nor sent. */
  inspectStored(sha256: string, handler: string, config: Record<string, unknown>): Promise<ModelSignature> {
    return this.inspectOn(Buffer.alloc(0), { handler, config, sha256 });
  }

  private async inspectOn(body: Buffer, inspection: { handler: string; config: Record<string, unknown>; sha256?: string }): Promise<ModelSignature> {
    const settings = Buffer.from(JSON.stringify(inspection)).toString('base64url');
    for (const worker of this.order(await this.o.directory.refresh())) {
      try {
        return unwrap(await this.exchange(worker, INFERENCE_ROUTES.inspect, body, 'application/octet-stream', this.o.loadTimeoutMs,
          { [INSPECT_HEADER]: settings })) as ModelSignature;
      } catch (error) {
        if (!(error instanceof ConnectionFailed)) throw error;
      }
    }
    throw new WorkerUnavailableError('no model worker is reachable to check the model file; retry shortly');
  }

  async stats(): Promise<RuntimeStats> {
    const workers = await this.o.directory.refresh();
    const all = await Promise.allSettled(workers.map(async (w) =>
      unwrap(await this.exchange(w, INFERENCE_ROUTES.stats, undefined, undefined, this.o.timeoutMs)) as RuntimeStats));
    const sum: RuntimeStats = { ...EMPTY_STATS, endpoints: {} };
    for (const s of all) {
      if (s.status !== 'fulfilled') continue;
      for (const key of ['loads', 'reloads', 'evictions', 'hits', 'loadedSessions', 'loadedBytes', 'registeredModels'] as const) sum[key] += s.value[key];
      for (const [id, e] of Object.entries(s.value.endpoints)) sum.endpoints[id] = { queued: (sum.endpoints[id]?.queued ?? 0) + e.queued };
    }
    return sum;
  }

  async close(): Promise<void> {
    this.agents['http:'].destroy();
    this.agents['https:'].destroy();
  }

  /** Live workers holding the endpoint, best first. */
  private holders(workers: WorkerEntry[], endpointId: string): WorkerEntry[] {
    return this.order(workers.filter((w) => w.endpoints.has(endpointId)));
  }

  /** Fewest calls in flight first, rotating among equals; workers that just refused a connection last. */
  private order(workers: WorkerEntry[]): WorkerEntry[] {
    if (workers.length < 2) return workers;
    const now = Date.now();
    for (const [id, until] of this.suspect) if (until <= now) this.suspect.delete(id);
    const start = this.turn++ % workers.length;
    const rotated = [...workers.slice(start), ...workers.slice(0, start)];
    const rank = (w: WorkerEntry) => ((this.suspect.get(w.id) ?? 0) > now ? 1e9 : 0) + (this.inFlight.get(w.id) ?? 0);
    return rotated.sort((a, b) => rank(a) - rank(b));
  }

  /** Why nothing could take the call, in words a caller can act on (the log has each worker's failure). */
  private async unavailable(endpointId: string, triedWorkers: number): Promise<WorkerUnavailableError> {
    const kind = await this.o.directory.acceleratorOf(endpointId).catch(() => undefined);
    const ofKind = kind ? this.o.directory.current().filter((w) => w.kind === kind).length : 0;
    if (triedWorkers === 0 && ofKind > 0) {
      return new WorkerUnavailableError(`the endpoint is not loaded on any of the ${ofKind} live '${kind}' workers yet; retry shortly`);
    }
    return new WorkerUnavailableError(`no worker serving '${kind ?? 'this endpoint'}' is reachable; retry shortly`);
  }

  /** One request to one worker; a keep-alive socket the worker closed meanwhile is retried once, fresh. */
  private async exchange(
    worker: WorkerEntry, route: string, body: Buffer | undefined, contentType: string | undefined, timeoutMs: number,
    headers: Record<string, string> = {},
  ): Promise<Answer> {
    this.inFlight.set(worker.id, (this.inFlight.get(worker.id) ?? 0) + 1);
    try {
      let answer: Answer;
      try {
        answer = await this.send(worker, route, body, contentType, timeoutMs, headers);
      } catch (error) {
        if (!(error instanceof ConnectionFailed && error.reusedSocket)) throw error;
        answer = await this.send(worker, route, body, contentType, timeoutMs, headers);
      }
      if (answer.status === 401) {
        this.o.log.error({ worker: worker.url }, 'a worker refused this API process\'s inference secret');
        throw new Error(`worker ${worker.node} (${worker.url}) refused the inference secret: INFERENCE_SECRET (or DATA_DIR/inference.secret) must be the same for API processes and workers`);
      }
      this.suspect.delete(worker.id);
      return answer;
    } catch (error) {
      if (error instanceof ConnectionFailed) {
        this.suspect.set(worker.id, Date.now() + this.o.suspectMs);
        this.o.log.warn({ worker: worker.url, err: error.message }, 'a worker could not be reached; trying another');
      }
      if (error instanceof NoAnswer) {
        throw new WorkerUnavailableError(`worker ${worker.node} did not answer within ${timeoutMs} ms; retry shortly`);
      }
      throw error;
    } finally {
      const left = (this.inFlight.get(worker.id) ?? 1) - 1;
      if (left > 0) this.inFlight.set(worker.id, left);
      else this.inFlight.delete(worker.id);
    }
  }

  private send(
    worker: WorkerEntry, route: string, body: Buffer | undefined, contentType: string | undefined, timeoutMs: number,
    headers: Record<string, string>,
  ): Promise<Answer> {
    const url = new URL(route, worker.url);
    const agent = this.agents[url.protocol as 'http:' | 'https:'];
    if (!agent) return Promise.reject(new Error(`worker ${worker.node} advertises an unsupported URL ${worker.url}`));
    const transport = url.protocol === 'https:' ? https : http;
    return new Promise<Answer>((resolve, reject) => {
      let answered = false;
      const req = transport.request(url, {
        method: body ? 'POST' : 'GET',
        agent,
        headers: {
          authorization: bearer(this.o.secret),
          ...(body ? { 'content-type': contentType ?? 'application/json', 'content-length': String(body.byteLength) } : {}),
          ...headers,
        },
      });
      const deadline = setTimeout(() => req.destroy(new NoAnswer()), timeoutMs);
      req.on('error', (error) => {
        clearTimeout(deadline);
        if (error instanceof NoAnswer) reject(error);
        else if (!answered) reject(new ConnectionFailed(`${worker.url}: ${(error as NodeJS.ErrnoException).code ?? error.message}`, req.reusedSocket));
        else reject(new Error(`the answer of worker ${worker.node} broke off: ${error.message}`));
      });
      req.on('response', (res) => {
        answered = true;
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (chunk: Buffer) => {
          size += chunk.byteLength;
          if (size > this.o.maxRequestBytes) {
            req.destroy(new Error(`the answer of worker ${worker.node} exceeds ${this.o.maxRequestBytes} bytes`));
            return;
          }
          chunks.push(chunk);
        });
        res.on('error', () => undefined); // reported through req's error
        res.on('end', () => {
          clearTimeout(deadline);
          try {
            resolve({ status: res.statusCode ?? 0, reply: JSON.parse(Buffer.concat(chunks).toString('utf8')) as WireReply });
          } catch {
            reject(new Error(`worker ${worker.node} answered ${res.statusCode} with a body that is not the inference wire format`));
          }
        });
      });
      req.end(body);
    });
  }
}

/** The value of a successful answer, else its error as the engine's class. */
function unwrap(answer: Answer): unknown {
  if ('value' in answer.reply) return answer.reply.value;
  if (!answer.reply.error) throw new Error(`unexpected answer (HTTP ${answer.status})`);
  // A placement refusal (wrong kind) keeps its class, so deploy can tell it from a broken link.
  if (answer.reply.error.name === 'DeploymentError') throw new DeploymentError(answer.reply.error.message);
  throw deserializeError(answer.reply.error);
}
