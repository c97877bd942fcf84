// The limits on Apollo's HTTP pipeline: after validation (document-limits.ts rules) and before
// execution, cost and charge the operation; every response of an authenticated caller carries
// the budget in x-ratelimit-* headers, GitHub's names: limit, remaining, used, reset (epoch s).
import type { ApolloServerPlugin } from '@apollo/server';
import type { Logger } from '../../../core/logger';
import type { GraphQLContext } from '../../../resolvers/context';
import { recordCharge } from '../../../resolvers/rate-limit/operation-charge';
import type { RateLimitState } from '../../../tenants/rate-limiter';
import { rateLimitHeaders } from './limit-errors';
import type { OperationAdmission } from './operation-admission';

export function limitsPlugin(admission: OperationAdmission, log: Logger): ApolloServerPlugin<GraphQLContext> {
  return {
    async requestDidStart() {
      let charged: RateLimitState | undefined;
      return {
        async didResolveOperation(rc) {
          // No operation: execution answers "unknown operation" and nothing is charged.
          if (!rc.operation) return;
          const { state, refusal } = await admission.admit(rc.contextValue.scope, rc.document, rc.operation, rc.request.variables);
          charged = state;
          recordCharge(rc.contextValue, state);
          for (const [name, value] of rateLimitHeaders(state)) rc.response.http.headers.set(name, value);
          if (refusal) throw refusal;
        },
        async willSendResponse(rc) {
          if (charged || !rc.contextValue?.scope) return;
          // Parse or validation failures (limits included) charge nothing, but the caller still
          // learns where its budget stands.
          try {
            const state = await admission.peek(rc.contextValue.scope);
            for (const [name, value] of rateLimitHeaders(state)) rc.response.http.headers.set(name, value);
          } catch (err) {
            log.warn({ err }, 'could not read the rate-limit budget for response headers');
          }
        },
      };
    },
  };
}
