// One context builder for HTTP and WebSocket: the same token verification, the same tenant
// choice, fresh DataLoaders per operation.
import { randomUUID } from 'node:crypto';
import { GraphQLError } from 'graphql';
import { AppError, ErrorCode } from '../../core/app-error';
import { createLoaders } from '../../resolvers/loaders';
import type { GraphQLContext, Streams } from '../../resolvers/context';
import type { IdentityService } from '../../tenants/identity';
import type { RequestScope } from '../../tenants/request-scope';
import type { TenantDatabase } from '../../tenants/tenant-database';
import { RealmUnreachableError, TokenRejectedError, type TokenVerifier, type VerifiedIdentity } from '../auth/token-verifier';

export interface AuthenticatedScope {
  scope: RequestScope;
  identity: VerifiedIdentity;
}

function authError(message: string): GraphQLError {
  return new GraphQLError(message, { extensions: { code: ErrorCode.UNAUTHENTICATED, http: { status: 401 } } });
}

export function bearerToken(header: unknown): string {
  if (typeof header !== 'string' || header.length === 0) {
    throw authError('missing bearer token: send "Authorization: Bearer <access token>" from the alliance realm');
  }
  const match = /^Bearer ([A-Za-z0-9._~+/=-]+)$/.exec(header.trim());
  if (!match) throw authError('malformed Authorization header: expected "Bearer <access token>"');
  return match[1];
}

export class ContextFactory {
  constructor(
    private readonly verifier: TokenVerifier,
    private readonly identities: IdentityService,
    private readonly db: TenantDatabase,
    private readonly streams: Streams,
  ) {}

  /** Verifies the token and chooses the tenant; errors are GraphQL errors with HTTP status. */
  async authenticate(authorization: unknown, tenant: unknown): Promise<AuthenticatedScope> {
    const token = bearerToken(authorization);
    let identity: VerifiedIdentity;
    try {
      identity = await this.verifier.verify(token);
    } catch (err) {
      if (err instanceof TokenRejectedError) throw authError(`invalid token: ${err.message}`);
      if (err instanceof RealmUnreachableError) {
        // Our outage, not the caller's fault: never answered as "invalid token".
        throw new GraphQLError('the identity provider is unreachable; try again shortly',
          { extensions: { code: ErrorCode.INTERNAL, http: { status: 503 } } });
      }
      throw err;
    }
    if (tenant !== undefined && tenant !== null && typeof tenant !== 'string') {
      throw new GraphQLError('the tenant must be a slug string', { extensions: { code: ErrorCode.BAD_USER_INPUT, http: { status: 400 } } });
    }
    try {
      const scope = await this.identities.resolveScope(identity, tenant ?? undefined);
      return { scope, identity };
    } catch (err) {
      if (err instanceof AppError) {
        const status = err.code === ErrorCode.FORBIDDEN ? 403 : 400;
        throw new GraphQLError(err.message, { extensions: { code: err.code, http: { status } } });
      }
      throw err;
    }
  }

  forScope(scope: RequestScope, requestId: string = randomUUID()): GraphQLContext {
    return { scope, loaders: createLoaders(this.db, scope), requestId, streams: this.streams };
  }
}
