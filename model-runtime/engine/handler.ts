import type { InferenceSession } from 'onnxruntime-node';
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
  /**
   * Present when the handler's work is a sequence of steps, each one session.run over every
   * unfinished item (VAD: one 512-sample window per clip). The engine then batches at step
   * boundaries: items join a running batch and leave it as soon as they finish.
   */
  readonly stepwise?: Stepwise<Item, Output, unknown>;
  /**
   * Intra-op threads this handler's model runs best with, over the runtime's setting: a model
   * of many tiny sequential steps loses more to handing each step's work between threads than
   * it gains from them.
   */
  readonly intraOpThreads?: number;
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

/** One session.run of the primary model, with one row per item of the step, timed and charged to those items. */
export type StepRun = (feeds: InferenceSession.FeedsType) => Promise<InferenceSession.ReturnType>;

/**
 * A handler's work split into steps that any set of items can take together, as Orca
 * (OSDI '22) schedules transformer decoding at iteration level. `Progress` is the handler's own
 * per-item state (VAD: the LSTM state, the next window, the probabilities so far); the engine
 * never looks inside it, and an item's answer must not depend on which items shared its steps.
 */
export interface Stepwise<Item, Output, Progress> {
  begin(item: Item): Progress;
  /**
   * Advances every item of `active` by one step with exactly one `run`, row i being active[i].
   * A throw fails the items of this step only.
   */
  step(run: StepRun, active: Progress[]): Promise<void>;
  done(progress: Progress): boolean;
  /** The answer of a finished item. */
  output(progress: Progress): Output;
}
