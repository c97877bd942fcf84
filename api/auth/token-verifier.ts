import { KeyObject } from 'node:crypto';
import {
  createRemoteJWKSet,
  customFetch,
  decodeJwt,
  decodeProtectedHeader,
  errors as joseErrors,
  jwtVerify,
  type FetchImplementation,
  type JWSHeaderParameters,
  type JWTPayload,
  type FlattenedJWSInput,
} from 'jose';
import Keycloak from 'keycloak-connect';
import { LRUCache } from 'lru-cache';

/**
 * Bearer-token verification for HTTP requests and graphql-ws `connection_init` alike.
 *
 * Who checks what — every token passes all three stages, in this order:
 *
 * 1. Our pre-checks, on the still-unverified token:
 *    - compact-JWS shape, size, base64url JSON header and payload → "token is malformed"
 *      (keycloak-connect would report a malformed token as "expired");
 *    - header `alg` pinned to RS256 (blocks `alg: none` and the HS256 key-confusion attack where
 *      the RSA public key is used as an HMAC secret).
 * 2. jose `jwtVerify` with `createRemoteJWKSet({issuer}/protocol/openid-connect/certs)`:
 *    - RS256 signature against the realm's JWKS, selected by `kid`; a `kid` missing from the cache
 *      triggers one refetch, at most once per `jwksRefetchCooldownSec` (key rotation without
 *      letting random-kid tokens hammer the realm); concurrent misses share one fetch;
 *    - `exp` required and enforced, `nbf` honoured (keycloak-connect ignores both gaps), exact
 *      `iss`, `aud` containing the audience, with `clockToleranceSec`.
 *    Then ours: `typ === 'Bearer'` (a refresh or ID token is not an access token), `sub` and
 *    `preferred_username` present.
 * 3. keycloak-connect `grantManager.createGrant` (the required adapter) re-checks signature, `exp`,
 *    `typ`, exact `iss` and audience its own way. It is handed the public key jose selected as
 *    `realm-public-key`, never left to fetch the JWKS itself: its rotation cache answers an unknown
 *    `kid` inside its refetch window with a TypeError. Only tokens whose signature jose already
 *    verified reach it, so it never sees attacker-chosen keys or shapes.
 *    Note: keycloak-connect checks `exp` without clock tolerance, so `clockToleranceSec` only
 *    widens `nbf`/`iat` in practice (the usual skew: an issuer whose clock runs ahead).
 *
 * Outcomes: a bad token always rejects with TokenRejectedError (its message is safe to return
 * to a client); an unreachable or broken JWKS endpoint rejects with RealmUnreachableError, which
 * callers should answer as 503, never as "invalid token".
 */
export interface TokenVerifier {
  verify(token: string): Promise<VerifiedIdentity>;
}

export interface VerifiedIdentity {
  /** Keycloak user id (`sub`), stable across username changes. */
  subject: string;
  username: string;
  realmRoles: string[];
  isAllianceAdmin: boolean;
  expiresAt: Date;
}

export interface TokenVerifierOptions {
  /** `{KEYCLOAK_URL}/realms/{realm}` — compared exactly with `iss`. */
  issuer: string;
  /** The resource server's client id (`alliance-api`); must appear in `aud`. */
  audience: string;
  clockToleranceSec?: number;
  /** Minimum seconds between JWKS refetches caused by an unknown `kid` (default 10, as keycloak-connect). */
  jwksRefetchCooldownSec?: number;
  /** For tests and proxies; defaults to global fetch. */
  fetchImpl?: FetchImplementation;
  /**
   * How long a verified token is remembered (default 60 s; 0 turns the cache off). Never past the
   * token's own expiry. See VerifiedTokenCache.
   */
  cacheSeconds?: number;
}

export type TokenRejectionReason =
  | 'malformed'
  | 'algorithm'
  | 'signature'
  | 'unknown-key'
  | 'expired'
  | 'not-yet-valid'
  | 'missing-expiry'
  | 'issuer'
  | 'audience'
  | 'type'
  | 'claims'
  | 'invalid';

export class TokenRejectedError extends Error {
  readonly reason: TokenRejectionReason;

  constructor(reason: TokenRejectionReason, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'TokenRejectedError';
    this.reason = reason;
  }
}

/** The realm's key set could not be fetched: an outage on our side, not the caller's fault. */
export class RealmUnreachableError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'RealmUnreachableError';
  }
}

export const ALLIANCE_ADMIN_ROLE = 'alliance-admin';

// Keycloak access tokens are a few KB; anything far larger is an attempt to make us parse junk.
const MAX_TOKEN_LENGTH = 32 * 1024;
// The signature part may be empty so that `alg: none` tokens reach the algorithm check and are
// reported as such; jose rejects an empty RS256 signature anyway.
const COMPACT_JWS = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;
const PINNED_ALGORITHM = 'RS256';
// Bounds the keycloak-connect instances kept per signing key (a realm holds a handful of keys).
const MAX_CACHED_ADAPTERS = 8;

export function createTokenVerifier(opts: TokenVerifierOptions): TokenVerifier {
  const issuer = opts.issuer.replace(/\/+$/, '');
  const realmUrl = parseRealmUrl(issuer);
  const jwks = createRemoteJWKSet(new URL(`${issuer}/protocol/openid-connect/certs`), {
    cooldownDuration: (opts.jwksRefetchCooldownSec ?? 10) * 1000,
    timeoutDuration: 5000,
    ...(opts.fetchImpl ? { [customFetch]: opts.fetchImpl } : {}),
  });
  const adapters = new KeycloakAdapterCache(realmUrl, opts.audience);
  const verified = new VerifiedTokenCache((opts.cacheSeconds ?? 60) * 1000);

  return {
    async verify(token) {
      const remembered = verified.get(token);
      if (remembered) return remembered;
      try {
        preCheck(token);
        let verifyingKey: KeyObject | undefined;
        const payload = await verifySignatureAndClaims(token, {
          async resolveKey(header, input) {
            const key = await resolveRealmKey(jwks, header, input);
            verifyingKey = toKeyObject(key);
            return key;
          },
          issuer,
          audience: opts.audience,
          clockToleranceSec: opts.clockToleranceSec ?? 0,
        });
        await adapters.forKey(verifyingKey!).validate(token);
        return verified.remember(token, identityOf(payload));
      } catch (err) {
        throw classify(err, opts.audience);
      }
    },
  };
}

/**
 * Verified tokens, remembered briefly: every request of a client carries the same token, and the
 * three stages cost ~1.5 ms of CPU per request on a 2-core machine (two RSA verifications) —
 * most of the GraphQL floor once the database work is cached too. Only successes are kept,
 * keyed by the whole token string (a different byte is a different key, so nothing unverified
 * can hit), and only until the earlier of the token's expiry and `maxAgeMs`: an expired token is
 * refused at its `exp` exactly as without the cache. What the cache does delay is noticing a
 * signing key the realm has withdrawn, by at most `maxAgeMs` — the same trade keycloak-connect's
 * own key cache makes. Bounded by count and by token bytes.
 */
class VerifiedTokenCache {
  private readonly cache: LRUCache<string, VerifiedIdentity> | undefined;

  constructor(private readonly maxAgeMs: number) {
    this.cache = maxAgeMs > 0
      ? new LRUCache({ max: 10_000, maxSize: 64 * 1024 * 1024, sizeCalculation: (_, token) => token.length })
      : undefined;
  }

  get(token: string): VerifiedIdentity | undefined {
    const identity = this.cache?.get(token);
    // The TTL already ends at expiry; this re-check keeps exp exact even if a timer lags.
    return identity && identity.expiresAt.getTime() > Date.now() ? identity : undefined;
  }

  remember(token: string, identity: VerifiedIdentity): VerifiedIdentity {
    const ttl = Math.min(this.maxAgeMs, identity.expiresAt.getTime() - Date.now());
    if (this.cache && ttl > 0) this.cache.set(token, identity, { ttl });
    return identity;
  }
}

/** Stage 1: shape and algorithm, before any key is looked up. */
function preCheck(token: unknown): void {
  if (typeof token !== 'string' || token.length === 0) throw new TokenRejectedError('malformed', 'token is missing');
  if (token.length > MAX_TOKEN_LENGTH || !COMPACT_JWS.test(token)) throw malformed();
  let header: JWSHeaderParameters;
  try {
    header = decodeProtectedHeader(token);
    decodeJwt(token);
  } catch {
    throw malformed();
  }
  // The algorithm comes from the attacker-controlled header. Pinning it before key lookup is
  // what stops "alg: none" (no signature at all) and HS256-with-the-RSA-public-key (the public
  // key, which anyone can fetch from the JWKS, used as an HMAC secret).
  if (header.alg !== PINNED_ALGORITHM) {
    throw new TokenRejectedError('algorithm', `token algorithm ${String(header.alg)} is not allowed`);
  }
}

interface JoseStageOptions {
  resolveKey: (header: JWSHeaderParameters, input: FlattenedJWSInput) => Promise<CryptoKeyLike>;
  issuer: string;
  audience: string;
  clockToleranceSec: number;
}

type CryptoKeyLike = Awaited<ReturnType<ReturnType<typeof createRemoteJWKSet>>>;

/** Stage 2: signature by a realm key, then the registered claims and Keycloak's token type. */
async function verifySignatureAndClaims(token: string, opts: JoseStageOptions): Promise<JWTPayload> {
  const { payload } = await jwtVerify(token, opts.resolveKey, {
    algorithms: [PINNED_ALGORITHM],
    issuer: opts.issuer,
    audience: opts.audience,
    clockTolerance: opts.clockToleranceSec,
    // A token without exp would be valid forever; keycloak-connect would accept it.
    requiredClaims: ['exp'],
  });
  // Keycloak signs refresh and ID tokens with the same realm key; only "Bearer" is an access token.
  if (payload.typ !== 'Bearer') throw new TokenRejectedError('type', 'token is not an access token (typ is not Bearer)');
  if (typeof payload.sub !== 'string' || payload.sub === '') throw new TokenRejectedError('claims', 'token has no subject');
  if (typeof payload.preferred_username !== 'string' || payload.preferred_username === '') {
    throw new TokenRejectedError('claims', 'token has no preferred_username');
  }
  return payload;
}

/**
 * Key lookup failures split into the caller's problem (no realm key has this kid) and ours
 * (the JWKS could not be fetched or parsed).
 */
async function resolveRealmKey(
  jwks: ReturnType<typeof createRemoteJWKSet>,
  header: JWSHeaderParameters,
  input: FlattenedJWSInput,
): Promise<CryptoKeyLike> {
  try {
    return await jwks(header, input);
  } catch (err) {
    if (err instanceof joseErrors.JWKSNoMatchingKey || err instanceof joseErrors.JWKSMultipleMatchingKeys) {
      throw new TokenRejectedError('unknown-key', 'token signing key is unknown to the realm', { cause: err });
    }
    throw new RealmUnreachableError('identity realm key set could not be fetched', { cause: err });
  }
}

function toKeyObject(key: CryptoKeyLike): KeyObject {
  return key instanceof KeyObject ? key : KeyObject.from(key as Parameters<typeof KeyObject.from>[0]);
}

/**
 * Stage 3: keycloak-connect, one adapter per realm key, each pinned to that key via
 * `realm-public-key` so the adapter does no network I/O of its own.
 */
class KeycloakAdapterCache {
  private readonly adapters = new Map<string, KeycloakAdapter>();

  constructor(
    private readonly realmUrl: { authServerUrl: string; realm: string },
    private readonly audience: string,
  ) {}

  forKey(key: KeyObject): KeycloakAdapter {
    const spki = key.export({ type: 'spki', format: 'der' }).toString('base64');
    let adapter = this.adapters.get(spki);
    if (!adapter) {
      adapter = new KeycloakAdapter(this.realmUrl, this.audience, spki);
      if (this.adapters.size >= MAX_CACHED_ADAPTERS) this.adapters.delete(this.adapters.keys().next().value!);
      this.adapters.set(spki, adapter);
    }
    return adapter;
  }
}

class KeycloakAdapter {
  private readonly keycloak: Keycloak.Keycloak;

  constructor(realmUrl: { authServerUrl: string; realm: string }, audience: string, publicKeySpki: string) {
    const config = {
      realm: realmUrl.realm,
      'auth-server-url': realmUrl.authServerUrl,
      resource: audience,
      'bearer-only': true,
      'verify-token-audience': true,
      'realm-public-key': publicKeySpki,
      'ssl-required': 'external',
      'confidential-port': 0,
    };
    this.keycloak = new Keycloak({}, config as Keycloak.KeycloakConfig);
  }

  async validate(token: string): Promise<void> {
    try {
      await this.keycloak.grantManager.createGrant(JSON.stringify({ access_token: token }));
    } catch (err) {
      throw fromKeycloakMessage(err);
    }
  }
}

/** keycloak-connect reports failures only as message text ("Grant validation failed. Reason: invalid token (expired)"). */
function fromKeycloakMessage(err: unknown): TokenRejectedError {
  const message = err instanceof Error ? err.message : String(err);
  const known: Array<[string, TokenRejectionReason, string]> = [
    ['(expired)', 'expired', 'token expired'],
    ['(wrong type)', 'type', 'token is not an access token (typ is not Bearer)'],
    ['(wrong ISS)', 'issuer', 'token issuer is not this realm'],
    ['(wrong audience)', 'audience', 'token audience is wrong'],
    ['signature', 'signature', 'token signature is invalid'],
    ['(stale token)', 'expired', 'token was issued before the realm\'s not-before time'],
  ];
  const match = known.find(([needle]) => message.includes(needle));
  return match
    ? new TokenRejectedError(match[1], match[2], { cause: err })
    : new TokenRejectedError('invalid', 'token is invalid', { cause: err });
}

/** Maps jose's errors to client-safe reasons; anything unexpected still becomes a rejection. */
function classify(err: unknown, audience: string): TokenRejectedError | RealmUnreachableError {
  if (err instanceof TokenRejectedError || err instanceof RealmUnreachableError) return err;
  if (err instanceof joseErrors.JWTExpired) return new TokenRejectedError('expired', 'token expired', { cause: err });
  if (err instanceof joseErrors.JWTClaimValidationFailed) return fromClaimFailure(err, audience);
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) {
    return new TokenRejectedError('signature', 'token signature is invalid', { cause: err });
  }
  if (err instanceof joseErrors.JOSEAlgNotAllowed || err instanceof joseErrors.JOSENotSupported) {
    return new TokenRejectedError('algorithm', 'token algorithm is not allowed', { cause: err });
  }
  if (err instanceof joseErrors.JWTInvalid || err instanceof joseErrors.JWSInvalid) return malformed(err);
  return new TokenRejectedError('invalid', 'token is invalid', { cause: err });
}

function fromClaimFailure(err: InstanceType<typeof joseErrors.JWTClaimValidationFailed>, audience: string): TokenRejectedError {
  const options = { cause: err };
  if (err.claim === 'exp' && err.reason === 'missing') return new TokenRejectedError('missing-expiry', 'token has no expiry', options);
  if (err.claim === 'nbf' && err.reason === 'check_failed') return new TokenRejectedError('not-yet-valid', 'token is not yet valid', options);
  if (err.claim === 'iss') return new TokenRejectedError('issuer', 'token issuer is not this realm', options);
  if (err.claim === 'aud') return new TokenRejectedError('audience', `token audience does not include ${audience}`, options);
  return new TokenRejectedError('claims', `token claim ${err.claim} is invalid`, options);
}

function malformed(cause?: unknown): TokenRejectedError {
  return new TokenRejectedError('malformed', 'token is malformed', cause ? { cause } : undefined);
}

function identityOf(payload: JWTPayload): VerifiedIdentity {
  const realmAccess = payload.realm_access as { roles?: unknown } | undefined;
  const realmRoles = Array.isArray(realmAccess?.roles) ? realmAccess.roles.filter((r): r is string => typeof r === 'string') : [];
  return {
    subject: payload.sub as string,
    username: payload.preferred_username as string,
    realmRoles,
    isAllianceAdmin: realmRoles.includes(ALLIANCE_ADMIN_ROLE),
    expiresAt: new Date((payload.exp as number) * 1000),
  };
}

/** keycloak-connect wants the server URL and realm name apart; it rebuilds `{url}/realms/{realm}`. */
function parseRealmUrl(issuer: string): { authServerUrl: string; realm: string } {
  const match = /^(.*)\/realms\/([^/]+)$/.exec(issuer);
  if (!match) throw new Error(`issuer ${issuer} is not a Keycloak realm URL ({server}/realms/{realm})`);
  return { authServerUrl: match[1], realm: match[2] };
}
