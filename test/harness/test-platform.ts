// A whole platform per test file: its own database, a real HTTP server on an ephemeral port,
// the embedded realm issuing real tokens. Helpers speak HTTP and graphql-ws like any client.
import 'reflect-metadata';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createClient, type Client as WsClient } from 'graphql-ws';
import WebSocket from 'ws';
import { startPlatform, type Platform } from '../../api/platform';
import { loadConfig } from '../../core/config';
import { createTestDatabase, type TestDatabase } from './test-database';

export interface GraphQLResponse<T = Record<string, any>> {
  status: number;
  data?: T | null;
  errors?: { message: string; path?: (string | number)[]; extensions?: Record<string, any> }[];
  headers: Headers;
}

export interface CallOptions {
  token?: string;
  tenant?: string;
  headers?: Record<string, string>;
}

/** What tests call an API process through: this platform's, or another process on its database. */
export interface ApiClient {
  readonly url: string;
  token(username: string, password?: string): Promise<string>;
  gql<T = Record<string, any>>(query: string, variables?: Record<string, unknown>, opts?: CallOptions): Promise<GraphQLResponse<T>>;
  as<T = Record<string, any>>(username: string, query: string, variables?: Record<string, unknown>, tenant?: string): Promise<T>;
}

async function postGraphQL<T>(url: string, query: string, variables: Record<string, unknown>, opts: CallOptions): Promise<GraphQLResponse<T>> {
  const headers: Record<string, string> = { 'content-type': 'application/json', ...opts.headers };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  if (opts.tenant) headers['x-tenant'] = opts.tenant;
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: T; errors?: GraphQLResponse['errors'] };
  return { status: res.status, data: body.data, errors: body.errors, headers: res.headers };
}

async function asUser<T>(client: ApiClient, username: string, query: string, variables: Record<string, unknown>, tenant?: string): Promise<T> {
  const res = await client.gql<T>(query, variables, { token: await client.token(username), tenant });
  if (res.errors?.length) throw new Error(`${username}: ${JSON.stringify(res.errors)}`);
  return res.data as T;
}

export class TestPlatform implements ApiClient {
  private readonly tokens = new Map<string, string>();

  constructor(
    readonly platform: Platform,
    readonly database: TestDatabase,
    /** The platform's DATA_DIR (blobs, realm keys): worker processes in tests share it. */
    readonly dataDir: string,
  ) {}

  get url(): string {
    return this.platform.url;
  }

  get wsUrl(): string {
    return this.platform.url.replace(/^http/, 'ws') + '/graphql';
  }

  /** A real token from the realm's password grant (demo users: password = username). */
  async token(username: string, password = username): Promise<string> {
    const cached = this.tokens.get(username);
    if (cached) return cached;
    const res = await fetch(`${this.platform.issuer}/protocol/openid-connect/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', client_id: 'alliance-cli', username, password }),
    });
    const body = (await res.json()) as { access_token?: string };
    if (!res.ok || !body.access_token) throw new Error(`token for ${username}: ${res.status} ${JSON.stringify(body)}`);
    this.tokens.set(username, body.access_token);
    return body.access_token;
  }

  gql<T = Record<string, any>>(query: string, variables: Record<string, unknown> = {}, opts: CallOptions = {}): Promise<GraphQLResponse<T>> {
    return postGraphQL<T>(this.url, query, variables, opts);
  }

  /** gql as a demo user, failing the test on any GraphQL error. */
  as<T = Record<string, any>>(username: string, query: string, variables: Record<string, unknown> = {}, tenant?: string): Promise<T> {
    return asUser<T>(this, username, query, variables, tenant);
  }

  /** The same users (tokens of this platform's realm) against another API process on its database. */
  at(url: string): ApiClient {
    const client: ApiClient = {
      url,
      token: (username, password) => this.token(username, password),
      gql: (query, variables = {}, opts = {}) => postGraphQL(url, query, variables, opts),
      as: (username, query, variables = {}, tenant) => asUser(client, username, query, variables, tenant),
    };
    return client;
  }

  /** A graphql-ws client; `connectionParams` as the contract names them. */
  wsClient(connectionParams: Record<string, unknown>, extra: { onClose?: (code: number, reason: string) => void } = {}): WsClient {
    return createClient({
      url: this.wsUrl,
      webSocketImpl: WebSocket,
      connectionParams,
      retryAttempts: 0,
      lazy: false,
      on: { closed: (event) => extra.onClose?.((event as { code: number }).code, String((event as { reason?: string }).reason ?? '')) },
    });
  }

  async close(): Promise<void> {
    await this.platform.close();
    await this.database.drop();
    fs.rmSync(this.dataDir, { recursive: true, force: true });
  }
}

export async function startTestPlatform(opts: { seedDemo?: boolean; env?: Record<string, string> } = {}): Promise<TestPlatform> {
  const database = await createTestDatabase();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-hub-data-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: database.ownerUrl,
    APP_DATABASE_PASSWORD: process.env.APP_DATABASE_PASSWORD,
    SYSTEM_DATABASE_PASSWORD: process.env.SYSTEM_DATABASE_PASSWORD,
    DATA_DIR: dataDir,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    // Key rotation is exercised right after unknown-kid attacks; no refetch cooldown in tests.
    JWKS_COOLDOWN_SEC: '0',
    ...opts.env,
  });
  try {
    const platform = await startPlatform(config, { seedDemo: opts.seedDemo ?? true });
    return new TestPlatform(platform, database, dataDir);
  } catch (err) {
    await database.drop();
    throw err;
  }
}
