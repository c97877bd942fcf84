// What the rate limit charged the operation being executed, so `Query.rateLimit` can report its
// cost and the budget left after it. The charge happens before execution, in
// api/graphql/limits (Apollo plugin for HTTP, onSubscribe for WebSocket); the context object
// is the key because it lives exactly as long as one operation and is never shared.
import type { RateLimitState } from '../../tenants/rate-limiter';

const charges = new WeakMap<object, RateLimitState>();

export function recordCharge(context: object, state: RateLimitState): void {
  charges.set(context, state);
}

export function chargeOf(context: object): RateLimitState | undefined {
  return charges.get(context);
}
