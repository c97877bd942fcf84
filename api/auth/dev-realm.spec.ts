import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { createDevRealm, type DevRealm } from './dev-realm';
import { deriveUserId } from './realm-file';
import { createTokenVerifier, TokenRejectedError } from './token-verifier';

const REALM_FILE = join(__dirname, '../../docker/keycloak/alliance-realm.json');

interface RunningRealm {
  realm: DevRealm;
  origin: string;
  issuer: string;
  keyDir: string;
  close(): Promise<void>;
}

/** The dev realm on a real HTTP server (127.0.0.1, ephemeral port), as all-in-one mode mounts it. */
async function startRealm(opts: { realmFile?: string; keyDir?: string; tokenLifetimeSec?: number } = {}): Promise<RunningRealm> {
  const keyDir = opts.keyDir ?? (await mkdtemp(join(tmpdir(), 'alliance-realm-')));
  let origin = '';
  const realm = await createDevRealm({
    realmFile: opts.realmFile ?? REALM_FILE,
    keyDir,
    issuerOrigin: () => origin,
    tokenLifetimeSec: opts.tokenLifetimeSec,
  });
  const app = express();
  app.use(realm.router);
  const server: Server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    realm,
    origin,
    issuer: `${origin}/realms/alliance`,
    keyDir,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
    },
  };
}

async function postToken(issuer: string, form: Record<string, string>, headers: Record<string, string> = {}) {
  const res = await fetch(`${issuer}/protocol/openid-connect/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(form),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

const password = (username: string, pass = username, clientId = 'alliance-cli') => ({
  grant_type: 'password',
  client_id: clientId,
  username,
  password: pass,
});

interface RealmFileUser {
  id: string;
  username: string;
  realmRoles: string[];
}

describe('embedded development realm', () => {
  let running: RunningRealm;
  let realmFile: { users: RealmFileUser[] };

  beforeAll(async () => {
    running = await startRealm();
    realmFile = JSON.parse(await readFile(REALM_FILE, 'utf8'));
  });
  afterAll(async () => {
    await running.close();
    await rm(running.keyDir, { recursive: true, force: true });
  });

  describe('discovery and keys', () => {
    it('serves an OpenID configuration at the Keycloak path, naming Keycloak-shaped endpoints', async () => {
      const res = await fetch(`${running.issuer}/.well-known/openid-configuration`);
      expect(res.status).toBe(200);
      const doc = (await res.json()) as Record<string, unknown>;
      expect(doc).toMatchObject({
        issuer: running.issuer,
        jwks_uri: `${running.issuer}/protocol/openid-connect/certs`,
        token_endpoint: `${running.issuer}/protocol/openid-connect/token`,
        id_token_signing_alg_values_supported: ['RS256'],
      });
    });

    it('publishes only public RSA signing keys in the JWKS', async () => {
      const res = await fetch(`${running.issuer}/protocol/openid-connect/certs`);
      const jwks = (await res.json()) as { keys: Array<Record<string, unknown>> };
      expect(jwks.keys.length).toBeGreaterThanOrEqual(1);
      for (const key of jwks.keys) {
        expect(key).toMatchObject({ kty: 'RSA', alg: 'RS256', use: 'sig' });
        expect(typeof key.kid).toBe('string');
        for (const secret of ['d', 'p', 'q', 'dp', 'dq', 'qi']) expect(key).not.toHaveProperty(secret);
      }
    });

    it('answers only under /realms/alliance', async () => {
      const res = await fetch(`${running.origin}/realms/other/protocol/openid-connect/certs`);
      expect(res.status).toBe(404);
    });

    it('persists the signing key with owner-only permissions and reuses it after a restart', async () => {
      const keyDir = await mkdtemp(join(tmpdir(), 'alliance-realm-'));
      try {
        const first = await startRealm({ keyDir });
        const token = await first.realm.issueToken('alice');
        await first.close();
        expect((await stat(join(keyDir, 'realm-signing-keys.json'))).mode & 0o777).toBe(0o600);
        expect((await stat(keyDir)).mode & 0o777).toBe(0o700);

        const second = await startRealm({ keyDir });
        try {
          const tokenAfterRestart = await second.realm.issueToken('alice');
          expect(decodeProtectedHeader(tokenAfterRestart).kid).toBe(decodeProtectedHeader(token).kid);
          // Same kid: the persisted key was loaded, not regenerated; and it still verifies.
          const verifier = createTokenVerifier({ issuer: second.issuer, audience: 'alliance-api' });
          await expect(verifier.verify(tokenAfterRestart)).resolves.toMatchObject({ username: 'alice' });
        } finally {
          await second.close();
        }
      } finally {
        await rm(keyDir, { recursive: true, force: true });
      }
    });

    it('rotateKey adds a key, signs with it and keeps the old one published', async () => {
      const keyDir = await mkdtemp(join(tmpdir(), 'alliance-realm-'));
      const local = await startRealm({ keyDir });
      try {
        const oldKid = decodeProtectedHeader(await local.realm.issueToken('alice')).kid;
        await local.realm.rotateKey();
        const newKid = decodeProtectedHeader(await local.realm.issueToken('alice')).kid;
        expect(newKid).not.toBe(oldKid);
        const jwks = (await (await fetch(`${local.issuer}/protocol/openid-connect/certs`)).json()) as { keys: Array<{ kid: string }> };
        expect(jwks.keys.map((k) => k.kid)).toEqual([oldKid, newKid]);
        expect((await stat(join(keyDir, 'realm-signing-keys.json'))).mode & 0o777).toBe(0o600);
      } finally {
        await local.close();
        await rm(keyDir, { recursive: true, force: true });
      }
    });
  });

  describe('password grant (Keycloak direct access grant)', () => {
    it.each(['admin', 'alice', 'dave', 'bob', 'erin', 'carol'])('issues a Keycloak-shaped access token to %s', async (username) => {
      const { status, headers, body } = await postToken(running.issuer, password(username));
      expect(status).toBe(200);
      expect(headers.get('cache-control')).toBe('no-store');
      expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 300, scope: 'profile email' });
      expect(typeof body.refresh_token).toBe('string');

      const token = body.access_token as string;
      const header = decodeProtectedHeader(token);
      expect(header.alg).toBe('RS256');
      expect(typeof header.kid).toBe('string');

      const claims = decodeJwt(token);
      const fileUser = realmFile.users.find((u) => u.username === username)!;
      expect(claims).toMatchObject({
        iss: running.issuer,
        sub: fileUser.id,
        aud: 'alliance-api',
        typ: 'Bearer',
        azp: 'alliance-cli',
        preferred_username: username,
      });
      expect(claims.exp! - claims.iat!).toBe(300);
      expect(typeof claims.jti).toBe('string');
      expect(typeof claims.auth_time).toBe('number');
      const roles = (claims.realm_access as { roles: string[] }).roles;
      // Composite default role expanded, as Keycloak puts it into realm_access.
      expect(roles).toEqual(expect.arrayContaining(['default-roles-alliance', 'offline_access', 'uma_authorization']));
      expect(roles.includes('alliance-admin')).toBe(username === 'admin');
    });

    it('matches usernames case-insensitively, as Keycloak does', async () => {
      const { status, body } = await postToken(running.issuer, password('Alice', 'alice'));
      expect(status).toBe(200);
      expect(decodeJwt(body.access_token as string).preferred_username).toBe('alice');
    });

    it('answers a wrong password and an unknown user with the same Keycloak error', async () => {
      const wrongPassword = await postToken(running.issuer, password('alice', 'bob'));
      const unknownUser = await postToken(running.issuer, password('mallory', 'mallory'));
      const emptyPassword = await postToken(running.issuer, password('alice', ''));
      for (const res of [wrongPassword, unknownUser, emptyPassword]) {
        expect(res.status).toBe(401);
        expect(res.body).toEqual({ error: 'invalid_grant', error_description: 'Invalid user credentials' });
      }
    });

    it('rejects an unknown client', async () => {
      const res = await postToken(running.issuer, password('alice', 'alice', 'no-such-client'));
      expect(res.status).toBe(401);
      expect(res.body).toEqual({ error: 'invalid_client', error_description: 'Invalid client or Invalid client credentials' });
    });

    it('refuses to issue tokens to the bearer-only API client', async () => {
      const res = await postToken(running.issuer, password('alice', 'alice', 'alliance-api'));
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'invalid_client', error_description: 'Bearer-only not allowed' });
    });

    it('rejects unsupported and missing grant types', async () => {
      for (const grantType of ['client_credentials', 'authorization_code', 'urn:ietf:params:oauth:grant-type:token-exchange']) {
        const res = await postToken(running.issuer, { grant_type: grantType, client_id: 'alliance-cli' });
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ error: 'unsupported_grant_type', error_description: 'Unsupported grant_type' });
      }
      const missing = await postToken(running.issuer, { client_id: 'alliance-cli' });
      expect(missing.status).toBe(400);
      expect(missing.body).toEqual({ error: 'invalid_request', error_description: 'Missing form parameter: grant_type' });
    });

    it('does not accept a JSON body in place of the form', async () => {
      const res = await fetch(`${running.issuer}/protocol/openid-connect/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(password('alice')),
      });
      expect(res.status).toBe(400);
      expect(await res.json()).toMatchObject({ error: 'invalid_request' });
    });

    it('answers an oversized body and undecodable Basic credentials with OAuth errors, not 500s', async () => {
      const huge = await postToken(running.issuer, { ...password('alice'), padding: 'x'.repeat(20_000) });
      expect(huge.status).toBe(400);
      expect(huge.body).toMatchObject({ error: 'invalid_request' });
      const badBasic = await postToken(running.issuer, password('alice'), {
        authorization: `Basic ${Buffer.from('%E0%A4%A:secret').toString('base64')}`,
      });
      expect(badBasic.status).toBe(401);
      expect(badBasic.body).toMatchObject({ error: 'invalid_client' });
    });

    it('honours tokenLifetimeSec over the realm file', async () => {
      const short = await startRealm({ tokenLifetimeSec: 60 });
      try {
        const { body } = await postToken(short.issuer, password('bob'));
        expect(body.expires_in).toBe(60);
        const claims = decodeJwt(body.access_token as string);
        expect(claims.exp! - claims.iat!).toBe(60);
      } finally {
        await short.close();
        await rm(short.keyDir, { recursive: true, force: true });
      }
    });
  });

  describe('refresh_token grant', () => {
    it('exchanges a refresh token for a fresh access token of the same user and session', async () => {
      const first = await postToken(running.issuer, password('carol'));
      const refreshed = await postToken(running.issuer, {
        grant_type: 'refresh_token',
        client_id: 'alliance-cli',
        refresh_token: first.body.refresh_token as string,
      });
      expect(refreshed.status).toBe(200);
      const before = decodeJwt(first.body.access_token as string);
      const after = decodeJwt(refreshed.body.access_token as string);
      expect(after.sub).toBe(before.sub);
      expect(after.sid).toBe(before.sid);
      expect(after.jti).not.toBe(before.jti);
    });

    it('refuses an access token, garbage, or a missing parameter as refresh token', async () => {
      const { body } = await postToken(running.issuer, password('carol'));
      for (const refreshToken of [body.access_token as string, 'garbage']) {
        const res = await postToken(running.issuer, { grant_type: 'refresh_token', client_id: 'alliance-cli', refresh_token: refreshToken });
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ error: 'invalid_grant', error_description: 'Invalid refresh token' });
      }
      const missing = await postToken(running.issuer, { grant_type: 'refresh_token', client_id: 'alliance-cli' });
      expect(missing.status).toBe(400);
      expect(missing.body).toMatchObject({ error: 'invalid_request' });
    });

    it('the refresh token itself is not accepted as an access token by the API verifier', async () => {
      const { body } = await postToken(running.issuer, password('carol'));
      const verifier = createTokenVerifier({ issuer: running.issuer, audience: 'alliance-api' });
      const rejection = verifier.verify(body.refresh_token as string);
      await expect(rejection).rejects.toBeInstanceOf(TokenRejectedError);
    });
  });

  describe('driven by the realm file', () => {
    let dir: string;
    let custom: RunningRealm;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'alliance-realm-file-'));
      const rep = JSON.parse(await readFile(REALM_FILE, 'utf8'));
      const base = { enabled: true, emailVerified: true, firstName: 'T', lastName: 'User', realmRoles: ['default-roles-alliance'] };
      rep.users.push(
        { ...base, username: 'noid', email: 'noid@x.example', credentials: [{ type: 'password', value: 'noid', temporary: false }] },
        { ...base, username: 'frozen', enabled: false, email: 'f@x.example', credentials: [{ type: 'password', value: 'frozen' }] },
        { ...base, username: 'temp', email: 't@x.example', credentials: [{ type: 'password', value: 'temp', temporary: true }] },
        { ...base, username: 'noprofile', email: undefined, credentials: [{ type: 'password', value: 'noprofile' }] },
      );
      rep.clients.push({ clientId: 'no-audience-cli', enabled: true, publicClient: true, directAccessGrantsEnabled: true });
      rep.clients.push({ clientId: 'browser-only', enabled: true, publicClient: true, directAccessGrantsEnabled: false });
      await writeFile(join(dir, 'realm.json'), JSON.stringify(rep));
      custom = await startRealm({ realmFile: join(dir, 'realm.json') });
    });
    afterAll(async () => {
      await custom.close();
      await rm(custom.keyDir, { recursive: true, force: true });
      await rm(dir, { recursive: true, force: true });
    });

    it('derives a stable subject for a user without an id', async () => {
      const { body } = await postToken(custom.issuer, password('noid'));
      expect(decodeJwt(body.access_token as string).sub).toBe(deriveUserId('alliance', 'noid'));
    });

    it('fails disabled users and users with pending setup the way Keycloak does', async () => {
      expect((await postToken(custom.issuer, password('frozen'))).body).toEqual({ error: 'invalid_grant', error_description: 'Account disabled' });
      for (const username of ['temp', 'noprofile']) {
        const res = await postToken(custom.issuer, password(username));
        expect(res.status).toBe(400);
        expect(res.body).toEqual({ error: 'invalid_grant', error_description: 'Account is not fully set up' });
      }
    });

    it('refuses the password grant to a client without direct access grants', async () => {
      const res = await postToken(custom.issuer, password('alice', 'alice', 'browser-only'));
      expect(res.status).toBe(400);
      expect(res.body).toEqual({ error: 'unauthorized_client', error_description: 'Client not allowed for direct access grants' });
    });

    it('takes aud from the client audience mapper: without it the API rejects the token', async () => {
      const { status, body } = await postToken(custom.issuer, password('alice', 'alice', 'no-audience-cli'));
      expect(status).toBe(200);
      expect(decodeJwt(body.access_token as string).aud).toBeUndefined();
      const verifier = createTokenVerifier({ issuer: custom.issuer, audience: 'alliance-api' });
      await expect(verifier.verify(body.access_token as string)).rejects.toMatchObject({ reason: 'audience' });
    });
  });
});
