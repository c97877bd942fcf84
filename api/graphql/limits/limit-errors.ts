// The errors the limits raise, built once here so HTTP and WebSocket answer alike:
// QUERY_TOO_COMPLEX names the limit, its maximum and what the operation had; RATE_LIMITED says
// when the budget is full again. Both are AppErrors wrapped in a GraphQLError (Apollo and
// graphql-ws only pass GraphQLErrors on) and api/graphql/format-error.ts unwraps them.
import { HeaderMap } from '@apollo/server';
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { AppError, ErrorCode } from '../../../core/app-error';
import type { RateLimitState } from '../../../tenants/rate-limiter';

export type LimitName = 'depth' | 'aliases' | 'directives' | 'tokens' | 'characters' | 'cost' | 'nodes';

export function queryTooComplex(limitName: LimitName, limit: number, actual: number | undefined, message: string): AppError {
  return new AppError(ErrorCode.QUERY_TOO_COMPLEX, message, {
    limitName, limit, ...(actual === undefined ? {} : { actual }),
    ...(limitName === 'cost' ? { cost: actual } : {}),
  });
}

export function rateLimited(state: RateLimitState): AppError {
  const retryAfterSeconds = Math.max(1, Math.ceil((state.resetAt.getTime() - Date.now()) / 1000));
  const tooBig = state.cost > state.limit;
  return new AppError(
    ErrorCode.RATE_LIMITED,
    tooBig
      ? `this operation costs ${state.cost} points, more than the whole hourly budget of ${state.limit} of ${state.subject.label}; ask for a cheaper selection (smaller first:)`
      : `rate limit of ${state.limit} points per hour exhausted for ${state.subject.label}: this operation costs ${state.cost}, ` +
        `${state.remaining} left; the budget resets at ${state.resetAt.toISOString()} (in ${retryAfterSeconds} s)`,
    {
      limit: state.limit, cost: state.cost, remaining: state.remaining,
      resetAt: state.resetAt.toISOString(), retryAfterSeconds,
    },
  );
}

/** An AppError as the GraphQLError Apollo and graphql-ws accept, with an HTTP status for Apollo. */
export function asGraphQLError(error: AppError, http?: { status: number; headers?: [string, string][] }): GraphQLError {
  return new GraphQLError(error.message, {
    originalError: error,
    extensions: http ? { http: { status: http.status, headers: new HeaderMap(http.headers ?? []) } } : {},
  });
}

export function rateLimitHeaders(state: RateLimitState): [string, string][] {
  return [
    ['x-ratelimit-limit', String(state.limit)],
    ['x-ratelimit-remaining', String(state.remaining)],
    ['x-ratelimit-used', String(state.used)],
    ['x-ratelimit-reset', String(Math.floor(state.resetAt.getTime() / 1000))],
  ];
}

// graphql-js aborts parsing past ParseOptions.maxTokens with this message (Apollo and our
// WebSocket path both parse with it); Apollo reports it as a parse failure, the contract as
// QUERY_TOO_COMPLEX. graphql 16 spells it "more that N tokens"; accept the fixed spelling too.
const TOKEN_LIMIT = /^Syntax Error: Document contains more (?:than|that) (\d+) tokens\. Parsing aborted\.$/;

export function tokenLimitError(message: string): AppError | null {
  const match = TOKEN_LIMIT.exec(message);
  if (!match) return null;
  const limit = Number(match[1]);
  return queryTooComplex('tokens', limit, undefined,
    `the query has more than ${limit} tokens (the limit); split it into smaller operations`);
}

/**
 * For format-error.ts: errors raised before execution that carry their contract code in an
 * AppError (validation rules, plugins, onSubscribe), and graphql-js's token-limit parse error.
 */
export function classifyLimitError(original: unknown, formatted?: GraphQLFormattedError): AppError | null {
  const cause = original instanceof GraphQLError ? original.originalError : undefined;
  if (cause instanceof AppError) return cause;
  const message = formatted?.message ?? (original instanceof Error ? original.message : undefined);
  return message ? tokenLimitError(message) : null;
}

/**
 * "Did you mean …?" hints name schema fields, arguments, types and enum values: with
 * introspection off they would let a caller map the schema by guessing. graphql-armor's
 * blockFieldSuggestion matches only `Did you mean "x"`, which misses graphql-js's enum hint
 * (`Did you mean the enum value "X"?`); this removes every form.
 */
export function hideSuggestions(message: string): string {
  return message.replace(/\s*Did you mean [^?]*\?/g, '');
}
