// A real PostgreSQL restart under a running job, on a cluster of this test's own (the shared
// test cluster cannot be restarted under other test files): requests during the outage fail
// cleanly, the platform recovers without a process restart (pools, LISTEN, scheduler leadership,
// worker), and the job completes with every item once and the ledger consistent.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPlatform, type Platform } from '../api/platform';
import { loadConfig } from '../core/config';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../core/embedded-postgres';
import { scaleModel } from '../model-runtime/engine/__fixtures__/tiny-models';
import { ensureDatabase } from '../tenants/database';
import { ledgerViolations } from '../tenants/ledger-invariants';

jest.setTimeout(180_000);

let pg: EmbeddedPostgres;
let platform: Platform;
let dir: string;

async function token(user: string): Promise<string> {
  const res = await fetch(`${platform.issuer}/protocol/openid-connect/token`, {
    method: 'POST', body: new URLSearchParams({ grant_type: 'password', client_id: 'alliance-cli', username: user, password: user }),
  });
  return ((await res.json()) as { access_token: string }).access_token;
}

async function gql(query: string, variables: Record<string, unknown>, bearer: string): Promise<any> {
  try {
    const res = await fetch(`${platform.url}/graphql`, {
      method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` }, body: JSON.stringify({ query, variables }),
    });
    return { status: res.status, ...((await res.json()) as object) };
  } catch (err) {
    return { status: 0, transport: (err as Error).message };
  }
}

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-restart-'));
  fs.chmodSync(dir, 0o755);
  pg = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg') });
  const ownerUrl = await ensureDatabase(pg.url, 'alliance');
  platform = await startPlatform(loadConfig({
    NODE_ENV: 'test', PORT: '0', HOST: '127.0.0.1', DATABASE_URL: ownerUrl, DATA_DIR: path.join(dir, 'data'), LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    WORKER_SLOTS: '1', SCHEDULER_TICK_MS: '200', MAX_SHARD_ITEMS: '1', HEARTBEAT_SECONDS: '1', SHARD_LEASE_SECONDS: '5', JWKS_COOLDOWN_SEC: '0',
  }), { seedDemo: true });
});
afterAll(async () => {
  await platform?.close();
  await pg?.stop();
  fs.rmSync(dir, { recursive: true, force: true });
});

it('survives a PostgreSQL restart mid-job: clean errors during, recovery after, the job completes', async () => {
  const alice = await token('alice');
  // A tensor endpoint through the public API.
  const blob = await fetch(`${platform.url}/v1/blobs`, { method: 'POST', headers: { authorization: `Bearer ${alice}`, 'content-type': 'application/octet-stream' }, body: Buffer.from(scaleModel(4)) });
  const blobId = ((await blob.json()) as { id: string }).id;
  const model = await gql(`mutation { createModel(input: { name: "restart", task: "t", modality: TENSOR, visibility: PRIVATE }) { id } }`, {}, alice);
  const version = await gql(`mutation($m: ID!, $b: ID!) { createModelVersion(input: { modelId: $m, blobId: $b, handler: "tensor" }) { id } }`, { m: model.data.createModel.id, b: blobId }, alice);
  const endpoint = await gql(`mutation($v: ID!) { deployEndpoint(input: { modelVersionId: $v, name: "restart" }) { id } }`, { v: version.data.createModelVersion.id }, alice);
  const endpointId = endpoint.data.deployEndpoint.id;
  for (let i = 0; i < 100; i++) {
    const e = await gql(`query($id: ID!) { node(id: $id) { ... on Endpoint { status } } }`, { id: endpointId }, alice);
    if (e.data?.node?.status === 'READY') break;
    await new Promise((r) => setTimeout(r, 50));
  }
  const inputs = Array.from({ length: 60 }, (_, i) => ({ x: { type: 'float32', dims: [1, 3], data: [i, i, i] } }));
  const job = await gql(`mutation($e: ID!, $i: [JSON!]!) { submitJob(input: { endpointId: $e, inputs: $i }) { job { id } } }`, { e: endpointId, i: inputs }, alice);
  const jobId = job.data.submitJob.job.id;

  // Restart PostgreSQL while the job runs.
  const port = pg.port;
  await pg.stop();
  const during = await gql(`{ quota { availableUnits } }`, {}, alice);
  expect(during.status === 0 ? 'transport' : during.errors?.[0]?.extensions?.code).toMatch(/INTERNAL|UNAUTHENTICATED|transport/);
  expect(JSON.stringify(during)).not.toMatch(/ECONNREFUSED|stack|\.ts:|SELECT/);
  pg = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), port });

  let recovered = false;
  for (let i = 0; i < 200 && !recovered; i++) {
    const res = await gql(`{ quota { availableUnits } }`, {}, alice);
    recovered = typeof res.data?.quota?.availableUnits === 'number';
    if (!recovered) await new Promise((r) => setTimeout(r, 100));
  }
  expect(recovered).toBe(true);

  let final: any;
  for (let i = 0; i < 900; i++) {
    final = (await gql(`query($id: ID!) { node(id: $id) { ... on Job { status progress { done failed total } results(first: 100) { totalCount } } } }`, { id: jobId }, alice)).data?.node;
    if (final && ['SUCCEEDED', 'FAILED', 'CANCELLED'].includes(final.status)) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  expect(final).toMatchObject({ status: 'SUCCEEDED', progress: { done: 60, failed: 0, total: 60 }, results: { totalCount: 60 } });
  expect(await platform.db.withSystem('test: ledger invariants', (em) => ledgerViolations(em))).toEqual([]);
});
