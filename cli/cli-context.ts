// What every command needs: where to write, and how to reach the API. Commands take a CliIO
// instead of touching process.* so they can run in-process in tests and as the real binary.
import type { Writable } from 'node:stream';
import { storedLogin } from './credentials';

export interface CliIO {
  stdout: Writable;
  stderr: Writable;
  env: Record<string, string | undefined>;
  /** Progress bars only on a terminal; tests and pipes get plain lines. */
  interactive: boolean;
}

export function processIO(): CliIO {
  return { stdout: process.stdout, stderr: process.stderr, env: process.env, interactive: Boolean(process.stderr.isTTY) };
}

export interface ConnectionOptions {
  url?: string;
  token?: string;
  tenant?: string;
}

export interface Connection {
  url: string;
  token: string;
  tenant?: string;
}

/** A failure the user can act on: printed as one line, exit code 1, no stack trace. */
export class CliError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
    this.name = 'CliError';
  }
}

/** Flags win over the environment (ALLIANCE_URL, ALLIANCE_TOKEN, ALLIANCE_TENANT), which wins over a stored login. */
export function resolveConnection(flags: ConnectionOptions, env: CliIO['env']): Connection {
  const url = (flags.url ?? env.ALLIANCE_URL ?? 'http://localhost:4000').replace(/\/+$/, '');
  // Then the sign-in stored by `alliance-hub login` for this API (cli/credentials.ts).
  const stored = flags.token ?? env.ALLIANCE_TOKEN ? undefined : storedLogin(env, url);
  const token = flags.token ?? env.ALLIANCE_TOKEN ?? stored?.accessToken;
  const tenant = flags.tenant ?? env.ALLIANCE_TENANT ?? stored?.tenant;
  if (!token) {
    throw new CliError('no access token: run `alliance-hub login`, or set ALLIANCE_TOKEN or pass --token (get one from ' +
      `${url}/realms/alliance/protocol/openid-connect/token with client_id=alliance-cli)`);
  }
  return { url, token, tenant: tenant || undefined };
}
