import * as ort from 'onnxruntime-node';
import { identityModel } from './onnx-model-builder';

export interface RuntimeOptions {
  /** In preference order, e.g. ['cuda', 'cpu']. Unavailable providers are dropped with a warning. */
  executionProviders?: string[];
  intraOpNumThreads?: number;
  /**
   * Let idle intra-op threads spin for new work (ONNX Runtime's default). Off unless asked for:
   * on a machine whose cores also serve the API, the database and clients, spinning threads
   * compete with them and slow every parallel step down.
   */
  intraOpSpinning?: boolean;
  onWarning?: (message: string) => void;
}

const availability = new Map<string, Promise<boolean>>();

// onnxruntime-node bundles only the CPU (and WebGPU) providers; CUDA needs shared libraries that
// npm cannot deliver, and asking for it fails session creation outright. Probing each provider
// once on a one-node graph separates "provider missing" from "model invalid", which a failed
// create on the user's model cannot.
function isAvailable(provider: string): Promise<boolean> {
  if (provider === 'cpu') return Promise.resolve(true);
  let probe = availability.get(provider);
  if (!probe) {
    probe = ort.InferenceSession.create(identityModel(), {
      executionProviders: [provider],
      logSeverityLevel: 4,
    }).then(
      async (session) => {
        await session.release();
        return true;
      },
      () => false,
    );
    availability.set(provider, probe);
  }
  return probe;
}

export async function resolveExecutionProviders(options: RuntimeOptions): Promise<string[]> {
  const requested = options.executionProviders?.length ? options.executionProviders : ['cpu'];
  const usable: string[] = [];
  for (const provider of requested) {
    if (await isAvailable(provider)) usable.push(provider);
    else (options.onWarning ?? defaultWarning)(`execution provider '${provider}' is unavailable on this machine; falling back`);
  }
  if (!usable.includes('cpu')) usable.push('cpu');
  return usable;
}

function defaultWarning(message: string): void {
  process.emitWarning(message, 'EngineWarning');
}

export async function sessionOptions(options: RuntimeOptions): Promise<ort.InferenceSession.SessionOptions> {
  return {
    executionProviders: await resolveExecutionProviders(options),
    graphOptimizationLevel: 'all',
    ...(options.intraOpNumThreads ? { intraOpNumThreads: options.intraOpNumThreads } : {}),
    // Parallelism across requests comes from batching and replicas, not from inter-op threads.
    interOpNumThreads: 1,
    executionMode: 'sequential',
    // Run failures reach the caller as exceptions; ONNX Runtime's own stderr copy is noise.
    logSeverityLevel: 4,
    extra: { session: { intra_op: { allow_spinning: options.intraOpSpinning ? '1' : '0' } } },
  };
}
