// Which model runtime a process uses, by mode:
//   all-in-one — the engine on a thread of its own (ThreadedRuntime; INFERENCE_THREAD=false keeps
//                it on the calling thread), serving sync infer and this process's job shards;
//   worker     — the same, also served to API processes (InferenceHost);
//   api        — no engine: every call is forwarded to the workers (WorkerBackedRuntime), so an
//                API process never loads ONNX Runtime.
import type { BlobsService } from '../resolvers/blobs/blobs.service';
import type { Config } from '../core/config';
import type { Logger } from '../core/logger';
import type { InferenceRuntime } from '../model-runtime/runtime/inference-runtime';
import { ThreadedRuntime } from '../model-runtime/runtime/threaded-runtime';
import { WorkerBackedRuntime } from '../model-runtime/runtime/worker-backed-runtime';
import { WorkerDirectory } from '../model-runtime/runtime/worker-directory';
import { InferenceHost } from '../model-runtime/worker/inference-host';
import { secretFromDataDir } from '../tenants/database-roles';
import type { TenantDatabase } from '../tenants/tenant-database';
import type { Metrics } from './metrics';

export interface ModelRuntimeParts {
  db: TenantDatabase;
  blobs: BlobsService;
  metrics: Metrics;
  log: Logger;
}

export function createModelRuntime(config: Config, { db, blobs, metrics, log }: ModelRuntimeParts): {
  runtime: InferenceRuntime;
  /** Worker mode only: start it once endpoints are warm, stop it before the runtime. */
  inferenceHost?: InferenceHost;
} {
  const split = config.inference.split;
  const splitSecret = config.mode === 'all-in-one' ? '' : split.secret ?? secretFromDataDir(config.dataDir, 'inference');
  let inferenceHost: InferenceHost | undefined;
  let runtime: InferenceRuntime;
  if (config.mode === 'api') {
    runtime = new WorkerBackedRuntime({
      directory: new WorkerDirectory(db, { liveSeconds: config.jobs.deviceTimeoutSeconds, maxAgeMs: 1000 }),
      secret: splitSecret,
      timeoutMs: split.forwardTimeoutMs,
      loadTimeoutMs: Math.max(split.forwardTimeoutMs, 300_000),
      maxRequestBytes: split.maxRequestBytes,
      suspectMs: config.jobs.deviceTimeoutSeconds * 1000,
      observer: metrics.inferenceObserver(),
      log,
    });
  } else {
    const runtimeOptions = {
      executionProviders: config.inference.executionProviders,
      intraOpNumThreads: config.inference.intraOpThreads || undefined,
      intraOpSpinning: config.inference.intraOpSpinning,
    };
    const runtimeSettings = {
      loadModel: (sha256: string) => blobs.storedBytes(sha256),
      accelerators: [config.jobs.workerKind],
      maxSessions: config.inference.maxSessions,
      maxQueueSize: config.inference.maxQueueSize,
      observer: metrics.inferenceObserver(),
    };
    const local: InferenceRuntime = config.inference.thread
      ? new ThreadedRuntime({ ...runtimeSettings, runtime: runtimeOptions, onThreadExit: (code) => log.error({ code }, 'model runtime thread stopped') })
      : new (inProcessRuntime())({ ...runtimeSettings, runtime: { ...runtimeOptions, onWarning: (message: string) => log.warn(message) } });
    runtime = config.mode === 'worker' ? (inferenceHost = new InferenceHost(local, db, {
      node: config.jobs.workerNode, kind: config.jobs.workerKind, listenHost: split.listenHost, listenPort: split.listenPort,
      advertiseUrl: split.advertiseUrl, secret: splitSecret, maxRequestBytes: split.maxRequestBytes, maxModelBytes: config.blobMaxBytes,
      loadModel: runtimeSettings.loadModel,
      heartbeatSeconds: config.jobs.heartbeatSeconds, deviceTimeoutSeconds: config.jobs.deviceTimeoutSeconds,
      shutdownGraceMs: config.shutdownGraceMs, log,
    })) : local;
  }
  return { runtime, inferenceHost };
}

/**
 * The engine on this very thread (INFERENCE_THREAD=false). Required, not imported: loading it
 * loads ONNX Runtime, which split mode's API processes must never do.
 */
function inProcessRuntime(): typeof import('../model-runtime/runtime/in-process-runtime').InProcessRuntime {
  return (require('../model-runtime/runtime/in-process-runtime') as typeof import('../model-runtime/runtime/in-process-runtime')).InProcessRuntime;
}
