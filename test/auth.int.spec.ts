// Token checks through the real HTTP and WebSocket edges: every attack is UNAUTHENTICATED with
// HTTP 401 (never 500), the socket refuses bad tokens and closes when its token expires.
import { generateKeyPair, SignJWT, exportSPKI, decodeJwt, decodeProtectedHeader } from 'jose';
import { startTestPlatform, type TestPlatform } from './harness/test-platform';

let tp: TestPlatform;
beforeAll(async () => {
  tp = await startTestPlatform();
});
afterAll(async () => {
  await tp?.close();
});

const now = () => Math.floor(Date.now() / 1000);

async function claimsOf(username: string): Promise<Record<string, unknown>> {
  return decodeJwt(await tp.platform.devRealm!.issueToken(username)) as Record<string, unknown>;
}

async function forged(alg: 'RS256' | 'HS256', key: Parameters<SignJWT['sign']>[0], claims: Record<string, unknown>, kid?: string): Promise<string> {
  return new SignJWT(claims).setProtectedHeader({ alg, kid, typ: 'JWT' }).sign(key);
}

function b64(obj: unknown): string {
  return Buffer.from(JSON.stringify(obj)).toString('base64url');
}

describe('HTTP', () => {
  it('accepts a good token', async () => {
    const res = await tp.gql(`{ viewer { username } }`, {}, { token: await tp.token('alice') });
    expect(res.status).toBe(200);
    expect(res.data?.viewer.username).toBe('alice');
  });

  it('refuses a missing token or a malformed header with 401', async () => {
    const none = await tp.gql(`{ viewer { username } }`);
    expect(none.status).toBe(401);
    expect(none.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    const basic = await tp.gql(`{ viewer { username } }`, {}, { headers: { authorization: 'Basic YWxpY2U6YWxpY2U=' } });
    expect(basic.status).toBe(401);
  });

  const attacks: [string, () => Promise<string>][] = [
    ['alg none', async () => `${b64({ alg: 'none', typ: 'JWT' })}.${b64(await claimsOf('admin'))}.`],
    ['HS256 signed with the public key', async () => {
      const good = await tp.platform.devRealm!.issueToken('admin');
      const jwks = (await (await fetch(`${tp.platform.issuer}/protocol/openid-connect/certs`)).json()) as { keys: any[] };
      const { importJWK } = await import('jose');
      const pub = await importJWK(jwks.keys[0], 'RS256');
      const pem = await exportSPKI(pub as any);
      return forged('HS256', new TextEncoder().encode(pem), decodeJwt(good) as any, decodeProtectedHeader(good).kid);
    }],
    ['unknown key id', async () => {
      const { privateKey } = await generateKeyPair('RS256');
      return forged('RS256', privateKey, await claimsOf('admin'), 'attacker-key');
    }],
    ['known kid, other key', async () => {
      const good = await tp.platform.devRealm!.issueToken('admin');
      const { privateKey } = await generateKeyPair('RS256');
      return forged('RS256', privateKey, decodeJwt(good) as any, decodeProtectedHeader(good).kid);
    }],
    ['expired', () => tp.platform.devRealm!.issueToken('alice', { exp: now() - 120, iat: now() - 500 })],
    ['not yet valid', () => tp.platform.devRealm!.issueToken('alice', { nbf: now() + 3600 })],
    ['no exp', () => tp.platform.devRealm!.issueToken('alice', { exp: undefined })],
    ['wrong issuer', () => tp.platform.devRealm!.issueToken('alice', { iss: 'http://evil.example/realms/alliance' })],
    ['wrong audience', () => tp.platform.devRealm!.issueToken('alice', { aud: 'some-other-api' })],
    ['typ not Bearer', () => tp.platform.devRealm!.issueToken('alice', { typ: 'Refresh' })],
    ['tampered payload', async () => {
      const [h, , s] = (await tp.platform.devRealm!.issueToken('alice')).split('.');
      return `${h}.${b64({ ...(await claimsOf('alice')), realm_access: { roles: ['alliance-admin'] } })}.${s}`;
    }],
    ['garbage', async () => 'garbage'],
    ['three dots of garbage', async () => 'a.b.c'],
  ];

  it.each(attacks)('rejects %s with 401 UNAUTHENTICATED', async (_name, make) => {
    const res = await tp.gql(`{ viewer { username isAllianceAdmin } }`, {}, { token: await make() });
    expect(res.status).toBe(401);
    expect(res.errors?.[0].extensions?.code).toBe('UNAUTHENTICATED');
    expect(res.data ?? null).toBeNull();
  });

  it('accepts a token signed with a newly rotated key (and still the old one)', async () => {
    const before = await tp.platform.devRealm!.issueToken('bob');
    expect((await tp.gql(`{ viewer { username } }`, {}, { token: before })).status).toBe(200);
    await tp.platform.devRealm!.rotateKey();
    const after = await tp.platform.devRealm!.issueToken('bob');
    expect(decodeProtectedHeader(after).kid).not.toBe(decodeProtectedHeader(before).kid);
    const res = await tp.gql(`{ viewer { username } }`, {}, { token: after });
    expect(res.status).toBe(200);
    expect(res.data?.viewer.username).toBe('bob');
    expect((await tp.gql(`{ viewer { username } }`, {}, { token: before })).status).toBe(200);
  });
});

describe('WebSocket', () => {
  function connect(params: Record<string, unknown>) {
    return new Promise<{ code: number; connected: boolean; client: ReturnType<TestPlatform['wsClient']> }>((resolve) => {
      let connected = false;
      const client = tp.wsClient(params, { onClose: (code) => resolve({ code, connected, client }) });
      client.on('connected', () => {
        connected = true;
        resolve({ code: 0, connected, client });
      });
    });
  }

  it('runs an operation with a good token and the tenant from connectionParams', async () => {
    const { connected, client } = await connect({ authorization: `Bearer ${await tp.token('alice')}`, tenant: 'casia' });
    expect(connected).toBe(true);
    const result = await new Promise<any>((resolve, reject) => {
      client.subscribe({ query: '{ viewer { username activeTenant { slug } } }' }, { next: resolve, error: reject, complete: () => undefined });
    });
    expect(result.data.viewer).toEqual({ username: 'alice', activeTenant: { slug: 'casia' } });
    await client.dispose();
  });

  it('refuses a socket without a token', async () => {
    const { code, connected } = await connect({});
    expect(connected).toBe(false);
    expect(code).toBe(4403);
  });

  it('refuses a socket with a bad token', async () => {
    const { privateKey } = await generateKeyPair('RS256');
    const { code, connected } = await connect({ authorization: `Bearer ${await forged('RS256', privateKey, await claimsOf('alice'), 'x')}` });
    expect(connected).toBe(false);
    expect(code).toBe(4403);
  });

  it('refuses a tenant the user does not belong to', async () => {
    const { code, connected } = await connect({ authorization: `Bearer ${await tp.token('alice')}`, tenant: 'whu' });
    expect(connected).toBe(false);
    expect(code).toBe(4403);
  });

  it('closes the socket when its token expires', async () => {
    const token = await tp.platform.devRealm!.issueToken('alice', { exp: now() + 2 });
    const closed = new Promise<number>((resolve) => {
      const client = tp.wsClient({ authorization: `Bearer ${token}` }, { onClose: (code) => resolve(code) });
      client.on('connected', () => undefined);
    });
    expect(await closed).toBe(4401);
  });
});
