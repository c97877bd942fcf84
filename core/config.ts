// One typed view of the environment, validated once at start. Every bad value is reported with
// its variable name and what would be accepted, all at once, so an operator fixes them in one go.
import path from 'node:path';

export type RunMode = 'all-in-one' | 'api' | 'worker';

export interface Config {
  mode: RunMode;
  env: 'development' | 'production' | 'test';
  port: number;
  host: string;
  /** Owner connection (migrations). Unset: an embedded PostgreSQL under dataDir. */
  databaseUrl?: string;
  /** Role-restricted connections used at run time; derived from databaseUrl when unset. */
  appDatabaseUrl?: string;
  systemDatabaseUrl?: string;
  /** Passwords for the derived app/system roles; generated and kept in dataDir when unset. */
  appDatabasePassword?: string;
  systemDatabasePassword?: string;
  dataDir: string;
  embeddedPostgresPort: number;
  /** Unset: the embedded development realm served by this process (its own origin). */
  keycloakUrl?: string;
  keycloakRealm: string;
  keycloakAudience: string;
  /** Minimum seconds between JWKS refetches triggered by an unknown key id. */
  jwksCooldownSec: number;
  publicUrl?: string;
  logLevel: string;
  /** Max bytes of one blob upload (POST /v1/blobs). */
  blobMaxBytes: number;
  /** Max bytes of a JSON request body (GraphQL). */
  bodyLimitBytes: number;
  shutdownGraceMs: number;
}

type Env = Record<string, string | undefined>;

class ConfigErrors {
  readonly problems: string[] = [];
  add(name: string, value: string, expected: string): void {
    this.problems.push(`${name}=${JSON.stringify(value)}: expected ${expected}`);
  }
}

function int(env: Env, name: string, fallback: number, errors: ConfigErrors, min = 0, max = 2 ** 31): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    errors.add(name, raw, `an integer from ${min} to ${max}`);
    return fallback;
  }
  return n;
}

function url(env: Env, name: string, errors: ConfigErrors, protocols: string[]): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  try {
    const parsed = new URL(raw);
    if (!protocols.includes(parsed.protocol)) throw new Error('protocol');
    return raw.replace(/\/+$/, '');
  } catch {
    errors.add(name, raw, `a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`);
    return undefined;
  }
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T, errors: ConfigErrors): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  errors.add(name, raw, `one of ${allowed.join(', ')}`);
  return fallback;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

export function loadConfig(env: Env = process.env, argvMode?: string): Config {
  const errors = new ConfigErrors();
  const pg = ['postgres:', 'postgresql:'];
  const http = ['http:', 'https:'];
  const mode = oneOf<RunMode>({ MODE: argvMode ?? env.MODE }, 'MODE', ['all-in-one', 'api', 'worker'], 'all-in-one', errors);
  const nodeEnv = oneOf(env, 'NODE_ENV', ['development', 'production', 'test'] as const, 'development', errors);
  const config: Config = {
    mode,
    env: nodeEnv,
    port: int(env, 'PORT', 4000, errors, 0, 65535),
    host: env.HOST || '0.0.0.0',
    databaseUrl: url(env, 'DATABASE_URL', errors, pg),
    appDatabaseUrl: url(env, 'APP_DATABASE_URL', errors, pg),
    systemDatabaseUrl: url(env, 'SYSTEM_DATABASE_URL', errors, pg),
    appDatabasePassword: env.APP_DATABASE_PASSWORD || undefined,
    systemDatabasePassword: env.SYSTEM_DATABASE_PASSWORD || undefined,
    dataDir: path.resolve(env.DATA_DIR || '.data'),
    embeddedPostgresPort: int(env, 'EMBEDDED_PG_PORT', 0, errors, 0, 65535),
    keycloakUrl: url(env, 'KEYCLOAK_URL', errors, http),
    keycloakRealm: env.KEYCLOAK_REALM || 'alliance',
    keycloakAudience: env.KEYCLOAK_AUDIENCE || 'alliance-api',
    jwksCooldownSec: int(env, 'JWKS_COOLDOWN_SEC', 10, errors, 0, 3600),
    publicUrl: url(env, 'PUBLIC_URL', errors, http),
    logLevel: oneOf(env, 'LOG_LEVEL', ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const,
      nodeEnv === 'test' ? 'silent' : 'info', errors),
    blobMaxBytes: int(env, 'BLOB_MAX_BYTES', 1024 ** 3, errors, 1),
    bodyLimitBytes: int(env, 'BODY_LIMIT_BYTES', 2 * 1024 ** 2, errors, 1024),
    shutdownGraceMs: int(env, 'SHUTDOWN_GRACE_MS', 10_000, errors, 0),
  };
  if (mode !== 'all-in-one' && !config.databaseUrl && !config.appDatabaseUrl) {
    errors.problems.push(`MODE=${mode} needs DATABASE_URL (split mode shares one external PostgreSQL)`);
  }
  if (mode !== 'all-in-one' && !config.keycloakUrl) {
    errors.problems.push(`MODE=${mode} needs KEYCLOAK_URL (the embedded realm only runs in all-in-one mode)`);
  }
  if (config.keycloakRealm && !/^[A-Za-z0-9_-]+$/.test(config.keycloakRealm)) {
    errors.add('KEYCLOAK_REALM', config.keycloakRealm, 'letters, digits, - and _');
  }
  if (errors.problems.length > 0) throw new ConfigError(errors.problems);
  return config;
}
