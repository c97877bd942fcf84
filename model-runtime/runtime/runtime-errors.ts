// Errors of the runtime layer itself (placement and reachability), beside the engine's errors
// about models and inputs. Nothing here loads ONNX Runtime: split mode's API processes use these.
import { EngineOverloadedError } from '../engine/engine-errors';

/** A deployment that could not start for a reason of placement rather than of the model. */
export class DeploymentError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DeploymentError';
  }
}

/**
 * Split mode: no worker that could serve the call answered (none is live for the kind, none
 * holds the endpoint yet, or every candidate refused the connection). A retryable
 * unavailability, so it carries the engine's OVERLOADED code: api/graphql/format-error.ts answers
 * RATE_LIMITED with this message, the contract's "try again later" — a client backs off and
 * retries exactly as it does when a queue is full.
 */
export class WorkerUnavailableError extends EngineOverloadedError {
  constructor(message: string) {
    super(message);
    this.name = 'WorkerUnavailableError';
  }
}
