// The same limits on graphql-ws as on HTTP. graphql-ws would parse and validate with
// graphql-js defaults (no token limit, no armor rules, introspection always on); onSubscribe
// takes over: the character and token limits, the shared validation rules, then the shared
// admission (cost, rate limit). Subscriptions are charged once, on subscribe: their events are
// the server's work, not the caller's requests. A connection may run WS_MAX_OPERATIONS at once.
import {
  GraphQLError, NoSchemaIntrospectionCustomRule, getOperationAST, parse, specifiedRules, validate,
  type DocumentNode, type ExecutionArgs, type GraphQLSchema, type ValidationRule,
} from 'graphql';
import type { SubscribePayload } from 'graphql-ws';
import type WebSocket from 'ws';
import { AppError, ErrorCode } from '../../../core/app-error';
import type { LimitsConfig } from '../../../core/config';
import type { GraphQLContext } from '../../../resolvers/context';
import { recordCharge } from '../../../resolvers/rate-limit/operation-charge';
import type { RequestScope } from '../../../tenants/request-scope';
import { queryTextError } from './document-limits';
import { asGraphQLError, tokenLimitError } from './limit-errors';
import type { OperationAdmission } from './operation-admission';
import { guardSlowConsumer, type SlowConsumerOptions } from './slow-consumer-guard';

/** What api/graphql/websocket.ts needs; each part optional so a test can wire only one. */
export interface WebSocketLimits {
  /**
   * graphql-ws onSubscribe: execution arguments with a fresh context, or the errors to answer.
   * `activeOperations` counts the socket's running operations, this one included.
   */
  prepare?(payload: SubscribePayload, scope: RequestScope, makeContext: () => GraphQLContext, activeOperations: number):
    Promise<ExecutionArgs | readonly GraphQLError[]>;
  /** Called for every accepted socket before anything is sent on it. */
  watchSocket?(socket: WebSocket): void;
}

/** Apollo's codes for the same failures, so format-error.ts maps them as it does for HTTP. */
function coded(error: GraphQLError, code: 'GRAPHQL_PARSE_FAILED' | 'GRAPHQL_VALIDATION_FAILED'): GraphQLError {
  if (error.originalError) return error; // ours (limits): already carries its contract code
  return new GraphQLError(error.message, { nodes: error.nodes, source: error.source, positions: error.positions, extensions: { code } });
}

export function createWebSocketLimits(options: {
  schema: GraphQLSchema;
  limits: LimitsConfig;
  rules: readonly ValidationRule[];
  admission: OperationAdmission;
  slowConsumer: SlowConsumerOptions;
}): WebSocketLimits {
  const { schema, limits, admission } = options;
  // Apollo adds its own equivalent of this rule when `introspection` is false.
  const rules = [...specifiedRules, ...options.rules, ...(limits.introspection ? [] : [NoSchemaIntrospectionCustomRule])];
  return {
    async prepare(payload, scope, makeContext, activeOperations) {
      // One socket multiplexes operations for free, where HTTP needs a connection each: without
      // a cap a single client can queue thousands of operations (and their database work).
      if (activeOperations > limits.wsMaxOperations) {
        return [asGraphQLError(new AppError(ErrorCode.RATE_LIMITED,
          `this connection already runs ${limits.wsMaxOperations} operations, the most allowed at once; complete some first`,
          { limitName: 'operationsPerConnection', limit: limits.wsMaxOperations }))];
      }
      const tooLong = queryTextError(payload.query, limits);
      if (tooLong) return [tooLong];
      let document: DocumentNode;
      try {
        document = parse(payload.query, { maxTokens: limits.maxTokens });
      } catch (err) {
        if (!(err instanceof GraphQLError)) throw err;
        const tokens = tokenLimitError(err.message);
        return [tokens ? asGraphQLError(tokens) : coded(err, 'GRAPHQL_PARSE_FAILED')];
      }
      const invalid = validate(schema, document, rules);
      if (invalid.length) return invalid.map((e) => coded(e, 'GRAPHQL_VALIDATION_FAILED'));
      const operationName = payload.operationName ?? undefined;
      const operation = getOperationAST(document, operationName);
      if (!operation) {
        return [coded(new GraphQLError(operationName ? `unknown operation "${operationName}"` : 'name the operation to run'), 'GRAPHQL_VALIDATION_FAILED')];
      }
      const variableValues = payload.variables ?? undefined;
      let refusal: GraphQLError | undefined;
      const contextValue = makeContext();
      try {
        const admitted = await admission.admit(scope, document, operation, variableValues);
        recordCharge(contextValue, admitted.state);
        refusal = admitted.refusal;
      } catch (err) {
        if (err instanceof GraphQLError) return [err];
        throw err;
      }
      if (refusal) return [refusal];
      return { schema, document, operationName, variableValues, contextValue };
    },
    watchSocket(socket) {
      guardSlowConsumer(socket, options.slowConsumer);
    },
  };
}
