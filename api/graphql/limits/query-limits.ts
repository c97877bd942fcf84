// Every query limit, rate limit and production-mode switch, built from config.limits
// (core/config.ts) and handed to the composition root (api/platform.ts) in the shapes Apollo,
// express and graphql-ws take. HTTP and WebSocket get the same validation rules and the same
// admission (cost + rate limit), so no limit can be dodged by switching transport.
//
// Settings (core/config.ts, config.limits), with their defaults:
//   GRAPHQL_MAX_DEPTH=15  GRAPHQL_MAX_ALIASES=15  GRAPHQL_MAX_DIRECTIVES=50
//   GRAPHQL_MAX_TOKENS=2000  GRAPHQL_MAX_QUERY_CHARS=20000       → QUERY_TOO_COMPLEX, HTTP 400
//   GRAPHQL_MAX_COST=10000  GRAPHQL_MUTATION_COST=10 (query-cost.ts) → QUERY_TOO_COMPLEX, HTTP 400
//   RATE_LIMIT_POINTS_PER_HOUR=100000 per tenant (or per user without a tenant); alliance
//     admins override per tenant with setRateLimit                  → RATE_LIMITED, HTTP 429
//   WS_MAX_BUFFERED_BYTES=4194304 (slow-consumer-guard.ts)           → close 4008
//   WS_MAX_OPERATIONS=100 running at once on one WebSocket           → RATE_LIMITED
//   REQUEST_TIMEOUT_MS=30000 to receive a /graphql request           → HTTP 408
//   BODY_LIMIT_BYTES=2097152 for HTTP bodies and WebSocket messages  → HTTP 413, close 1009
//   NODE_ENV=production: introspection off (GRAPHQL_INTROSPECTION=true turns it back on),
//     no "did you mean" hints. CSRF prevention and no batching hold in every mode.
// Points are lookups (query-cost.ts), not GitHub's lookups ÷ 100, hence a budget 20× GitHub's
// 5,000: the partner dashboard's query (datasets(first: 20) with versions and grants, quota,
// jobs(first: 20)) costs about 80 points and can refresh every 5 s within the budget.
import type { ApolloServerOptions, ApolloServerPlugin } from '@apollo/server';
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { GraphQLFormattedError, GraphQLSchema } from 'graphql';
import { Counter } from 'prom-client';
import type { Config } from '../../../core/config';
import type { Logger } from '../../../core/logger';
import type { GraphQLContext } from '../../../resolvers/context';
import type { RateLimiter } from '../../../tenants/rate-limiter';
import type { Metrics } from '../../metrics';
import { limitsPlugin } from './apollo-limits-plugin';
import { documentValidationRules, parseOptions } from './document-limits';
import { bodyErrorHandler, querySizeGuard, requestDeadline } from './http-guards';
import { OperationAdmission } from './operation-admission';
import { QueryCost } from './query-cost';
import { createWebSocketLimits, type WebSocketLimits } from './websocket-limits';

export interface QueryLimits {
  /** Spread into the ApolloServer options. */
  apolloOptions: Pick<ApolloServerOptions<GraphQLContext>, 'validationRules' | 'parseOptions' | 'csrfPrevention' | 'allowBatchedHttpRequests'>;
  apolloPlugins: ApolloServerPlugin<GraphQLContext>[];
  /** First on /graphql: the deadline for receiving the request. */
  requestDeadline: RequestHandler;
  /** Between express.json() and Apollo's middleware on /graphql. */
  httpGuard: RequestHandler;
  /** After Apollo's middleware on /graphql. */
  httpErrorHandler: ErrorRequestHandler;
  websocket: WebSocketLimits;
}

export function createQueryLimits(options: {
  config: Config;
  schema: GraphQLSchema;
  rateLimiter: RateLimiter;
  formatError: (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;
  metrics: Metrics;
  log: Logger;
}): QueryLimits {
  const { config, schema, log } = options;
  const limits = config.limits;
  const rules = documentValidationRules(limits);
  const admission = new OperationAdmission(new QueryCost(schema, limits.maxCost, limits.mutationCost), options.rateLimiter);
  const slowConsumers = new Counter({
    name: 'alliance_ws_slow_consumer_disconnects_total',
    help: 'WebSockets closed because their unsent data passed WS_MAX_BUFFERED_BYTES',
    registers: [options.metrics.registry],
  });
  return {
    apolloOptions: {
      validationRules: rules,
      parseOptions: parseOptions(limits),
      // A browser on another site can send "simple" requests (GET, text/plain or form POSTs)
      // with the user's cookies and no preflight; Apollo refuses those unless they carry a
      // content-type that forces a preflight or an apollo-require-preflight header.
      csrfPrevention: true,
      // One HTTP request, one operation: batching would multiply a request past every
      // per-operation limit and blur the rate-limit headers.
      allowBatchedHttpRequests: false,
    },
    apolloPlugins: [limitsPlugin(admission, log)],
    requestDeadline: requestDeadline(limits.requestTimeoutMs),
    httpGuard: querySizeGuard(limits, options.formatError),
    httpErrorHandler: bodyErrorHandler(config.bodyLimitBytes),
    websocket: createWebSocketLimits({
      schema,
      limits,
      rules,
      admission,
      slowConsumer: {
        maxBufferedBytes: limits.wsMaxBufferedBytes,
        onSlowConsumer: (bufferedBytes) => {
          slowConsumers.inc();
          log.warn({ bufferedBytes, limit: limits.wsMaxBufferedBytes }, 'websocket closed: slow consumer');
        },
      },
    }),
  };
}
