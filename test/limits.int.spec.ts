// Query limits at their boundaries, through the real HTTP endpoint and a real graphql-ws client:
// for each limit, N passes and N+1 is refused with QUERY_TOO_COMPLEX (with the numbers), before
// anything executes. Small limits are configured so the boundary queries stay readable.
import type { Client as WsClient } from 'graphql-ws';
import WebSocket from 'ws';
import {
  connectedClient, queryOfDepth, queryWithAliases, queryWithChars, queryWithDirectives, queryWithTokens, wsRun,
  type OperationResult,
} from './harness/limits-helpers';
import { startTestPlatform, type TestPlatform } from './harness/test-platform';

const LIMITS = {
  GRAPHQL_MAX_DEPTH: 8,
  GRAPHQL_MAX_ALIASES: 5,
  GRAPHQL_MAX_DIRECTIVES: 6,
  GRAPHQL_MAX_TOKENS: 200,
  GRAPHQL_MAX_QUERY_CHARS: 3000,
  GRAPHQL_MAX_COST: 501,
  WS_MAX_OPERATIONS: 3,
};

let tp: TestPlatform;
let ws: WsClient;
beforeAll(async () => {
  tp = await startTestPlatform({ env: Object.fromEntries(Object.entries(LIMITS).map(([k, v]) => [k, String(v)])) });
  ws = await connectedClient(tp, 'alice', 'casia');
});
afterAll(async () => {
  await ws?.dispose();
  await tp?.close();
});

type Transport = 'HTTP' | 'WebSocket';
async function run(transport: Transport, query: string, variables: Record<string, unknown> = {}): Promise<OperationResult & { status?: number }> {
  if (transport === 'WebSocket') return wsRun(ws, query, variables);
  const res = await tp.gql(query, variables, { token: await tp.token('alice'), tenant: 'casia' });
  return { data: res.data, errors: res.errors, status: res.status };
}

function expectPasses(result: OperationResult) {
  expect(result.errors ?? []).toEqual([]);
  expect(result.data).toBeTruthy();
}

function expectRefused(result: OperationResult & { status?: number }, limitName: string, limit: number) {
  expect(result.data ?? null).toBeNull();
  expect(result.errors).toHaveLength(1);
  const [error] = result.errors!;
  expect(error.extensions).toMatchObject({ code: 'QUERY_TOO_COMPLEX', limitName, limit });
  expect(error.message).toContain(String(limit));
  if (result.status !== undefined) expect(result.status).toBe(400);
  return error;
}

// A cost of exactly 11 + 10 × n: tenants (1) + 10 × (members (1) + n × user (1)).
const COSTED = `query Costed($n: Int) {
  tenants(first: 10) { edges { node { members(first: $n) { edges { node { user { username } } } } } } }
}`;
const COSTED_PLUS_ONE = COSTED.replace(/}\s*$/, ' viewer { username } }');

describe.each<Transport>(['HTTP', 'WebSocket'])('%s', (transport) => {
  it('depth: 8 levels pass, 9 are refused', async () => {
    expectPasses(await run(transport, queryOfDepth(LIMITS.GRAPHQL_MAX_DEPTH)));
    const error = expectRefused(await run(transport, queryOfDepth(LIMITS.GRAPHQL_MAX_DEPTH + 1)), 'depth', 8);
    expect(error.extensions?.actual).toBe(9);
  });

  it('aliases: 5 pass, 6 are refused', async () => {
    expectPasses(await run(transport, queryWithAliases(LIMITS.GRAPHQL_MAX_ALIASES)));
    const error = expectRefused(await run(transport, queryWithAliases(LIMITS.GRAPHQL_MAX_ALIASES + 1)), 'aliases', 5);
    expect(error.extensions?.actual).toBe(6);
  });

  it('directives: 6 pass, 7 are refused', async () => {
    expectPasses(await run(transport, queryWithDirectives(LIMITS.GRAPHQL_MAX_DIRECTIVES)));
    expectRefused(await run(transport, queryWithDirectives(LIMITS.GRAPHQL_MAX_DIRECTIVES + 1)), 'directives', 6);
  });

  it('tokens: 200 pass, 201 are refused while parsing', async () => {
    expectPasses(await run(transport, queryWithTokens(LIMITS.GRAPHQL_MAX_TOKENS)));
    expectRefused(await run(transport, queryWithTokens(LIMITS.GRAPHQL_MAX_TOKENS + 1)), 'tokens', 200);
  });

  it('characters: 3000 pass, 3001 are refused before parsing', async () => {
    expectPasses(await run(transport, queryWithChars(LIMITS.GRAPHQL_MAX_QUERY_CHARS)));
    const error = expectRefused(await run(transport, queryWithChars(LIMITS.GRAPHQL_MAX_QUERY_CHARS + 1)), 'characters', 3000);
    expect(error.extensions?.actual).toBe(3001);
  });

  it('cost: exactly the maximum passes, one point more is refused with the cost and the limit', async () => {
    const atMax = await run(transport, COSTED, { n: 49 });
    expectPasses(atMax);
    const above = await run(transport, COSTED_PLUS_ONE, { n: 49 });
    const error = expectRefused(above, 'cost', 501);
    expect(error.extensions).toMatchObject({ cost: 502, actual: 502 });
    expect(error.message).toMatch(/cost 502 exceeds the maximum of 501/);
  });

  it('cost follows the variables: the same document is refused with a larger page', async () => {
    expectPasses(await run(transport, COSTED, { n: 49 }));
    const error = expectRefused(await run(transport, COSTED, { n: 50 }), 'cost', 501);
    expect(error.extensions?.cost).toBe(511);
  });

  it('reports the cost it charged through rateLimit', async () => {
    const result = await run(transport, `{ rateLimit { cost limit remaining resetAt } viewer { username } }`);
    expectPasses(result);
    // rateLimit (1) + viewer (1)
    expect(result.data!.rateLimit.cost).toBe(2);
  });

  it('still refuses first outside 1..100 with BAD_USER_INPUT (not a cost error)', async () => {
    const result = await run(transport, `{ tenants(first: 101) { totalCount } }`);
    expect(result.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('refuses recursive introspection (graphql-js MaxIntrospectionDepthRule)', async () => {
    const result = await run(transport, '{ __schema { types { fields { type { fields { type { fields { type { fields { name } } } } } } } } } }');
    expect(result.data ?? null).toBeNull();
    expect(result.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    expect(result.errors?.[0].message).toMatch(/introspection/i);
  });

  it('answers a syntax error with BAD_USER_INPUT', async () => {
    const result = await run(transport, `{ viewer { username `);
    expect(result.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('HTTP only', () => {
  it('refuses batched requests', async () => {
    const res = await fetch(`${tp.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await tp.token('alice')}` },
      body: JSON.stringify([{ query: '{ viewer { username } }' }, { query: '{ viewer { username } }' }]),
    });
    expect(res.status).toBe(400);
  });

  it('answers an oversized body with a clean 413 in the error shape', async () => {
    const res = await fetch(`${tp.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await tp.token('alice')}` },
      body: JSON.stringify({ query: '{ viewer { username } }', variables: { pad: 'x'.repeat(3 * 1024 ** 2) } }),
    });
    expect(res.status).toBe(413);
    expect(res.headers.get('content-type')).toMatch(/application\/json/);
    const body = (await res.json()) as OperationResult;
    expect(body.errors?.[0].extensions).toMatchObject({ code: 'BAD_USER_INPUT', limitBytes: 2 * 1024 ** 2 });
  });

  it('answers malformed JSON with a clean 400', async () => {
    const res = await fetch(`${tp.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await tp.token('alice')}` },
      body: '{"query": ',
    });
    expect(res.status).toBe(400);
    const body = (await res.json()) as OperationResult;
    expect(body.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('WebSocket only', () => {
  it('runs at most WS_MAX_OPERATIONS operations at once on one connection', async () => {
    const client = await connectedClient(tp, 'alice', 'casia');
    try {
      const subscriptions = Array.from({ length: LIMITS.WS_MAX_OPERATIONS }, () =>
        client.subscribe({ query: 'subscription { quotaChanged { period } }' }, { next: () => undefined, error: () => undefined, complete: () => undefined }));
      const refused = await wsRun(client, '{ viewer { username } }');
      expect(refused.errors?.[0].extensions).toMatchObject({ code: 'RATE_LIMITED', limitName: 'operationsPerConnection', limit: 3 });
      subscriptions[0]();
      expectPasses(await wsRun(client, '{ viewer { username } }'));
    } finally {
      await client.dispose();
    }
  });

  it('closes a socket that sends a message over the body limit (1009)', async () => {
    const socket = new WebSocket(tp.wsUrl, 'graphql-transport-ws');
    const closed = new Promise<number>((resolve) => socket.on('close', (code) => resolve(code)));
    socket.on('open', () => socket.send('x'.repeat(3 * 1024 ** 2)));
    expect(await closed).toBe(1009);
  });
});
