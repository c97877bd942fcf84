// Stored sign-ins of `alliance-hub login`: ~/.config/alliance-hub/credentials.json (or under
// $XDG_CONFIG_HOME), one entry per API origin, readable by the user only (file 0600, folder
// 0700) — it holds bearer and refresh tokens. Other commands use the stored access token when
// neither --token nor ALLIANCE_TOKEN is given; main.ts refreshes it first when it is about to
// expire. This module imports nothing of the CLI, so cli-context.ts can read it synchronously.
import fs from 'node:fs';
import path from 'node:path';

export interface StoredLogin {
  username: string;
  accessToken: string;
  /** Epoch milliseconds. */
  expiresAt: number;
  refreshToken?: string;
  refreshExpiresAt?: number;
  tokenUrl: string;
  clientId: string;
  /** Default acting tenant chosen at login (--tenant), used when no flag or env names one. */
  tenant?: string;
}

type Env = Record<string, string | undefined>;

/**
 * Where the file lives; null when the environment names no home (the CLI's io.env is the whole
 * truth: in-process callers, such as tests, never touch the real user's credentials).
 */
export function credentialsPath(env: Env): string | null {
  const base = env.XDG_CONFIG_HOME || (env.HOME ? path.join(env.HOME, '.config') : null);
  return base ? path.join(base, 'alliance-hub', 'credentials.json') : null;
}

function readAll(env: Env): Record<string, StoredLogin> {
  const file = credentialsPath(env);
  if (!file) return {};
  try {
    const parsed = JSON.parse(fs.readFileSync(file, 'utf8'));
    return parsed && typeof parsed === 'object' ? parsed : {};
  } catch {
    return {};
  }
}

/** The sign-in stored for this API origin, if any (expired or not). */
export function storedLogin(env: Env, url: string): StoredLogin | undefined {
  return readAll(env)[originOf(url)];
}

export function saveLogin(env: Env, url: string, login: StoredLogin | null): string {
  const file = credentialsPath(env);
  if (!file) throw new Error('neither HOME nor XDG_CONFIG_HOME is set: nowhere to store the sign-in');
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o700 });
  const all = readAll(env);
  if (login) all[originOf(url)] = login;
  else delete all[originOf(url)];
  // Written to a new file created 0600 and renamed over the old one: the tokens are never, even
  // briefly, in a file others may read, and a crash cannot leave half a file.
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(all, null, 2) + '\n', { mode: 0o600 });
  fs.chmodSync(tmp, 0o600);
  fs.renameSync(tmp, file);
  return file;
}

export function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}
