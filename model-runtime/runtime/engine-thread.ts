// The worker thread of ThreadedRuntime: an InProcessRuntime driven by messages. Everything that
// runs models — ONNX Runtime's synchronous session.run, the handlers' decoding, pre- and
// post-processing, the dynamic batcher's timers — happens on this thread, never on the API's.
import { parentPort, workerData } from 'node:worker_threads';
import { InProcessRuntime } from './in-process-runtime';
import { serializeError, type EngineThreadSettings, type RuntimeMessage, type RuntimeRequest } from './runtime-messages';

const port = parentPort!;
const settings = workerData as EngineThreadSettings;
const post = (message: RuntimeMessage) => port.postMessage(message);

/** Model files handed over with their deploy request, until the session pool has its own copy. */
const files = new Map<string, { bytes: Uint8Array; users: number }>();

const runtime = new InProcessRuntime({
  loadModel: async (sha256) => {
    const file = files.get(sha256);
    if (!file) throw new Error(`model file ${sha256} was not sent with its deployment`);
    return file.bytes;
  },
  accelerators: settings.accelerators,
  runtime: settings.runtime,
  maxSessions: settings.maxSessions,
  maxQueueSize: settings.maxQueueSize,
  observer: {
    batch: (label, event) => post({ kind: 'batch', label, event }),
    request: (label, event) => post({ kind: 'request', label, event }),
  },
});

async function handle(request: RuntimeRequest): Promise<unknown> {
  switch (request.op) {
    case 'deploy': {
      const sha = request.deployment.modelSha256;
      const file = files.get(sha) ?? { bytes: request.bytes, users: 0 };
      file.users += 1;
      files.set(sha, file);
      try {
        return await runtime.deploy(request.deployment);
      } finally {
        if (--file.users === 0) files.delete(sha);
      }
    }
    case 'infer':
      return runtime.infer(request.endpointId, request.inputs, request.options);
    case 'undeploy':
      return runtime.undeploy(request.endpointId);
    case 'inspect':
      return runtime.inspect(request.bytes, request.handler, request.config);
    case 'stats':
      return runtime.stats();
    case 'close':
      return runtime.close();
  }
}

port.on('message', (request: RuntimeRequest) => {
  handle(request).then(
    (value) => post({ kind: 'reply', id: request.id, ok: true, value }),
    (error) => post({ kind: 'reply', id: request.id, ok: false, error: serializeError(error) }),
  );
});
