// The one place where anything thrown becomes a client error: AppError keeps its code and
// message; PostgreSQL errors map by SQLSTATE to a safe sentence; engine and token errors map by
// their own codes; anything else is INTERNAL with a correlation id that is also in the log.
// Stack traces, SQL and file paths never reach a client outside development.
import { randomUUID } from 'node:crypto';
import { unwrapResolverError } from '@apollo/server/errors';
import type { GraphQLFormattedError } from 'graphql';
import { AppError, ErrorCode } from '../../core/app-error';
import type { Logger } from '../../core/logger';
import { classifyLimitError, hideSuggestions } from './limits/limit-errors';

const PASSTHROUGH = new Set<string>(Object.values(ErrorCode));

/** Apollo's own codes, folded into the contract's closed set. */
const APOLLO_CODES: Record<string, ErrorCode> = {
  GRAPHQL_PARSE_FAILED: ErrorCode.BAD_USER_INPUT,
  GRAPHQL_VALIDATION_FAILED: ErrorCode.BAD_USER_INPUT,
  BAD_REQUEST: ErrorCode.BAD_USER_INPUT,
  OPERATION_RESOLUTION_FAILURE: ErrorCode.BAD_USER_INPUT,
  PERSISTED_QUERY_NOT_FOUND: ErrorCode.BAD_USER_INPUT,
  PERSISTED_QUERY_NOT_SUPPORTED: ErrorCode.BAD_USER_INPUT,
  INTERNAL_SERVER_ERROR: ErrorCode.INTERNAL,
};

/** SQLSTATE → what a user can act on. */
const PG_CODES: Record<string, [ErrorCode, string]> = {
  '23505': [ErrorCode.CONFLICT, 'an object with the same unique key already exists'],
  '23503': [ErrorCode.BAD_USER_INPUT, 'a referenced object does not exist'],
  '23514': [ErrorCode.BAD_USER_INPUT, 'a value is out of its allowed range'],
  '22P02': [ErrorCode.BAD_USER_INPUT, 'a value has the wrong format'],
  '42501': [ErrorCode.FORBIDDEN, 'you are not allowed to do this'],
  '40001': [ErrorCode.CONFLICT, 'a concurrent change conflicted with this one; retry'],
  '40P01': [ErrorCode.CONFLICT, 'a concurrent change conflicted with this one; retry'],
};

/** Errors that are not AppError but carry a code of their own (engine, identity). */
const FOREIGN_CODES: Record<string, ErrorCode> = {
  BAD_INPUT: ErrorCode.BAD_USER_INPUT,
  INVALID_MODEL: ErrorCode.BAD_USER_INPUT,
  OVERLOADED: ErrorCode.RATE_LIMITED,
  STOPPED: ErrorCode.CONFLICT,
  TOKEN_REJECTED: ErrorCode.UNAUTHENTICATED,
};

interface Classified {
  code: ErrorCode;
  message: string;
  details?: Record<string, unknown>;
}

function isPgError(e: unknown): e is { code: string; severity?: string } {
  return typeof e === 'object' && e !== null && typeof (e as { code?: unknown }).code === 'string'
    && /^[0-9A-Z]{5}$/.test((e as { code: string }).code) && 'severity' in e;
}

export function classifyError(original: unknown, formatted?: GraphQLFormattedError): Classified | null {
  if (original instanceof AppError) return { code: original.code, message: original.message, details: original.details };
  // Query limits and rate limits (api/graphql/limits): an AppError inside a pre-execution
  // GraphQLError, or graphql-js's token-limit parse error.
  const limit = classifyLimitError(original, formatted);
  if (limit) return { code: limit.code, message: limit.message, details: limit.details };
  const driverError = (original as { driverError?: unknown })?.driverError ?? original;
  if (isPgError(driverError)) {
    const mapped = PG_CODES[driverError.code];
    return mapped ? { code: mapped[0], message: mapped[1] } : null;
  }
  const foreign = (original as { code?: unknown })?.code;
  if (typeof foreign === 'string' && FOREIGN_CODES[foreign]) {
    return { code: FOREIGN_CODES[foreign], message: (original as Error).message };
  }
  const code = formatted?.extensions?.code;
  if (typeof code === 'string' && formatted) {
    if (PASSTHROUGH.has(code) && code !== ErrorCode.INTERNAL) return { code: code as ErrorCode, message: formatted.message };
    if (APOLLO_CODES[code] && APOLLO_CODES[code] !== ErrorCode.INTERNAL) return { code: APOLLO_CODES[code], message: formatted.message };
  }
  return null;
}

export function createErrorFormatter(log: Logger, development: boolean, options: { hideSuggestions?: boolean } = {}) {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const original = unwrapResolverError(error);
    const known = classifyError(original, formatted);
    if (known) {
      return {
        // Production: no "did you mean" hints that map the schema (limits/limit-errors.ts).
        message: options.hideSuggestions ? hideSuggestions(known.message) : known.message,
        locations: formatted.locations,
        path: formatted.path,
        extensions: { ...known.details, code: known.code },
      };
    }
    const correlationId = randomUUID();
    log.error({ err: original, correlationId, path: formatted.path }, 'unexpected error');
    return {
      message: `internal error; quote correlation id ${correlationId} when reporting it`,
      locations: formatted.locations,
      path: formatted.path,
      extensions: {
        code: ErrorCode.INTERNAL,
        correlationId,
        ...(development && original instanceof Error ? { debug: original.message } : {}),
      },
    };
  };
}
