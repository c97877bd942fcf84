import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Request, Response } from 'express';
import { nowSeconds, type RealmTokenIssuer, type TokenSession } from './dev-realm-tokens';
import type { RealmClient, RealmModel, RealmUser } from './realm-file';

/**
 * `POST /realms/{realm}/protocol/openid-connect/token` with Keycloak's status codes and error
 * bodies, so the CLI and tests handle the embedded realm and a real Keycloak with one code path.
 * Supported grants: password (Keycloak's "direct access grant") and refresh_token.
 */
export function createTokenEndpoint(model: RealmModel, tokens: RealmTokenIssuer, accessTokenLifetimeSec: number) {
  return async function tokenEndpoint(req: Request, res: Response): Promise<void> {
    // Token responses carry credentials: never let a proxy or browser cache them (RFC 6749 §5.1).
    res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache' });
    const form = formOf(req);
    try {
      const grantType = form.grant_type;
      if (!grantType) throw new OAuthError(400, 'invalid_request', 'Missing form parameter: grant_type');
      if (grantType !== 'password' && grantType !== 'refresh_token') {
        throw new OAuthError(400, 'unsupported_grant_type', 'Unsupported grant_type');
      }
      const client = authenticateClient(model, req, form);
      const { user, session } =
        grantType === 'password' ? passwordGrant(model, client, form) : await refreshGrant(model, tokens, client, form);
      res.json({
        access_token: await tokens.accessToken(user, client, session),
        expires_in: accessTokenLifetimeSec,
        refresh_expires_in: model.refreshTokenLifespanSec,
        refresh_token: await tokens.refreshToken(user, client, session),
        token_type: 'Bearer',
        'not-before-policy': 0,
        session_state: session.sid,
        scope: session.scope,
      });
    } catch (err) {
      if (!(err instanceof OAuthError)) throw err;
      res.status(err.status).json({ error: err.error, error_description: err.description });
    }
  };
}

export class OAuthError extends Error {
  constructor(
    readonly status: number,
    readonly error: string,
    readonly description: string,
  ) {
    super(`${error}: ${description}`);
  }
}

type Form = Record<string, string | undefined>;

function formOf(req: Request): Form {
  const body: unknown = req.body;
  if (!body || typeof body !== 'object') return {};
  const form: Form = {};
  // Repeated parameters arrive as arrays; OAuth forbids them, so they are treated as absent.
  for (const [name, value] of Object.entries(body)) if (typeof value === 'string') form[name] = value;
  return form;
}

const INVALID_CLIENT = () => new OAuthError(401, 'invalid_client', 'Invalid client or Invalid client credentials');

function authenticateClient(model: RealmModel, req: Request, form: Form): RealmClient {
  const basic = basicCredentials(req);
  const clientId = basic?.id ?? form.client_id;
  const client = clientId ? model.clients.get(clientId) : undefined;
  if (!client || !client.enabled) throw INVALID_CLIENT();
  // A bearer-only client is a resource server: it accepts tokens and must never obtain any.
  if (client.bearerOnly) throw new OAuthError(400, 'invalid_client', 'Bearer-only not allowed');
  if (!client.publicClient) {
    const secret = basic?.secret ?? form.client_secret;
    if (!secret) throw new OAuthError(401, 'unauthorized_client', 'Client secret not provided in request');
    if (!client.secret || !constantTimeEquals(secret, client.secret)) throw INVALID_CLIENT();
  }
  return client;
}

function basicCredentials(req: Request): { id: string; secret: string } | undefined {
  const header = req.get('authorization');
  if (!header?.toLowerCase().startsWith('basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  try {
    // RFC 6749 §2.3.1: client id and secret are form-urlencoded before Basic encoding.
    return { id: decodeURIComponent(decoded.slice(0, colon)), secret: decodeURIComponent(decoded.slice(colon + 1)) };
  } catch {
    return { id: '', secret: '' }; // undecodable credentials authenticate nobody
  }
}

// Compared against when the username is unknown, so a wrong username costs the same time as a
// wrong password and response timing does not reveal which usernames exist.
const DUMMY_PASSWORD = randomUUID();

function passwordGrant(model: RealmModel, client: RealmClient, form: Form): { user: RealmUser; session: TokenSession } {
  if (!client.directAccessGrantsEnabled) {
    throw new OAuthError(400, 'unauthorized_client', 'Client not allowed for direct access grants');
  }
  const user = form.username ? model.users.get(form.username.toLowerCase()) : undefined;
  const passwordOk = constantTimeEquals(form.password ?? '', user?.password ?? DUMMY_PASSWORD);
  // Keycloak answers 401 here (not RFC 6749's 400): see keycloak/keycloak#45812. Same body for
  // unknown user and wrong password, so the endpoint is no username oracle.
  if (!user || user.password === undefined || !passwordOk) {
    throw new OAuthError(401, 'invalid_grant', 'Invalid user credentials');
  }
  assertUserMayLogIn(user);
  return { user, session: { sid: randomUUID(), authTime: nowSeconds(), scope: grantedScope() } };
}

async function refreshGrant(
  model: RealmModel,
  tokens: RealmTokenIssuer,
  client: RealmClient,
  form: Form,
): Promise<{ user: RealmUser; session: TokenSession }> {
  if (!form.refresh_token) throw new OAuthError(400, 'invalid_request', 'Missing parameter: refresh_token');
  let claims;
  try {
    claims = await tokens.verifyRefreshToken(form.refresh_token);
  } catch {
    throw new OAuthError(400, 'invalid_grant', 'Invalid refresh token');
  }
  // A refresh token is bound to the client it was issued to (RFC 6749 §6).
  if (claims.azp !== client.clientId) throw new OAuthError(400, 'invalid_grant', 'Invalid refresh token. Token client and authorized client don\'t match');
  const user = [...model.users.values()].find((u) => u.id === claims.sub);
  if (!user) throw new OAuthError(400, 'invalid_grant', 'User not found');
  assertUserMayLogIn(user);
  // Roles are re-read from the realm on refresh, as Keycloak does, so a revoked role drops out.
  return { user, session: { sid: claims.sid, authTime: claims.auth_time, scope: claims.scope } };
}

function assertUserMayLogIn(user: RealmUser): void {
  if (!user.enabled) throw new OAuthError(400, 'invalid_grant', 'Account disabled');
  // Keycloak 24+ refuses direct grants while a required action is pending; a user whose
  // declarative profile lacks email, first or last name gets VERIFY_PROFILE. Failing the same
  // way here catches a realm file that would break real Keycloak before it reaches docker.
  const profileIncomplete = !user.email || !user.firstName || !user.lastName;
  if (user.passwordTemporary || user.requiredActions.length > 0 || profileIncomplete) {
    throw new OAuthError(400, 'invalid_grant', 'Account is not fully set up');
  }
}

/**
 * Keycloak grants its default client scopes (profile, email) to a password grant. `openid` is
 * not granted because this realm issues no ID token: the API only ever needs access tokens.
 */
function grantedScope(): string {
  return 'profile email';
}

/** Hash both sides first so timingSafeEqual sees equal lengths and length leaks nothing. */
function constantTimeEquals(given: string, expected: string): boolean {
  const a = createHash('sha256').update(given).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
