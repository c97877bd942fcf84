// The one error type features throw. Codes are the contract's (contract/README.md, Errors);
// api/graphql/format-error.ts is the single place that turns anything thrown into a client error.

export enum ErrorCode {
  UNAUTHENTICATED = 'UNAUTHENTICATED',
  FORBIDDEN = 'FORBIDDEN',
  NOT_FOUND = 'NOT_FOUND',
  BAD_USER_INPUT = 'BAD_USER_INPUT',
  QUOTA_EXCEEDED = 'QUOTA_EXCEEDED',
  RATE_LIMITED = 'RATE_LIMITED',
  CONFLICT = 'CONFLICT',
  QUERY_TOO_COMPLEX = 'QUERY_TOO_COMPLEX',
  INTERNAL = 'INTERNAL',
}

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    /** Extra, client-safe facts (numbers a user can act on), copied into `extensions`. */
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
    this.name = 'AppError';
  }

  static notFound(what: string, id?: string): AppError {
    // Another tenant's private object and an id that never existed must read the same.
    return new AppError(ErrorCode.NOT_FOUND, id ? `${what} ${id} not found` : `${what} not found`);
  }

  static badInput(message: string, details?: Record<string, unknown>): AppError {
    return new AppError(ErrorCode.BAD_USER_INPUT, message, details);
  }

  static forbidden(message: string): AppError {
    return new AppError(ErrorCode.FORBIDDEN, message);
  }

  static conflict(message: string, details?: Record<string, unknown>): AppError {
    return new AppError(ErrorCode.CONFLICT, message, details);
  }

  static unauthenticated(message: string): AppError {
    return new AppError(ErrorCode.UNAUTHENTICATED, message);
  }
}
