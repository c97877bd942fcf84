// A worker process's inference endpoint: the InferenceRuntime operations over HTTP, for API
// processes in split mode (the client is model-runtime/runtime/worker-backed-runtime.ts, the
// format model-runtime/runtime/inference-wire.ts).
//
// Why HTTP/1.1 + JSON on node:http (through express, already our HTTP stack) rather than gRPC, a
// message queue or a raw socket protocol: a sync `infer` is one request and one answer, latency
// bound, and must fail fast when the worker is gone — a keep-alive connection per API process
// and worker does that with no broker in the path and nothing new to install or operate
// (PostgreSQL stays the only shared infrastructure; the queue is for shards, whose latency
// matters less). Requests are few and large enough that JSON's cost is small next to a model
// run, and an operator can call the endpoint with curl.
//
// Security: bound to 127.0.0.1 unless INFERENCE_LISTEN says otherwise; every request must carry
// the shared secret (compared in constant time before the body is read); bodies are bounded
// (INFERENCE_MAX_REQUEST_BYTES, model files by BLOB_MAX_BYTES). The secret guards the hop, it
// does not encrypt it: across machines, run it on a private network (or behind TLS and
// advertise an https URL).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Logger } from '../../core/logger';
import { EngineInputError, EngineOverloadedError, EngineStoppedError, InvalidModelError } from '../engine/engine-errors';
import type { EndpointDeployment, InferenceRuntime, InferOptions } from '../runtime/inference-runtime';
import { INFERENCE_ROUTES, INSPECT_HEADER, presentsSecret, restoreBytes, type BinaryField, type WireReply } from '../runtime/inference-wire';
import { serializeError } from '../runtime/runtime-messages';

export interface InferenceServerOptions {
  runtime: InferenceRuntime;
  secret: string;
  host: string;
  port: number;
  /** Largest JSON request (infer, deploy, …). */
  maxRequestBytes: number;
  /** Largest model file sent for inspection. */
  maxModelBytes: number;
  /** A model file from the blob store shared with API processes, by content address. */
  loadModel: (sha256: string) => Promise<Uint8Array>;
  /** "<owner slug>/<endpoint name>" of a deployed endpoint, for the API's metrics. */
  labelOf: (endpointId: string) => string | undefined;
  log: Logger;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** A request that is not what an API process sends: a bug or a stranger, never a member's input. */
class MalformedRequest extends Error {}

function statusOf(error: unknown): number {
  if (error instanceof MalformedRequest) return 400;
  if (error instanceof EngineInputError || error instanceof InvalidModelError) return 422;
  if (error instanceof EngineOverloadedError || error instanceof EngineStoppedError) return 503;
  return 500;
}

function send(res: Response, status: number, reply: WireReply): void {
  let body: string;
  try {
    body = JSON.stringify(reply);
  } catch (error) {
    status = 500;
    body = JSON.stringify({ error: serializeError(new Error(`the answer could not be encoded: ${(error as Error).message}`)) });
  }
  res.status(status).type('application/json').send(body);
}

function object(value: unknown, what: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new MalformedRequest(`${what} must be an object`);
  return value as Record<string, unknown>;
}

function endpointIdOf(body: Record<string, unknown>): string {
  if (typeof body.endpointId !== 'string' || !UUID.test(body.endpointId)) throw new MalformedRequest('endpointId must be a uuid');
  return body.endpointId;
}

export class InferenceServer {
  private server?: http.Server;

  constructor(private readonly o: InferenceServerOptions) {}

  /** Listens; resolves with the bound address (port 0 picks a free one). */
  /** An operator's mistake, not a member's: it reaches the API's log, the member sees INTERNAL. */
  private async stored(sha256: string): Promise<Uint8Array> {
    try {
      return await this.o.loadModel(sha256);
    } catch (error) {
      throw new Error(`model file ${sha256} could not be read from this worker's blob store (${(error as Error).message}); `
        + 'API processes and workers must share DATA_DIR');
    }
  }

  async start(): Promise<AddressInfo> {
    const server = http.createServer(this.app());
    // Longer than any client keeps an idle socket, so a reused keep-alive connection is rarely
    // closed under a request; the client retries once when it is.
    server.keepAliveTimeout = 65_000;
    server.headersTimeout = 66_000;
    // Large inputs and model files take a while to arrive; a model run is not bounded here
    // (the client's deadline is).
    server.requestTimeout = 300_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.o.port, this.o.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.server = server;
    return server.address() as AddressInfo;
  }

  /** Stops accepting; requests in flight finish within `graceMs`, then connections are cut. */
  async close(graceMs: number): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([closed, new Promise<void>((resolve) => (timer = setTimeout(resolve, graceMs)))]);
    clearTimeout(timer);
    server.closeAllConnections();
    await closed;
  }

  private app(): express.Express {
    const { runtime, log } = this.o;
    const app = express();
    app.disable('x-powered-by');
    app.disable('etag');
    // Before any body is read: a caller without the secret costs a hash, nothing more.
    app.use((req, res, next) => {
      if (presentsSecret(req.headers.authorization, this.o.secret)) return next();
      log.warn({ from: req.socket.remoteAddress, path: req.path }, 'inference request without the shared secret refused');
      res.setHeader('connection', 'close');
      send(res, 401, { error: { name: 'Unauthorized', message: 'this worker answers API processes holding the inference secret (INFERENCE_SECRET)' } });
    });
    const json = express.json({ limit: this.o.maxRequestBytes });
    const run = (work: (req: Request) => Promise<unknown>, label?: (req: Request) => string | undefined) =>
      (req: Request, res: Response) => {
        Promise.resolve().then(() => work(req)).then(
          (value) => send(res, 200, { value, label: label?.(req) }),
          (error) => {
            if (statusOf(error) === 500) log.error({ err: error, path: req.path }, 'inference request failed');
            send(res, statusOf(error), { error: serializeError(error), label: label?.(req) });
          });
      };
    const labelOfBody = (req: Request) => {
      const id = (req.body as { endpointId?: unknown } | undefined)?.endpointId;
      return typeof id === 'string' ? this.o.labelOf(id) : undefined;
    };

    app.post(INFERENCE_ROUTES.infer, json, run(async (req) => {
      const body = object(req.body, 'the request');
      const endpointId = endpointIdOf(body);
      if (!Array.isArray(body.inputs)) throw new MalformedRequest('inputs must be a list');
      const binary = body.binary ?? [];
      if (!Array.isArray(binary)) throw new MalformedRequest('binary must be a list');
      let inputs: unknown[];
      try {
        inputs = restoreBytes(body.inputs, binary as BinaryField[]);
      } catch (error) {
        throw new MalformedRequest((error as Error).message);
      }
      const options = object(body.options ?? {}, 'options');
      return runtime.infer(endpointId, inputs, { isolateFailures: options.isolateFailures === true } satisfies InferOptions);
    }, labelOfBody));

    app.post(INFERENCE_ROUTES.deploy, json, run(async (req) => {
      const deployment = object(object(req.body, 'the request').deployment, 'deployment') as unknown as EndpointDeployment;
      if (typeof deployment.endpointId !== 'string' || !UUID.test(deployment.endpointId)) throw new MalformedRequest('deployment.endpointId must be a uuid');
      return runtime.deploy(deployment);
    }));

    app.post(INFERENCE_ROUTES.undeploy, json, run(async (req) => {
      await runtime.undeploy(endpointIdOf(object(req.body, 'the request')));
      return null;
    }));

    app.post(INFERENCE_ROUTES.inspect, express.raw({ type: () => true, limit: this.o.maxModelBytes }), run(async (req) => {
      let settings: { handler?: unknown; config?: unknown; sha256?: unknown };
      try {
        settings = JSON.parse(Buffer.from(String(req.headers[INSPECT_HEADER] ?? ''), 'base64url').toString('utf8'));
      } catch {
        throw new MalformedRequest(`the ${INSPECT_HEADER} header must be base64url JSON { handler, config }`);
      }
      if (typeof settings.handler !== 'string') throw new MalformedRequest('handler must be a string');
      if (settings.sha256 !== undefined && (typeof settings.sha256 !== 'string' || !/^[0-9a-f]{64}$/.test(settings.sha256))) {
        throw new MalformedRequest('sha256 must be a hex SHA-256');
      }
      const bytes = typeof settings.sha256 === 'string' ? await this.stored(settings.sha256)
        : req.body instanceof Buffer ? new Uint8Array(req.body.buffer, req.body.byteOffset, req.body.byteLength) : new Uint8Array();
      return runtime.inspect(bytes, settings.handler, object(settings.config ?? {}, 'config'));
    }));

    app.get(INFERENCE_ROUTES.stats, run(() => runtime.stats()));

    // Body parser failures: too large (the API checks sizes first, so this is a mismatch of
    // INFERENCE_MAX_REQUEST_BYTES between processes) or not JSON.
    app.use((error: { status?: number; type?: string; message?: string }, req: Request, res: Response, next: NextFunction) => {
      void next;
      if (error.type === 'entity.too.large') {
        send(res, 413, { error: serializeError(new EngineInputError(
          `the request is larger than this worker accepts (${this.o.maxRequestBytes} bytes); send fewer or smaller inputs per call`)) });
        return;
      }
      const status = error.status && error.status < 500 ? error.status : 500;
      if (status === 500) log.error({ err: error, path: req.path }, 'inference request failed');
      send(res, status, { error: { name: 'MalformedRequest', message: error.message ?? 'malformed request' } });
    });
    app.use((_req, res) => send(res, 404, { error: { name: 'NotFound', message: 'no such inference route' } }));
    return app;
  }
}
