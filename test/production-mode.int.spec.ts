// NODE_ENV=production through the real edges: introspection refused (unless
// GRAPHQL_INTROSPECTION=true), no "did you mean" hints, no stack traces, CSRF prevention, no
// batching, clean 413s, and a GraphQL request that does not arrive in time answered 408 — while
// WebSockets, which outlive any request deadline, stay up.
import net from 'node:net';
import type { Client as WsClient } from 'graphql-ws';
import { connectedClient, wsRun, type OperationResult } from './harness/limits-helpers';
import { startSecondPlatform } from './harness/second-platform';
import { startTestPlatform, type TestPlatform } from './harness/test-platform';

let tp: TestPlatform;
let ws: WsClient;
beforeAll(async () => {
  tp = await startTestPlatform({ env: { NODE_ENV: 'production', REQUEST_TIMEOUT_MS: '1000' } });
  ws = await connectedClient(tp, 'alice', 'casia');
});
afterAll(async () => {
  await ws?.dispose();
  await tp?.close();
});

type Transport = 'HTTP' | 'WebSocket';
async function run(platform: TestPlatform, transport: Transport, query: string, variables: Record<string, unknown> = {}): Promise<OperationResult> {
  if (transport === 'WebSocket') {
    const client = platform === tp ? ws : await connectedClient(platform, 'alice', 'casia');
    try {
      return await wsRun(client, query, variables);
    } finally {
      if (client !== ws) await client.dispose();
    }
  }
  const res = await platform.gql(query, variables, { token: await platform.token('alice'), tenant: 'casia' });
  return { data: res.data, errors: res.errors };
}

const INTROSPECTION = [`{ __schema { queryType { name } } }`, `{ __type(name: "Tenant") { fields { name } } }`];
// A misspelt field, a misspelt enum literal, and a misspelt enum value in variables (the last
// fails during execution, not validation).
const MISSPELT = [
  { query: `{ viewer { usernme } }`, variables: {} },
  { query: `mutation { addMember(tenantSlug: "casia", username: "dave", role: OWNR) { role } }`, variables: {} },
  { query: `mutation($role: TenantRole!) { addMember(tenantSlug: "casia", username: "dave", role: $role) { role } }`, variables: { role: 'MEMBR' } },
];

describe.each<Transport>(['HTTP', 'WebSocket'])('%s in production', (transport) => {
  it.each(INTROSPECTION)('refuses introspection: %s', async (query) => {
    const result = await run(tp, transport, query);
    expect(result.data ?? null).toBeNull();
    expect(result.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0].message).toMatch(/introspection/i);
  });

  it('still answers __typename', async () => {
    expect((await run(tp, transport, `{ __typename }`)).data).toEqual({ __typename: 'Query' });
  });

  it.each(MISSPELT)('gives no "did you mean" hints: $query', async ({ query, variables }) => {
    const result = await run(tp, transport, query, variables);
    expect(result.errors?.length).toBeGreaterThan(0);
    const text = JSON.stringify(result.errors);
    expect(text).not.toMatch(/did you mean/i);
    expect(text).not.toMatch(/"username"|OWNER|MEMBER/);
    expect(text).not.toMatch(/stacktrace|\.ts:|node_modules/);
  });
});

describe('outside production, and with GRAPHQL_INTROSPECTION=true', () => {
  let development: TestPlatform;
  let introspective: TestPlatform;
  beforeAll(async () => {
    development = await startSecondPlatform(tp, { NODE_ENV: 'test' });
    introspective = await startSecondPlatform(tp, { NODE_ENV: 'production', GRAPHQL_INTROSPECTION: 'true' });
  });
  afterAll(async () => {
    await development?.close();
    await introspective?.close();
  });

  it.each<Transport>(['HTTP', 'WebSocket'])('hints are there outside production (%s), so the test above means something', async (transport) => {
    for (const { query, variables } of MISSPELT) {
      expect(JSON.stringify((await run(development, transport, query, variables)).errors)).toMatch(/Did you mean/);
    }
  });

  it.each<Transport>(['HTTP', 'WebSocket'])('introspection can be switched back on in production (%s)', async (transport) => {
    const result = await run(introspective, transport, INTROSPECTION[0]);
    expect(result.errors).toBeUndefined();
    expect(result.data).toEqual({ __schema: { queryType: { name: 'Query' } } });
  });
});

describe('HTTP hardening in production', () => {
  it('refuses a GET query without a CSRF preflight header, accepts it with one', async () => {
    const url = `${tp.url}/graphql?query=${encodeURIComponent('{ viewer { username } }')}`;
    const authorization = `Bearer ${await tp.token('alice')}`;
    const simple = await fetch(url, { headers: { authorization } });
    expect(simple.status).toBe(400);
    expect(await simple.text()).toMatch(/Cross-Site Request Forgery/);
    const preflighted = await fetch(url, { headers: { authorization, 'apollo-require-preflight': 'true' } });
    expect(preflighted.status).toBe(200);
    expect(((await preflighted.json()) as OperationResult).data).toEqual({ viewer: { username: 'alice' } });
  });

  it.each(['text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x'])(
    'refuses a simple-content-type POST (%s) without running it', async (contentType) => {
      const res = await fetch(`${tp.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': contentType, authorization: `Bearer ${await tp.token('alice')}` },
        body: JSON.stringify({ query: 'mutation { removeMember(tenantSlug: "casia", username: "dave") }' }),
      });
      expect(res.status).toBe(400);
      expect(((await res.json()) as OperationResult).errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
      const members = await tp.as('alice', `{ tenant(slug: "casia") { members { edges { node { user { username } } } } } }`);
      expect(members.tenant.members.edges.map((e: any) => e.node.user.username)).toContain('dave');
    });

  it('refuses batched requests', async () => {
    const res = await fetch(`${tp.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await tp.token('alice')}` },
      body: JSON.stringify([{ query: '{ __typename }' }, { query: '{ __typename }' }]),
    });
    expect(res.status).toBe(400);
  });

  it('answers an oversized body 413 as JSON, without express internals', async () => {
    const res = await fetch(`${tp.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }', variables: { pad: 'x'.repeat(3 * 1024 ** 2) } }),
    });
    expect(res.status).toBe(413);
    const text = await res.text();
    expect(JSON.parse(text).errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(text).not.toMatch(/node_modules|PayloadTooLargeError|at /);
  });

  it('answers 408 to a GraphQL request whose body never finishes, and keeps older WebSockets open', async () => {
    const response = await new Promise<string>((resolve, reject) => {
      const socket = net.connect(tp.platform.port, '127.0.0.1', () => {
        socket.write('POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"query":');
      });
      let received = '';
      socket.on('data', (chunk) => (received += chunk.toString()));
      socket.on('close', () => resolve(received));
      socket.on('error', reject);
    });
    expect(response).toMatch(/^HTTP\/1\.1 408/);
    expect(response).toMatch(/"code":"BAD_USER_INPUT"/);
    // The socket opened in beforeAll is older than the deadline: it only applies to receiving requests.
    expect((await wsRun(ws, `{ viewer { username } }`)).data).toEqual({ viewer: { username: 'alice' } });
  });
});
