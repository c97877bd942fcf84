import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import {
  base64url,
  decodeJwt,
  decodeProtectedHeader,
  exportJWK,
  exportSPKI,
  generateKeyPair,
  importJWK,
  SignJWT,
  UnsecuredJWT,
  type JWK,
  type JWTPayload,
  type CryptoKey,
} from 'jose';
import { createDevRealm, type DevRealm } from './dev-realm';
import {
  createTokenVerifier,
  RealmUnreachableError,
  TokenRejectedError,
  type TokenRejectionReason,
  type TokenVerifier,
} from './token-verifier';

const REALM_FILE = join(__dirname, '../../docker/keycloak/alliance-realm.json');
const AUDIENCE = 'alliance-api';

interface RunningRealm {
  realm: DevRealm;
  issuer: string;
  keyDir: string;
  close(): Promise<void>;
}

/** The dev realm on a real HTTP server (127.0.0.1, ephemeral port); verifiers fetch its JWKS over HTTP. */
async function startRealm(): Promise<RunningRealm> {
  const keyDir = await mkdtemp(join(tmpdir(), 'alliance-verifier-'));
  let origin = '';
  const realm = await createDevRealm({ realmFile: REALM_FILE, keyDir, issuerOrigin: () => origin });
  const app = express();
  app.use(realm.router);
  const server: Server = app.listen(0, '127.0.0.1');
  await once(server, 'listening');
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    realm,
    issuer: `${origin}/realms/alliance`,
    keyDir,
    close: async () => {
      server.closeAllConnections();
      server.close();
      await once(server, 'close');
      await rm(keyDir, { recursive: true, force: true });
    },
  };
}

/** Counts JWKS fetches, to prove refetches are rate-limited. */
function countingFetch() {
  const counter = { calls: 0 };
  const impl = (url: string, init: RequestInit) => {
    counter.calls += 1;
    return fetch(url, init);
  };
  return { counter, impl };
}

async function passwordGrant(issuer: string, username: string): Promise<string> {
  const res = await fetch(`${issuer}/protocol/openid-connect/token`, {
    method: 'POST',
    body: new URLSearchParams({ grant_type: 'password', client_id: 'alliance-cli', username, password: username }),
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

async function expectRejected(verifier: TokenVerifier, token: string, reason: TokenRejectionReason): Promise<TokenRejectedError> {
  const error = await verifier.verify(token).then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(TokenRejectedError);
  expect(error).toMatchObject({ reason });
  return error as TokenRejectedError;
}

const now = () => Math.floor(Date.now() / 1000);

describe('token verifier', () => {
  let running: RunningRealm;
  let verifier: TokenVerifier;

  beforeAll(async () => {
    running = await startRealm();
    verifier = createTokenVerifier({ issuer: running.issuer, audience: AUDIENCE });
  });
  afterAll(() => running.close());

  /** A well-formed, correctly signed token's claims, for attacks that re-sign or tamper with them. */
  async function genuineClaims(username = 'alice'): Promise<JWTPayload> {
    return decodeJwt(await running.realm.issueToken(username));
  }

  async function realmPublicJwk(): Promise<JWK> {
    const res = await fetch(`${running.issuer}/protocol/openid-connect/certs`);
    return ((await res.json()) as { keys: JWK[] }).keys[0];
  }

  describe('accepts genuine tokens', () => {
    it('returns the identity of a password-grant token', async () => {
      const token = await passwordGrant(running.issuer, 'alice');
      const claims = decodeJwt(token);
      const identity = await verifier.verify(token);
      expect(identity).toEqual({
        subject: '43fe1a1c-8622-4cf8-acfd-f255902e0720',
        username: 'alice',
        realmRoles: expect.arrayContaining(['default-roles-alliance', 'offline_access']),
        isAllianceAdmin: false,
        expiresAt: new Date(claims.exp! * 1000),
      });
    });

    it('recognises the alliance administrator by realm role', async () => {
      const identity = await verifier.verify(await passwordGrant(running.issuer, 'admin'));
      expect(identity.username).toBe('admin');
      expect(identity.realmRoles).toContain('alliance-admin');
      expect(identity.isAllianceAdmin).toBe(true);
    });

    it.each(['dave', 'bob', 'erin', 'carol'])('accepts %s, who is no administrator', async (username) => {
      const identity = await verifier.verify(await passwordGrant(running.issuer, username));
      expect(identity).toMatchObject({ username, isAllianceAdmin: false });
    });

    it('accepts aud as an array that includes the API', async () => {
      const token = await running.realm.issueToken('bob', { aud: ['account', AUDIENCE] });
      await expect(verifier.verify(token)).resolves.toMatchObject({ username: 'bob' });
    });

    it('accepts an nbf in the past and an nbf within the clock tolerance', async () => {
      await expect(verifier.verify(await running.realm.issueToken('bob', { nbf: now() - 5 }))).resolves.toBeDefined();
      const tolerant = createTokenVerifier({ issuer: running.issuer, audience: AUDIENCE, clockToleranceSec: 30 });
      await expect(tolerant.verify(await running.realm.issueToken('bob', { nbf: now() + 10 }))).resolves.toBeDefined();
    });
  });

  describe('rejects forged and invalid tokens with TokenRejectedError', () => {
    it('alg none (unsigned token), in any spelling', async () => {
      const claims = await genuineClaims('admin');
      const { kid } = decodeProtectedHeader(await running.realm.issueToken('admin'));
      const unsigned = new UnsecuredJWT(claims).encode();
      const error = await expectRejected(verifier, unsigned, 'algorithm');
      expect(error.message).toBe('token algorithm none is not allowed');
      for (const alg of ['none', 'None', 'NONE', 'nOnE']) {
        const header = base64url.encode(JSON.stringify({ alg, typ: 'JWT', kid }));
        const payload = base64url.encode(JSON.stringify(claims));
        await expectRejected(verifier, `${header}.${payload}.`, 'algorithm');
        await expectRejected(verifier, `${header}.${payload}.${base64url.encode('sig')}`, 'algorithm');
      }
    });

    it('HS256 signed with the realm RSA public key as the HMAC secret (key confusion)', async () => {
      const jwk = await realmPublicJwk();
      const pem = await exportSPKI((await importJWK(jwk, 'RS256', { extractable: true })) as CryptoKey);
      for (const secret of [pem, pem.trim(), JSON.stringify(jwk)]) {
        const forged = await new SignJWT(await genuineClaims('admin'))
          .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: jwk.kid })
          .sign(new TextEncoder().encode(secret));
        await expectRejected(verifier, forged, 'algorithm');
      }
    });

    it('other algorithms, even with a valid-looking key', async () => {
      const { privateKey } = await generateKeyPair('PS256');
      const forged = await new SignJWT(await genuineClaims()).setProtectedHeader({ alg: 'PS256', kid: 'x' }).sign(privateKey);
      await expectRejected(verifier, forged, 'algorithm');
    });

    it('signed by an attacker key with an unknown kid', async () => {
      const { privateKey } = await generateKeyPair('RS256');
      const forged = await new SignJWT(await genuineClaims('admin')).setProtectedHeader({ alg: 'RS256', kid: 'attacker-key' }).sign(privateKey);
      const error = await expectRejected(verifier, forged, 'unknown-key');
      expect(error).not.toBeInstanceOf(RealmUnreachableError);
    });

    it('signed by an attacker key under the realm kid, or embedding the attacker key in the header', async () => {
      const { kid } = await realmPublicJwk();
      const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
      const claims = await genuineClaims('admin');
      const sameKid = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid }).sign(privateKey);
      await expectRejected(verifier, sameKid, 'signature');
      const embedded = await new SignJWT(claims)
        .setProtectedHeader({ alg: 'RS256', kid, jwk: await exportJWK(publicKey) })
        .sign(privateKey);
      await expectRejected(verifier, embedded, 'signature');
      const noKid = await new SignJWT(claims).setProtectedHeader({ alg: 'RS256' }).sign(privateKey);
      await expectRejected(verifier, noKid, 'signature');
    });

    it('tampered payload (signature no longer matches)', async () => {
      const [header, , signature] = (await running.realm.issueToken('alice')).split('.');
      const escalated = { ...(await genuineClaims('alice')), realm_access: { roles: ['alliance-admin'] } };
      const tampered = `${header}.${base64url.encode(JSON.stringify(escalated))}.${signature}`;
      await expectRejected(verifier, tampered, 'signature');
    });

    it('expired', async () => {
      const error = await expectRejected(verifier, await running.realm.issueToken('alice', { exp: now() - 60, iat: now() - 400 }), 'expired');
      expect(error.message).toBe('token expired');
    });

    it('nbf in the future', async () => {
      const error = await expectRejected(verifier, await running.realm.issueToken('alice', { nbf: now() + 600 }), 'not-yet-valid');
      expect(error.message).toBe('token is not yet valid');
    });

    it('no exp (would never expire)', async () => {
      const error = await expectRejected(verifier, await running.realm.issueToken('alice', { exp: undefined }), 'missing-expiry');
      expect(error.message).toBe('token has no expiry');
    });

    it('wrong issuer, including near misses', async () => {
      for (const iss of ['http://evil.example/realms/alliance', `${running.issuer}/`, running.issuer.replace('alliance', 'master'), undefined]) {
        await expectRejected(verifier, await running.realm.issueToken('alice', { iss }), 'issuer');
      }
    });

    it('wrong or missing audience', async () => {
      for (const aud of ['account', ['account', 'alliance-cli'], 'alliance-api-evil', undefined]) {
        const error = await expectRejected(verifier, await running.realm.issueToken('alice', { aud }), 'audience');
        expect(error.message).toBe('token audience does not include alliance-api');
      }
    });

    it('typ other than Bearer (refresh or ID token presented as access token)', async () => {
      for (const typ of ['Refresh', 'ID', 'bearer', undefined]) {
        await expectRejected(verifier, await running.realm.issueToken('alice', { typ }), 'type');
      }
    });

    it('exp inside the clock tolerance passes jose but is still refused by keycloak-connect (stage 3 runs)', async () => {
      const tolerant = createTokenVerifier({ issuer: running.issuer, audience: AUDIENCE, clockToleranceSec: 60 });
      const error = await expectRejected(tolerant, await running.realm.issueToken('alice', { exp: now() - 5 }), 'expired');
      // keycloak-connect reports through its own message text, mapped to the same client message.
      expect(String((error.cause as Error).message)).toContain('invalid token (expired)');
    });

    it('no subject or username', async () => {
      await expectRejected(verifier, await running.realm.issueToken('alice', { sub: undefined }), 'claims');
      await expectRejected(verifier, await running.realm.issueToken('alice', { preferred_username: '' }), 'claims');
    });

    it('garbage, empty and non-JWT input as malformed (never as expired)', async () => {
      const b64 = (value: unknown) => base64url.encode(JSON.stringify(value));
      const genuine = await running.realm.issueToken('alice');
      const [header, payload, signature] = genuine.split('.');
      const inputs = [
        'garbage',
        'a.b.c',
        '...',
        `${header}.${payload}`,
        `${genuine}.extra.parts`,
        `${header}.${payload}.${signature}!`,
        `${b64({ alg: 'RS256' })}.${b64(null)}.${signature}`,
        `${b64({ alg: 'RS256' })}.${b64([1, 2])}.${signature}`,
        `${b64('RS256')}.${payload}.${signature}`,
        `${header}.${base64url.encode('not json')}.${signature}`,
        `Bearer ${genuine}`,
        'x'.repeat(40_000),
      ];
      for (const input of inputs) {
        const error = await expectRejected(verifier, input, 'malformed');
        expect(error.message).not.toMatch(/expired/);
      }
      for (const empty of ['', undefined, null, 42]) {
        await expectRejected(verifier, empty as unknown as string, 'malformed');
      }
    });

    it('RS256 token with an empty signature', async () => {
      const [header, payload] = (await running.realm.issueToken('alice')).split('.');
      await expectRejected(verifier, `${header}.${payload}.`, 'signature');
    });
  });

  describe('realm key set', () => {
    afterEach(() => jest.restoreAllMocks());

    it('accepts tokens signed by a rotated-in key after one refetch, and keeps accepting old-key tokens', async () => {
      const rotating = await startRealm();
      try {
        const { counter, impl } = countingFetch();
        const cached = createTokenVerifier({ issuer: rotating.issuer, audience: AUDIENCE, fetchImpl: impl });
        const oldToken = await rotating.realm.issueToken('alice');
        await expect(cached.verify(oldToken)).resolves.toMatchObject({ username: 'alice' });
        expect(counter.calls).toBe(1);

        await rotating.realm.rotateKey();
        const newToken = await rotating.realm.issueToken('bob');
        expect(decodeProtectedHeader(newToken).kid).not.toBe(decodeProtectedHeader(oldToken).kid);

        // Within the refetch cooldown the new kid is unknown: no extra fetch (rate limit).
        await expectRejected(cached, newToken, 'unknown-key');
        expect(counter.calls).toBe(1);

        // Once the cooldown (10 s by default) has passed, the kid miss refetches exactly once.
        const realNow = Date.now();
        jest.spyOn(Date, 'now').mockImplementation(() => realNow + 11_000);
        await expect(cached.verify(newToken)).resolves.toMatchObject({ username: 'bob' });
        await expect(cached.verify(oldToken)).resolves.toMatchObject({ username: 'alice' });
        expect(counter.calls).toBe(2);
      } finally {
        await rotating.close();
      }
    });

    it('a flood of unknown-kid tokens costs at most one JWKS fetch per cooldown', async () => {
      const { counter, impl } = countingFetch();
      const guarded = createTokenVerifier({ issuer: running.issuer, audience: AUDIENCE, fetchImpl: impl });
      await guarded.verify(await running.realm.issueToken('alice'));
      expect(counter.calls).toBe(1);

      const { privateKey } = await generateKeyPair('RS256');
      const claims = await genuineClaims();
      const flood = await Promise.all(
        Array.from({ length: 20 }, (_, i) => new SignJWT(claims).setProtectedHeader({ alg: 'RS256', kid: `random-${i}` }).sign(privateKey)),
      );
      await Promise.all(flood.map((token) => expectRejected(guarded, token, 'unknown-key')));
      expect(counter.calls).toBe(1);

      const realNow = Date.now();
      jest.spyOn(Date, 'now').mockImplementation(() => realNow + 11_000);
      await Promise.all(flood.map((token) => expectRejected(guarded, token, 'unknown-key')));
      // Concurrent misses after the cooldown share a single fetch.
      expect(counter.calls).toBe(2);
    });

    it('an unreachable realm is a RealmUnreachableError, not a rejected token', async () => {
      const token = await running.realm.issueToken('alice');
      const closed = await startRealm();
      const issuer = closed.issuer;
      await closed.close();
      const offline = createTokenVerifier({ issuer, audience: AUDIENCE });
      const error = await offline.verify(token).catch((err: unknown) => err);
      expect(error).toBeInstanceOf(RealmUnreachableError);
      expect(error).not.toBeInstanceOf(TokenRejectedError);
    });

    it('a realm answering its JWKS with an error status is unreachable too', async () => {
      const failing = createTokenVerifier({
        issuer: running.issuer,
        audience: AUDIENCE,
        fetchImpl: async () => new Response('upstream down', { status: 503 }),
      });
      await expect(failing.verify(await running.realm.issueToken('alice'))).rejects.toBeInstanceOf(RealmUnreachableError);
    });

    it('a malformed token is rejected without touching the realm at all', async () => {
      const { counter, impl } = countingFetch();
      const lazy = createTokenVerifier({ issuer: running.issuer, audience: AUDIENCE, fetchImpl: impl });
      await expectRejected(lazy, 'garbage', 'malformed');
      await expectRejected(lazy, new UnsecuredJWT({}).encode(), 'algorithm');
      expect(counter.calls).toBe(0);
    });
  });

  describe('remembers verified tokens briefly', () => {
    /** Waits until the token's exp (whole seconds) has passed. */
    async function pastExpiry(token: string): Promise<void> {
      const exp = (decodeJwt(token).exp as number) * 1000;
      while (Date.now() < exp) await new Promise((r) => setTimeout(r, 50));
    }

    it('answers a repeated token from memory, and refuses it at its exp exactly as without the cache', async () => {
      const token = await running.realm.issueToken('alice', { exp: now() + 2 });
      const first = await verifier.verify(token);
      // The same identity object: the second call did not verify again.
      expect(await verifier.verify(token)).toBe(first);
      await pastExpiry(token);
      await expectRejected(verifier, token, 'expired');
    });

    it('never answers for a token that differs from a remembered one', async () => {
      const token = await running.realm.issueToken('alice');
      expect((await verifier.verify(token)).isAllianceAdmin).toBe(false);
      const [header, , signature] = token.split('.');
      const escalated = { ...decodeJwt(token), realm_access: { roles: ['alliance-admin'] } };
      await expectRejected(verifier, `${header}.${base64url.encode(JSON.stringify(escalated))}.${signature}`, 'signature');
    });

    it('can be turned off', async () => {
      const uncached = createTokenVerifier({ issuer: running.issuer, audience: AUDIENCE, cacheSeconds: 0 });
      const token = await running.realm.issueToken('alice');
      const first = await uncached.verify(token);
      const second = await uncached.verify(token);
      expect(second).not.toBe(first);
      expect(second).toEqual(first);
    });
  });

  it('refuses an issuer that is not a Keycloak realm URL at construction', () => {
    expect(() => createTokenVerifier({ issuer: 'http://localhost:8080', audience: AUDIENCE })).toThrow(/realm URL/);
  });
});
