// The dashboard's connection to the platform: sign-in against the realm (password grant with the
// public client alliance-cli, refreshed before the access token expires), GraphQL over HTTP,
// and one graphql-ws connection for live job events and quota changes. The session lives in
// sessionStorage: it survives a reload, not the browser tab.
import { createClient } from './vendor/graphql-ws/client.js';

const STORE = 'alliance-hub.session';

export class ApiError extends Error {
  constructor(message, code) {
    super(message);
    this.code = code;
  }
}

export class Session {
  constructor(config) {
    this.config = config;
    this.tenant = null;
    this.listeners = new Set();
    this.refreshTimer = null;
    this.ws = null;
    const saved = JSON.parse(sessionStorage.getItem(STORE) ?? 'null');
    if (saved && saved.expiresAt > Date.now() + 5_000) {
      Object.assign(this, { token: saved.token, refreshToken: saved.refreshToken, expiresAt: saved.expiresAt, tenant: saved.tenant ?? null });
      this.scheduleRefresh();
    }
  }

  get signedIn() {
    return Boolean(this.token);
  }

  async signIn(username, password) {
    await this.grant({ grant_type: 'password', username, password });
  }

  async grant(fields) {
    let res;
    try {
      res = await fetch(this.config.tokenUrl, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ client_id: this.config.clientId, ...fields }),
      });
    } catch (err) {
      throw new ApiError(`the sign-in service is unreachable (${err.message})`, 'UNREACHABLE');
    }
    const body = await res.json().catch(() => ({}));
    if (!res.ok || !body.access_token) throw new ApiError(body.error_description ?? body.error ?? `HTTP ${res.status}`, body.error);
    this.token = body.access_token;
    this.refreshToken = body.refresh_token ?? null;
    this.expiresAt = Date.now() + body.expires_in * 1000;
    this.save();
    this.scheduleRefresh();
  }

  /** Renews the access token a little before it expires; a failed renewal signs out. */
  scheduleRefresh() {
    clearTimeout(this.refreshTimer);
    if (!this.refreshToken) return;
    const due = Math.max(1_000, this.expiresAt - Date.now() - 30_000);
    this.refreshTimer = setTimeout(() => {
      this.grant({ grant_type: 'refresh_token', refresh_token: this.refreshToken }).catch(() => this.signOut());
    }, due);
  }

  setTenant(slug) {
    this.tenant = slug;
    this.save();
    this.restartLive();
  }

  save() {
    sessionStorage.setItem(STORE, JSON.stringify({ token: this.token, refreshToken: this.refreshToken, expiresAt: this.expiresAt, tenant: this.tenant }));
  }

  signOut() {
    clearTimeout(this.refreshTimer);
    sessionStorage.removeItem(STORE);
    this.token = null;
    this.refreshToken = null;
    this.tenant = null;
    this.ws?.dispose();
    this.ws = null;
    for (const l of this.listeners) l({ type: 'signed-out' });
  }

  onChange(listener) {
    this.listeners.add(listener);
  }

  async gql(query, variables = {}) {
    const headers = { 'content-type': 'application/json', authorization: `Bearer ${this.token}` };
    if (this.tenant) headers['x-tenant'] = this.tenant;
    const res = await fetch(this.config.graphqlPath, { method: 'POST', headers, body: JSON.stringify({ query, variables }) });
    const body = await res.json().catch(() => ({}));
    const error = body.errors?.[0];
    if (error) {
      if (error.extensions?.code === 'UNAUTHENTICATED') this.signOut();
      throw new ApiError(error.message, error.extensions?.code);
    }
    if (!res.ok) throw new ApiError(`HTTP ${res.status}`);
    return body.data;
  }

  /** The live connection, opened lazily; it reconnects with the current token and tenant. */
  live() {
    if (!this.ws) {
      const url = new URL(this.config.graphqlPath, location.href);
      url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
      this.ws = createClient({
        url: url.toString(),
        connectionParams: () => ({ authorization: `Bearer ${this.token}`, ...(this.tenant ? { tenant: this.tenant } : {}) }),
        // The server closes the socket when the token it was opened with expires (4401): a
        // retry connects again with the refreshed one. Give up only when signed out.
        retryAttempts: Number.POSITIVE_INFINITY,
        shouldRetry: () => this.signedIn,
        retryWait: async (retries) => new Promise((r) => setTimeout(r, Math.min(10_000, 500 * 2 ** retries))),
        on: {
          connected: () => { for (const l of this.listeners) l({ type: 'live', up: true }); },
          closed: () => { for (const l of this.listeners) l({ type: 'live', up: false }); },
        },
      });
    }
    return this.ws;
  }

  /** Subscribes; `onData` hears every result; returns the unsubscribe function. */
  subscribe(query, variables, onData) {
    return this.live().subscribe({ query, variables }, {
      next: (result) => { if (result.data) onData(result.data); },
      error: () => {},
      complete: () => {},
    });
  }

  /** A new tenant means new connection parameters: subscriptions are re-made by the caller. */
  restartLive() {
    this.ws?.dispose();
    this.ws = null;
  }
}

export async function loadConfig() {
  const res = await fetch('/dashboard/config.json');
  return res.json();
}
