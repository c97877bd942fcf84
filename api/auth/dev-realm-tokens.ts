import { randomUUID } from 'node:crypto';
import { createLocalJWKSet, jwtVerify, SignJWT, type JWTPayload } from 'jose';
import { effectiveRealmRoles, type RealmClient, type RealmModel, type RealmUser } from './realm-file';
import type { SigningKeyStore } from './signing-key-store';

/**
 * Mints tokens shaped like Keycloak's, so the API cannot tell the embedded realm from a real
 * one: same claims (iss, sub, aud from audience mappers, azp, typ, preferred_username,
 * realm_access.roles, sid, scope), same header (RS256, kid), same lifetimes.
 */
export interface RealmTokenIssuer {
  accessToken(user: RealmUser, client: RealmClient, session: TokenSession, overrides?: Record<string, unknown>): Promise<string>;
  refreshToken(user: RealmUser, client: RealmClient, session: TokenSession): Promise<string>;
  /** Verifies a refresh token this realm issued; throws on anything else. */
  verifyRefreshToken(token: string): Promise<RefreshClaims>;
}

export interface TokenSession {
  sid: string;
  /** Seconds since the epoch when the user authenticated (Keycloak's auth_time). */
  authTime: number;
  scope: string;
}

export interface RefreshClaims extends JWTPayload {
  sub: string;
  azp: string;
  sid: string;
  auth_time: number;
  scope: string;
}

export interface TokenIssuerOptions {
  model: RealmModel;
  keys: SigningKeyStore;
  issuer: () => string;
  accessTokenLifetimeSec: number;
}

export function createRealmTokenIssuer(opts: TokenIssuerOptions): RealmTokenIssuer {
  const { model, keys, issuer } = opts;

  async function sign(claims: Record<string, unknown>): Promise<string> {
    const key = keys.active();
    return new SignJWT(claims as JWTPayload).setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: key.kid }).sign(key.privateKey);
  }

  return {
    async accessToken(user, client, session, overrides = {}) {
      const now = nowSeconds();
      const claims: Record<string, unknown> = {
        exp: now + opts.accessTokenLifetimeSec,
        iat: now,
        auth_time: session.authTime,
        jti: randomUUID(),
        iss: issuer(),
        aud: audienceClaim(client.accessTokenAudiences),
        sub: user.id,
        typ: 'Bearer',
        azp: client.clientId,
        sid: session.sid,
        acr: '1',
        realm_access: { roles: effectiveRealmRoles(model, user) },
        scope: session.scope,
        email_verified: user.emailVerified,
        ...profileClaims(user),
      };
      return sign(applyOverrides(claims, overrides));
    },

    async refreshToken(user, client, session) {
      const now = nowSeconds();
      const iss = issuer();
      // Keycloak's refresh tokens are audience-bound to the realm itself and typed "Refresh",
      // so a resource server that checks typ can never mistake one for an access token.
      return sign({
        exp: now + model.refreshTokenLifespanSec,
        iat: now,
        jti: randomUUID(),
        iss,
        aud: iss,
        sub: user.id,
        typ: 'Refresh',
        azp: client.clientId,
        sid: session.sid,
        auth_time: session.authTime,
        scope: session.scope,
      });
    },

    async verifyRefreshToken(token) {
      const iss = issuer();
      const { payload } = await jwtVerify(token, createLocalJWKSet(keys.publicJwks()), {
        algorithms: ['RS256'],
        issuer: iss,
        audience: iss,
        requiredClaims: ['exp', 'sub', 'azp', 'sid'],
      });
      if (payload.typ !== 'Refresh') throw new Error('not a refresh token');
      return payload as RefreshClaims;
    },
  };
}

function profileClaims(user: RealmUser): Record<string, unknown> {
  const name = [user.firstName, user.lastName].filter(Boolean).join(' ');
  const claims: Record<string, unknown> = { preferred_username: user.username };
  if (name) claims.name = name;
  if (user.firstName) claims.given_name = user.firstName;
  if (user.lastName) claims.family_name = user.lastName;
  if (user.email) claims.email = user.email;
  return claims;
}

/** Keycloak writes a single audience as a string and several as an array. */
function audienceClaim(audiences: string[]): string | string[] | undefined {
  const unique = [...new Set(audiences)];
  if (unique.length === 0) return undefined;
  return unique.length === 1 ? unique[0] : unique;
}

/** Test hook: overrides replace claims; an override of `undefined` removes the claim. */
function applyOverrides(claims: Record<string, unknown>, overrides: Record<string, unknown>): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...claims, ...overrides };
  for (const [name, value] of Object.entries(merged)) if (value === undefined) delete merged[name];
  return merged;
}

export function nowSeconds(): number {
  return Math.floor(Date.now() / 1000);
}
