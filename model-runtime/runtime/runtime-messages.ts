// What crosses the boundary between a runtime's caller and the thread (threaded-runtime.ts) or
// the worker process (worker-backed-runtime.ts) that runs the engine: requests, replies, observer
// events, and errors as plain data rebuilt into the engine's error classes on the other side, so
// `instanceof`, `code` and `inputIndex` survive. Imports engine-errors and types only: the API's
// end of split mode's hop must not load ONNX Runtime.
import type { RuntimeOptions } from '../engine';
import { EngineInputError, EngineOverloadedError, EngineStoppedError, InvalidModelError } from '../engine/engine-errors';
import type { EndpointDeployment, InferOptions } from './inference-runtime';

export interface EngineThreadSettings {
  accelerators: string[];
  /** Without the warning callback: functions do not cross threads (warnings go to process.emitWarning). */
  runtime: Omit<RuntimeOptions, 'onWarning'>;
  maxSessions?: number;
  maxQueueSize?: number;
}

export type RuntimeRequest =
  | { id: number; op: 'deploy'; deployment: EndpointDeployment; bytes: Uint8Array }
  | { id: number; op: 'infer'; endpointId: string; inputs: unknown[]; options: InferOptions }
  | { id: number; op: 'undeploy'; endpointId: string }
  | { id: number; op: 'inspect'; bytes: Uint8Array; handler: string; config: Record<string, unknown> }
  | { id: number; op: 'stats' }
  | { id: number; op: 'close' };

export interface SerializedError {
  name: string;
  message: string;
  code?: string;
  inputIndex?: number;
}

export type RuntimeMessage =
  | { kind: 'reply'; id: number; ok: true; value: unknown }
  | { kind: 'reply'; id: number; ok: false; error: SerializedError }
  | { kind: 'batch'; label: string; event: { batchSize: number; queueMs: number; runMs: number; errors: number } }
  | { kind: 'request'; label: string; event: { code: string | null; items: number; latencyMs: number } };

export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error) };
  const { code, inputIndex } = error as { code?: unknown; inputIndex?: unknown };
  return {
    name: error.name,
    message: error.message,
    ...(typeof code === 'string' ? { code } : {}),
    ...(typeof inputIndex === 'number' ? { inputIndex } : {}),
  };
}

export function deserializeError(e: SerializedError): Error {
  switch (e.code) {
    case 'BAD_INPUT':
      return new EngineInputError(e.message, e.inputIndex);
    case 'INVALID_MODEL':
      return new InvalidModelError(e.message);
    case 'OVERLOADED':
      return new EngineOverloadedError(e.message);
    case 'STOPPED':
      return new EngineStoppedError(e.message);
    default: {
      const error = new Error(e.message);
      error.name = e.name;
      return error;
    }
  }
}
