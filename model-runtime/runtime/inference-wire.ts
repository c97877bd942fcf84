// The wire format of split mode's hop between an API process (worker-backed-runtime.ts) and a
// worker process (model-runtime/worker/inference-server.ts): HTTP/1.1 with JSON bodies, one
// route per InferenceRuntime operation, the shared secret as a bearer token.
//
// Inputs cross as JSON exactly as the client sent them (base64 media stays a string; the worker's
// handlers decode it, as they would in-process). The one thing JSON cannot carry is bytes the API
// already has — resolved from a `blobId`, or a large inline value it decoded straight from the
// request body (api/graphql/json-body.ts) — as { bytes: Uint8Array }: those are lifted out of
// the inputs into `binary`, each with its path, and put back on the other side. Paths, not
// in-band markers: no object a member sends can be mistaken for bytes.
//
// Errors come back as runtime-messages.ts's SerializedError, so a bad input keeps its code,
// message and inputIndex across the hop and the API maps it exactly as in all-in-one mode.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { SerializedError } from './runtime-messages';

export const INFERENCE_ROUTES = {
  deploy: '/v1/deploy',
  infer: '/v1/infer',
  undeploy: '/v1/undeploy',
  inspect: '/v1/inspect',
  stats: '/v1/stats',
} as const;

/**
 * Model signature inspection sends the file as the raw body; its handler and config ride here —
 * or, with `sha256` among them and no body, the worker reads the file from the blob store it
 * shares with API processes (registration through an API process: nothing crosses the hop).
 */
export const INSPECT_HEADER = 'x-alliance-inspect';

/** Success: `value` is the runtime's answer. Failure: the error as plain data. */
export type WireReply = { value: unknown; label?: string } | { error: SerializedError; label?: string };

export interface BinaryField {
  /** Keys and indexes from `inputs` down to the bytes. */
  path: (string | number)[];
  base64: string;
}

/** Copy-on-write: containers are copied only on the way to a Uint8Array; the rest is shared. */
export function liftBytes(inputs: unknown[]): { inputs: unknown[]; binary: BinaryField[] } {
  const binary: BinaryField[] = [];
  const walk = (value: unknown, path: (string | number)[]): unknown => {
    if (value instanceof Uint8Array) {
      binary.push({ path, base64: Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64') });
      return null;
    }
    if (Array.isArray(value)) {
      let copy: unknown[] | undefined;
      for (let i = 0; i < value.length; i++) {
        const item = value[i];
        if (item === null || typeof item !== 'object') continue;
        const lifted = walk(item, [...path, i]);
        if (lifted !== item) (copy ??= value.slice())[i] = lifted;
      }
      return copy ?? value;
    }
    if (value !== null && typeof value === 'object') {
      let copy: Record<string, unknown> | undefined;
      for (const [key, item] of Object.entries(value)) {
        if (item === null || typeof item !== 'object') continue;
        const lifted = walk(item, [...path, key]);
        if (lifted !== item) (copy ??= { ...(value as Record<string, unknown>) })[key] = lifted;
      }
      return copy ?? value;
    }
    return value;
  };
  return { inputs: walk(inputs, []) as unknown[], binary };
}

/**
 * Puts lifted bytes back (in place: `inputs` was just parsed from the request). A path must end
 * at an own property of a parsed container: nothing can be written through a prototype.
 */
export function restoreBytes(inputs: unknown[], binary: BinaryField[]): unknown[] {
  for (const field of binary) {
    if (!Array.isArray(field.path) || field.path.length === 0 || typeof field.base64 !== 'string') {
      throw new Error('malformed binary field');
    }
    let holder: unknown = inputs;
    for (let i = 0; i < field.path.length - 1; i++) holder = ownChild(holder, field.path[i]);
    const last = field.path[field.path.length - 1];
    ownChild(holder, last); // must exist (the sender left null there)
    const decoded = Buffer.from(field.base64, 'base64');
    // A small Buffer is a view of Node's shared pool; the engine thread would receive the pool.
    const bytes = decoded.byteLength === decoded.buffer.byteLength
      ? new Uint8Array(decoded.buffer, decoded.byteOffset, decoded.byteLength)
      : new Uint8Array(decoded);
    Object.defineProperty(holder, last, { value: bytes, enumerable: true, writable: true, configurable: true });
  }
  return inputs;
}

function ownChild(holder: unknown, key: unknown): unknown {
  const ok = Array.isArray(holder)
    ? Number.isInteger(key) && (key as number) >= 0 && (key as number) < holder.length
    : holder !== null && typeof holder === 'object' && typeof key === 'string' && Object.prototype.hasOwnProperty.call(holder, key);
  if (!ok) throw new Error('malformed binary field: its path leaves the inputs');
  return (holder as Record<string | number, unknown>)[key as string | number];
}

export function bearer(secret: string): string {
  return `Bearer ${secret}`;
}

/**
 * Constant time in the secret: both sides are hashed first, so neither the content nor the
 * length of the expected secret leaks through timing.
 */
export function presentsSecret(authorization: string | undefined, secret: string): boolean {
  if (typeof authorization !== 'string') return false;
  const digest = (text: string) => createHash('sha256').update(text).digest();
  return timingSafeEqual(digest(authorization), digest(bearer(secret)));
}
