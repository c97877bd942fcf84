import type { BatchSession } from './batch-session';
import type { SessionPool } from './session-pool';
import type { ModelSignature } from './tensor-spec';

/**
 * Turns user input into tensors and tensors into answers for one kind of model. An instance is
 * created per deployed endpoint with that endpoint's config.
 */
export interface Handler<Item = unknown, Output = unknown> {
  readonly name: string;
  /** Throws InvalidModelError when the model's inputs/outputs cannot serve this handler. */
  checkSignature(signature: ModelSignature): void;
  /** Validates and decodes one request input (off the batch path); throws EngineInputError. */
  prepare(input: unknown): Promise<Item>;
  /** Runs prepared items as one batch; a failing item yields an Error in its slot only. */
  runBatch(session: BatchSession, items: Item[]): Promise<Array<Output | Error>>;
  /** A representative item for the warm-up run that also measures per-item device time. */
  warmupItem(signature: ModelSignature): Promise<Item>;
  /** Loads what the handler owns besides the registered model (OCR: recognition model, keys). */
  open?(context: HandlerContext): Promise<void>;
  close?(): Promise<void>;
}

export interface HandlerContext {
  pool: SessionPool;
}

export type HandlerFactory = (config: unknown) => Handler;
