// The engine's only error classes. Each carries a stable `code` so the API maps them in one
// place (BAD_INPUT → BAD_USER_INPUT, INVALID_MODEL → BAD_USER_INPUT on upload, OVERLOADED →
// RATE_LIMITED, STOPPED → a retryable unavailability). Messages are written for the caller:
// they name the input and say what was expected, and never contain file paths.

export type EngineErrorCode = 'BAD_INPUT' | 'INVALID_MODEL' | 'OVERLOADED' | 'STOPPED';

export abstract class EngineError extends Error {
  abstract readonly code: EngineErrorCode;
}

export class EngineInputError extends EngineError {
  readonly code = 'BAD_INPUT' as const;
  constructor(
    message: string,
    /** Position in the `infer` inputs list, when the error belongs to one input. */
    readonly inputIndex?: number,
  ) {
    super(message);
    this.name = 'EngineInputError';
  }
}

export class InvalidModelError extends EngineError {
  readonly code = 'INVALID_MODEL' as const;
  constructor(message: string) {
    super(message);
    this.name = 'InvalidModelError';
  }
}

export class EngineOverloadedError extends EngineError {
  readonly code = 'OVERLOADED' as const;
  constructor(message: string) {
    super(message);
    this.name = 'EngineOverloadedError';
  }
}

export class EngineStoppedError extends EngineError {
  readonly code = 'STOPPED' as const;
  constructor(message: string) {
    super(message);
    this.name = 'EngineStoppedError';
  }
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
