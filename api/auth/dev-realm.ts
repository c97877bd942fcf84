import { randomUUID } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { createRealmTokenIssuer, nowSeconds } from './dev-realm-tokens';
import { createTokenEndpoint, OAuthError } from './dev-realm-token-endpoint';
import { loadRealmFile } from './realm-file';
import { openSigningKeyStore } from './signing-key-store';

/**
 * The embedded development identity realm of all-in-one mode: an OpenID issuer laid out like
 * Keycloak (`/realms/{realm}/.well-known/openid-configuration`, `…/protocol/openid-connect/certs`,
 * `…/protocol/openid-connect/token`), serving the users, roles and clients of the realm file that
 * `docker/` imports into a real Keycloak. The API verifies its tokens with the very verifier it
 * uses against Keycloak, so all-in-one mode exercises the production authentication path.
 *
 * Why a small jose-based issuer rather than oidc-provider: the platform needs exactly two grants
 * (password and refresh_token) and Keycloak's claim layout. oidc-provider has no password grant
 * (it would be a custom grant type), emits its own claim set that must be bent into Keycloak's
 * (typ, azp, realm_access) and renames of every route; the remaining surface — ~200 lines on
 * jose's signing primitives — is easier to audit than that configuration. Nothing here is meant
 * for production: split mode uses a real Keycloak.
 */
export interface DevRealm {
  /** Mount at '/': it only answers under /realms/{realm}/. */
  router: express.Router;
  realm: string;
  /** Mints an access token for a realm-file user as if alliance-cli had run a password grant. */
  issueToken(username: string, overrides?: Record<string, unknown>): Promise<string>;
  /** Adds a new signing key and makes it active; older keys stay in the JWKS. */
  rotateKey(): Promise<void>;
}

export interface DevRealmOptions {
  realmFile: string;
  keyDir: string;
  /** e.g. http://localhost:4000 — a function because the port is known only after listen(). */
  issuerOrigin: () => string;
  /** Defaults to the realm file's accessTokenLifespan (300 s in ours). */
  tokenLifetimeSec?: number;
}

/** The client issueToken() pretends to be: the one the CLI and dashboards use. */
const DEFAULT_CLIENT_ID = 'alliance-cli';

export async function createDevRealm(opts: DevRealmOptions): Promise<DevRealm> {
  const model = await loadRealmFile(opts.realmFile);
  const keys = await openSigningKeyStore(opts.keyDir);
  const accessTokenLifetimeSec = opts.tokenLifetimeSec ?? model.accessTokenLifespanSec;
  const issuer = () => `${opts.issuerOrigin().replace(/\/+$/, '')}/realms/${encodeURIComponent(model.realm)}`;
  const tokens = createRealmTokenIssuer({ model, keys, issuer, accessTokenLifetimeSec });

  const base = `/realms/${model.realm}`;
  const router = express.Router();
  router.get(`${base}/.well-known/openid-configuration`, (_req, res) => {
    res.json(discoveryDocument(issuer()));
  });
  router.get(`${base}/protocol/openid-connect/certs`, (_req, res) => {
    // Keycloak serves its JWKS uncached: verifiers must see a rotated key on their next fetch.
    res.set('Cache-Control', 'no-cache').json(keys.publicJwks());
  });
  router.post(
    `${base}/protocol/openid-connect/token`,
    express.urlencoded({ extended: false, limit: '16kb' }),
    createTokenEndpoint(model, tokens, accessTokenLifetimeSec),
    malformedFormHandler,
  );

  return {
    router,
    realm: model.realm,
    async issueToken(username, overrides) {
      const user = model.users.get(username.toLowerCase());
      if (!user) throw new Error(`user ${username} is not in realm ${model.realm}`);
      const client = model.clients.get(DEFAULT_CLIENT_ID);
      if (!client) throw new Error(`client ${DEFAULT_CLIENT_ID} is not in realm ${model.realm}`);
      const session = { sid: randomUUID(), authTime: nowSeconds(), scope: 'profile email' };
      return tokens.accessToken(user, client, session, overrides);
    },
    rotateKey: () => keys.rotate(),
  };
}

function discoveryDocument(issuer: string): Record<string, unknown> {
  const oidc = `${issuer}/protocol/openid-connect`;
  return {
    issuer,
    token_endpoint: `${oidc}/token`,
    jwks_uri: `${oidc}/certs`,
    grant_types_supported: ['password', 'refresh_token'],
    response_types_supported: ['none'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    token_endpoint_auth_methods_supported: ['none', 'client_secret_basic', 'client_secret_post'],
    scopes_supported: ['profile', 'email'],
    claims_supported: ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'azp', 'typ', 'preferred_username', 'name', 'given_name', 'family_name', 'email', 'email_verified'],
  };
}

/** A body the form parser rejects (too large, bad encoding) gets Keycloak's shape, not HTML. */
function malformedFormHandler(err: unknown, _req: Request, res: Response, next: NextFunction): void {
  if (res.headersSent) return next(err);
  const status = (err as { status?: number }).status;
  if (status === undefined || status >= 500) return next(err);
  const error = new OAuthError(400, 'invalid_request', 'Malformed request body');
  res.status(error.status).json({ error: error.error, error_description: error.description });
}
