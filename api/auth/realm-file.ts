import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';

/**
 * The subset of a Keycloak realm export (`kc.sh export` / `--import-realm` JSON) that the
 * embedded development realm serves. Reading the very file `docker/` imports into Keycloak is
 * what keeps demo users, passwords, roles and clients identical in both modes: there is no
 * second list to drift.
 */
export interface RealmModel {
  realm: string;
  enabled: boolean;
  accessTokenLifespanSec: number;
  /** Keycloak's ssoSessionIdleTimeout: how long a refresh token stays usable. */
  refreshTokenLifespanSec: number;
  users: Map<string, RealmUser>;
  clients: Map<string, RealmClient>;
  /** realm role name → the realm roles it is a composite of. */
  compositeRealmRoles: Map<string, string[]>;
}

export interface RealmUser {
  id: string;
  username: string;
  enabled: boolean;
  email?: string;
  emailVerified: boolean;
  firstName?: string;
  lastName?: string;
  /** Plain-text password from an import credential; undefined when the file has none. */
  password?: string;
  passwordTemporary: boolean;
  requiredActions: string[];
  realmRoles: string[];
}

export interface RealmClient {
  clientId: string;
  enabled: boolean;
  publicClient: boolean;
  bearerOnly: boolean;
  directAccessGrantsEnabled: boolean;
  secret?: string;
  /** Audiences added to access tokens by this client's oidc-audience-mapper protocol mappers. */
  accessTokenAudiences: string[];
}

// Keycloak's own defaults for a realm that does not set them.
const DEFAULT_ACCESS_TOKEN_LIFESPAN_SEC = 300;
const DEFAULT_SSO_SESSION_IDLE_SEC = 1800;

export async function loadRealmFile(path: string): Promise<RealmModel> {
  const raw: unknown = JSON.parse(await readFile(path, 'utf8'));
  return parseRealm(raw, path);
}

export function parseRealm(raw: unknown, source = 'realm file'): RealmModel {
  const rep = asObject(raw, source);
  const realm = rep.realm;
  if (typeof realm !== 'string' || realm === '') throw new Error(`${source}: "realm" must be a non-empty string`);
  return {
    realm,
    enabled: rep.enabled !== false,
    accessTokenLifespanSec: positiveNumber(rep.accessTokenLifespan, DEFAULT_ACCESS_TOKEN_LIFESPAN_SEC),
    refreshTokenLifespanSec: positiveNumber(rep.ssoSessionIdleTimeout, DEFAULT_SSO_SESSION_IDLE_SEC),
    users: indexBy(arrayOf(rep.users).map((u) => parseUser(realm, u, source)), (u) => u.username),
    clients: indexBy(arrayOf(rep.clients).map((c) => parseClient(c, source)), (c) => c.clientId),
    compositeRealmRoles: parseCompositeRoles(rep.roles),
  };
}

/**
 * Expands composite realm roles the way Keycloak does when it fills `realm_access.roles`
 * (default-roles-alliance → offline_access, uma_authorization). Cycles are tolerated.
 */
export function effectiveRealmRoles(model: RealmModel, user: RealmUser): string[] {
  const seen = new Set<string>();
  const visit = (role: string): void => {
    if (seen.has(role)) return;
    seen.add(role);
    for (const inner of model.compositeRealmRoles.get(role) ?? []) visit(inner);
  };
  user.realmRoles.forEach(visit);
  return [...seen];
}

/**
 * A stable subject for users whose import entry has no `id` (Keycloak would assign a random
 * one; we derive a name-based UUID so `sub` survives restarts and matches across processes).
 */
export function deriveUserId(realm: string, username: string): string {
  const hash = createHash('sha1').update(`alliance-hub:${realm}:${username}`).digest();
  hash[6] = (hash[6] & 0x0f) | 0x50; // version 5 (name-based, SHA-1)
  hash[8] = (hash[8] & 0x3f) | 0x80; // RFC 4122 variant
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function parseUser(realm: string, raw: unknown, source: string): RealmUser {
  const rep = asObject(raw, `${source}: user`);
  const username = rep.username;
  if (typeof username !== 'string' || username === '') throw new Error(`${source}: every user needs a username`);
  // Keycloak lower-cases usernames on import and matches them case-insensitively at login.
  const normalised = username.toLowerCase();
  const credential = arrayOf(rep.credentials)
    .map((c) => asObject(c, `${source}: credential of ${username}`))
    .find((c) => c.type === 'password' && typeof c.value === 'string');
  return {
    id: typeof rep.id === 'string' && rep.id !== '' ? rep.id : deriveUserId(realm, normalised),
    username: normalised,
    enabled: rep.enabled === true,
    email: optionalString(rep.email),
    emailVerified: rep.emailVerified === true,
    firstName: optionalString(rep.firstName),
    lastName: optionalString(rep.lastName),
    password: credential?.value as string | undefined,
    passwordTemporary: credential?.temporary === true,
    requiredActions: arrayOf(rep.requiredActions).filter((a): a is string => typeof a === 'string'),
    realmRoles: arrayOf(rep.realmRoles).filter((r): r is string => typeof r === 'string'),
  };
}

function parseClient(raw: unknown, source: string): RealmClient {
  const rep = asObject(raw, `${source}: client`);
  if (typeof rep.clientId !== 'string' || rep.clientId === '') throw new Error(`${source}: every client needs a clientId`);
  return {
    clientId: rep.clientId,
    enabled: rep.enabled !== false,
    publicClient: rep.publicClient === true,
    bearerOnly: rep.bearerOnly === true,
    directAccessGrantsEnabled: rep.directAccessGrantsEnabled === true,
    secret: optionalString(rep.secret),
    accessTokenAudiences: audienceMappers(rep.protocolMappers),
  };
}

function audienceMappers(raw: unknown): string[] {
  const audiences: string[] = [];
  for (const item of arrayOf(raw)) {
    const mapper = asObject(item, 'protocol mapper');
    if (mapper.protocolMapper !== 'oidc-audience-mapper') continue;
    const config = mapper.config && typeof mapper.config === 'object' ? (mapper.config as Record<string, unknown>) : {};
    if (config['access.token.claim'] !== 'true' && config['access.token.claim'] !== true) continue;
    for (const key of ['included.client.audience', 'included.custom.audience']) {
      const value = config[key];
      if (typeof value === 'string' && value !== '') audiences.push(value);
    }
  }
  return audiences;
}

function parseCompositeRoles(raw: unknown): Map<string, string[]> {
  const composites = new Map<string, string[]>();
  const roles = raw && typeof raw === 'object' ? (raw as Record<string, unknown>).realm : undefined;
  for (const item of arrayOf(roles)) {
    const role = asObject(item, 'realm role');
    if (typeof role.name !== 'string') continue;
    const inner = role.composites && typeof role.composites === 'object' ? (role.composites as Record<string, unknown>).realm : undefined;
    composites.set(role.name, arrayOf(inner).filter((r): r is string => typeof r === 'string'));
  }
  return composites;
}

function asObject(raw: unknown, what: string): Record<string, unknown> {
  if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new Error(`${what} must be a JSON object`);
  return raw as Record<string, unknown>;
}

function arrayOf(raw: unknown): unknown[] {
  return Array.isArray(raw) ? raw : [];
}

function optionalString(raw: unknown): string | undefined {
  return typeof raw === 'string' && raw !== '' ? raw : undefined;
}

function positiveNumber(raw: unknown, fallback: number): number {
  return typeof raw === 'number' && Number.isFinite(raw) && raw > 0 ? raw : fallback;
}

function indexBy<T>(items: T[], key: (item: T) => string): Map<string, T> {
  return new Map(items.map((item) => [key(item), item]));
}
