// The one gate every operation passes before it executes, on HTTP and on WebSocket: its
// computed cost against the per-operation maximum, then that cost against the caller's hourly
// budget. Document-shape limits (document-limits.ts) have already run as validation rules.
import type { DocumentNode, GraphQLError, OperationDefinitionNode } from 'graphql';
import { AppError } from '../../../core/app-error';
import type { RateLimiter, RateLimitState } from '../../../tenants/rate-limiter';
import type { RequestScope } from '../../../tenants/request-scope';
import { asGraphQLError, rateLimitHeaders, rateLimited } from './limit-errors';
import type { QueryCost } from './query-cost';

export interface Admission {
  /** The budget after this operation; `admitted` false means refused and nothing spent. */
  state: RateLimitState;
  /** The refusal to answer with when not admitted. */
  refusal?: GraphQLError;
}

export class OperationAdmission {
  constructor(
    private readonly cost: QueryCost,
    private readonly limiter: RateLimiter,
  ) {}

  /** Throws a GraphQLError (QUERY_TOO_COMPLEX, BAD_USER_INPUT) when the operation is refused before any charge. */
  async admit(
    scope: RequestScope,
    document: DocumentNode,
    operation: OperationDefinitionNode,
    variables: Record<string, unknown> | undefined,
  ): Promise<Admission> {
    let cost: number;
    try {
      cost = this.cost.measure(document, operation, variables);
    } catch (err) {
      if (err instanceof AppError) throw asGraphQLError(err, { status: 400 });
      throw err;
    }
    // Every operation spends at least a point, as on GitHub: `{ __typename }` is not free to serve.
    const state = await this.limiter.charge(scope, Math.max(1, cost));
    if (state.admitted) return { state };
    const retryAfter = Math.max(1, Math.ceil((state.resetAt.getTime() - Date.now()) / 1000));
    return {
      state,
      refusal: asGraphQLError(rateLimited(state), {
        status: 429,
        headers: [...rateLimitHeaders(state), ['retry-after', String(retryAfter)]],
      }),
    };
  }

  /** The caller's budget, for responses that charged nothing (invalid documents). */
  peek(scope: RequestScope): Promise<RateLimitState> {
    return this.limiter.peek(scope);
  }
}
