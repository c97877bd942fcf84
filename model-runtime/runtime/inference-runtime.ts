/**
 * model-runtime/runtime — the bridge between the database's endpoints and the engine that runs
 * them. The API (sync `infer`) and the batch workers (jobs) reach models only through
 * `InferenceRuntime`; nothing above this folder imports the engine's ModelEngine or
 * onnxruntime. Which runtime a process gets is api/platform.ts's choice by mode: all-in-one and
 * worker processes run the engine (threaded runtime), split mode's API processes forward to
 * workers (worker-backed runtime) and never load onnxruntime at all — files an API process loads
 * import only engine-errors.ts and types from the engine.
 *
 * Glossary
 * - deployment: what the runtime needs to serve one endpoint, read from the endpoint row and its
 *   model version (the file by content address, handler, config, batching limits).
 * - endpoint id: the endpoint row's uuid; the only key `infer` and `undeploy` take, so a caller
 *   needs nothing but the id and JSON-like inputs (no GraphQL, no request scope).
 * - in-process runtime: a ModelEngine on the calling thread (InProcessRuntime).
 * - threaded runtime: the same engine on a worker thread of this process (ThreadedRuntime, the
 *   all-in-one default). ONNX Runtime's node binding runs a model synchronously on the thread
 *   that calls it, and the handlers' pre/post-processing is JavaScript too: on the API's thread
 *   every batch would stall every other request, and every request's HTTP/JSON/database work
 *   would delay batches. Messages carry inputs and outputs by structured clone.
 * - worker-backed runtime (split mode's API processes, WorkerBackedRuntime): the same interface
 *   forwarded over HTTP to worker processes that hold replicas (model-runtime/worker/
 *   inference-host.ts serves it; inference-wire.ts is the format). Deploy loads on every live
 *   worker of the endpoint's kind; infer goes to one holding the endpoint (fewest in flight) and
 *   fails over when a worker is gone; no worker able to take a call is WorkerUnavailableError
 *   (RATE_LIMITED, "retry shortly"). Errors cross either boundary as { name, code, message,
 *   inputIndex } and are rebuilt as the engine's error classes (runtime-messages.ts), so
 *   api/graphql/format-error.ts maps them as if they had been thrown here.
 * - inference directory: the `inference_worker` rows — each worker process's address, kind and
 *   the endpoints it holds, kept alive by heartbeats (worker-directory.ts reads them).
 * - replica: one worker process holding an endpoint loaded. In-process, `minReplicas` is the
 *   number of concurrent batches on the shared session instead.
 * - item outcome: per input, its output or its own error (batch jobs record both).
 * - device seconds: measured model execution time of a call, what quota accounting bills.
 */
import type { EngineErrorCode, ModelSignature } from '../engine';

export interface EndpointDeployment {
  /** The endpoint's uuid: the key of every later call. */
  endpointId: string;
  /** "<owner slug>/<endpoint name>", for metrics and logs. */
  label: string;
  modelVersionId: string;
  /** Content address of the ONNX file in the blob store. */
  modelSha256: string;
  handler: string;
  config: Record<string, unknown>;
  /** Accelerator kind; a runtime refuses kinds it does not serve (see `accelerators`). */
  accelerator: string;
  minReplicas: number;
  maxReplicas: number;
  maxBatchSize: number;
  maxQueueDelayMs: number;
}

export interface DeployedModel {
  /** Device seconds of one item on the warm-up run; undefined when the warm-up could not measure. */
  perItemDeviceSeconds?: number;
}

export interface ItemError {
  code: EngineErrorCode | 'INTERNAL';
  message: string;
}

/** Exactly one of `output` and `error` is set. */
export type ItemOutcome = { output: unknown; error?: undefined } | { output?: undefined; error: ItemError };

export interface RuntimeInferResult {
  /** One per input, in order. */
  items: ItemOutcome[];
  /** Measured model execution time spent on this call's items. */
  deviceSeconds: number;
  /** The largest batch any of the items ran in. */
  batchSize: number;
  /** Time inside the runtime: decoding, queueing, batching, running. */
  latencyMs: number;
}

export interface InferOptions {
  /**
   * false (default, sync `infer`): the first bad input fails the whole call with its engine
   * error (EngineInputError naming `inputs[i]`), and nothing runs twice.
   * true (batch jobs): a bad input fails its own slot only. Inputs run together first; when one
   * of them fails, each is re-run alone so the others still get their outputs.
   */
  isolateFailures?: boolean;
  /**
   * The inputs' `bytes` were made for this call alone: a runtime on another thread may move
   * their memory there instead of copying it, leaving them empty here. Callers that keep their
   * inputs (a shard retried after a restart) leave this unset.
   */
  transferable?: boolean;
}

export interface InferenceRuntime {
  /** Accelerator kinds this runtime serves; deploying another kind fails with a reason. */
  readonly accelerators: readonly string[];
  /** Loads and warms the model; replaces a deployment of the same endpoint id. Throws on failure. */
  deploy(deployment: EndpointDeployment): Promise<DeployedModel>;
  /**
   * Runs inputs through a deployed endpoint. Throws engine errors by code: BAD_INPUT (a bad
   * input, unless isolated), OVERLOADED (queue full), STOPPED (not deployed here, or stopped).
   */
  infer(endpointId: string, inputs: unknown[], options?: InferOptions): Promise<RuntimeInferResult>;
  /** Stops serving; queued requests fail with STOPPED. Idempotent. */
  undeploy(endpointId: string): Promise<void>;
  isDeployed(endpointId: string): boolean;
  /**
   * Loads a model file once to record its signature and checks it fits the handler (registration
   * of a model version). Throws InvalidModelError with the reason. Runs where models run, so a
   * large file is parsed off the API's thread.
   */
  inspect(bytes: Uint8Array, handler: string, config: Record<string, unknown>): Promise<ModelSignature>;
  /**
   * The same, for a file this runtime reads from the blob store itself by its content address —
   * where that saves carrying it (split mode's API processes: the worker reads it). Runtimes
   * without it are given the bytes.
   */
  inspectStored?(sha256: string, handler: string, config: Record<string, unknown>): Promise<ModelSignature>;
  /** Session pool counters and queue lengths, for operators and tests. */
  stats(): Promise<RuntimeStats>;
  close(): Promise<void>;
}

export interface RuntimeStats {
  loads: number;
  reloads: number;
  evictions: number;
  hits: number;
  loadedSessions: number;
  loadedBytes: number;
  registeredModels: number;
  endpoints: Record<string, { queued: number }>;
}

/** What the runtime reports to metrics (api/metrics.ts implements it with prom-client). */
export interface InferenceObserver {
  /** After every batch the engine ran for an endpoint. */
  batch(label: string, event: { batchSize: number; queueMs: number; runMs: number; errors: number }): void;
  /** After every `infer` call: `code` is null on success, else the error's code. */
  request(label: string, event: { code: string | null; items: number; latencyMs: number }): void;
}
