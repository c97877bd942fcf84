// Signing in against the alliance realm (Keycloak, or the embedded development realm with the
// same endpoints): the password grant for `login`, the refresh grant before a stored access
// token expires. The token endpoint is the one the API's dashboard uses (GET
// /dashboard/config.json), so the CLI follows the API to a real Keycloak without a flag;
// --realm-url (ALLIANCE_REALM_URL) overrides it.
import type { Command } from 'commander';
import { CliError, type CliIO } from '../cli-context';
import { saveLogin, storedLogin, type StoredLogin } from '../credentials';

export const CLIENT_ID = 'alliance-cli';
/** Refresh when less than this is left: a long upload must not outlive its token. */
const REFRESH_MARGIN_MS = 60_000;

interface TokenResponse {
  access_token?: string;
  refresh_token?: string;
  expires_in?: number;
  refresh_expires_in?: number;
  error?: string;
  error_description?: string;
}

export async function tokenUrlFor(apiUrl: string, realmUrl?: string): Promise<string> {
  if (realmUrl) return `${realmUrl.replace(/\/+$/, '')}/realms/alliance/protocol/openid-connect/token`;
  try {
    const res = await fetch(`${apiUrl}/dashboard/config.json`);
    if (res.ok) {
      const config = (await res.json()) as { tokenUrl?: string };
      if (config.tokenUrl) return new URL(config.tokenUrl, `${apiUrl}/`).toString();
    }
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    throw new CliError(`cannot reach ${apiUrl}: ${cause?.code ?? (err as Error).message}`);
  }
  return `${apiUrl}/realms/alliance/protocol/openid-connect/token`;
}

async function grant(tokenUrl: string, fields: Record<string, string>): Promise<TokenResponse> {
  let res: Response;
  try {
    res = await fetch(tokenUrl, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ client_id: CLIENT_ID, ...fields }),
    });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause;
    throw new CliError(`cannot reach the realm at ${new URL(tokenUrl).origin}: ${cause?.code ?? (err as Error).message}`);
  }
  const body = (await res.json().catch(() => ({}))) as TokenResponse;
  if (!res.ok || !body.access_token) {
    throw new CliError(`sign-in refused: ${body.error_description ?? body.error ?? `HTTP ${res.status}`}`, body.error);
  }
  return body;
}

function toLogin(username: string, tokenUrl: string, body: TokenResponse, tenant?: string): StoredLogin {
  const now = Date.now();
  return {
    username,
    accessToken: body.access_token!,
    expiresAt: now + (body.expires_in ?? 300) * 1000,
    refreshToken: body.refresh_token,
    refreshExpiresAt: body.refresh_token ? now + (body.refresh_expires_in ?? 1800) * 1000 : undefined,
    tokenUrl,
    clientId: CLIENT_ID,
    tenant,
  };
}

export async function passwordLogin(tokenUrl: string, username: string, password: string, tenant?: string): Promise<StoredLogin> {
  return toLogin(username, tokenUrl, await grant(tokenUrl, { grant_type: 'password', username, password }), tenant);
}

/**
 * Before any command: when the command will use the stored login (no --token, no
 * ALLIANCE_TOKEN) and its access token is about to expire, renew it with the refresh token and
 * store the new pair. An expired session says so in one line.
 */
export async function refreshStoredLogin(io: CliIO, flags: { url?: string; token?: string }): Promise<void> {
  if (flags.token ?? io.env.ALLIANCE_TOKEN) return;
  const url = (flags.url ?? io.env.ALLIANCE_URL ?? 'http://localhost:4000').replace(/\/+$/, '');
  const login = storedLogin(io.env, url);
  if (!login || login.expiresAt - Date.now() > REFRESH_MARGIN_MS) return;
  if (!login.refreshToken || (login.refreshExpiresAt ?? 0) <= Date.now()) {
    throw new CliError(`the sign-in of ${login.username} at ${url} has expired: run \`alliance-hub login\` again`);
  }
  const body = await grant(login.tokenUrl, { grant_type: 'refresh_token', refresh_token: login.refreshToken }).catch(() => {
    throw new CliError(`the sign-in of ${login.username} at ${url} could not be renewed: run \`alliance-hub login\` again`);
  });
  saveLogin(io.env, url, toLogin(login.username, login.tokenUrl, body, login.tenant));
}

/** commander's preAction hook for main.ts: every command but login/logout starts with a fresh token. */
export function refreshBeforeCommands(io: CliIO) {
  return async (_program: Command, action: Command): Promise<void> => {
    if (action.name() === 'login' || action.name() === 'logout') return;
    await refreshStoredLogin(io, action.optsWithGlobals<{ url?: string; token?: string }>());
  };
}
