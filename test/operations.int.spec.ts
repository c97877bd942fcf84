// The operational edges: health, readiness, Prometheus metrics, request ids, and no internals
// leaking in errors.
import { startTestPlatform, type TestPlatform } from './harness/test-platform';

let tp: TestPlatform;
beforeAll(async () => {
  tp = await startTestPlatform();
});
afterAll(async () => {
  await tp?.close();
});

it('answers /healthz and /readyz', async () => {
  const health = await fetch(`${tp.url}/healthz`);
  expect(health.status).toBe(200);
  const ready = await fetch(`${tp.url}/readyz`);
  expect(ready.status).toBe(200);
  expect(await ready.json()).toEqual({ status: 'ready' });
});

it('reports GraphQL requests by operation and errors by code on /metrics', async () => {
  await tp.gql(`query DashboardTenants { tenants { totalCount } }`, {}, { token: await tp.token('alice') });
  await tp.gql(`query Broken { tenant(slug: "nope") { id } }`, {}, { token: await tp.token('alice') });
  const text = await (await fetch(`${tp.url}/metrics`)).text();
  expect(text).toMatch(/alliance_graphql_requests_total\{operation="DashboardTenants",type="query"\} 1/);
  expect(text).toMatch(/alliance_graphql_request_duration_seconds_count\{operation="DashboardTenants",type="query"\} 1/);
  expect(text).toMatch(/alliance_graphql_errors_total\{code="NOT_FOUND"\} [1-9]/);
  expect(text).toMatch(/process_resident_memory_bytes/);
});

it('echoes a request id, or makes one', async () => {
  const given = await fetch(`${tp.url}/healthz`, { headers: { 'x-request-id': 'trace-123' } });
  expect(given.headers.get('x-request-id')).toBe('trace-123');
  const made = await fetch(`${tp.url}/healthz`);
  expect(made.headers.get('x-request-id')).toMatch(/^[0-9a-f-]{36}$/);
});

it('never leaks stack traces, SQL or paths in errors', async () => {
  const res = await tp.gql(`{ tenants(first: 5, after: "eyJ4IjoxfQ") { totalCount } nope }`, {}, { token: await tp.token('alice') });
  const text = JSON.stringify(res.errors);
  expect(res.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  expect(text).not.toMatch(/stacktrace|\/work\/|node_modules|SELECT |\.ts:/i);
});
