// The REST blob store through real HTTP: streaming, content addressing, deduplication, the size
// limit, authentication, and who may download what.
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { startTestPlatform, type TestPlatform } from './harness/test-platform';
import { downloadBlob, globalIdOf, uploadBlob, uuidOf, withOwner } from './harness/datasets-factory';

const MB = 1024 * 1024;
const LIMIT = 60 * MB;

let tp: TestPlatform;
let blobsDir: string;
beforeAll(async () => {
  tp = await startTestPlatform({ env: { BLOB_MAX_BYTES: String(LIMIT) } });
  blobsDir = path.join(tp.platform.config.dataDir, 'blobs');
});
afterAll(async () => {
  await tp?.close();
});

function filesUnder(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name));
}

async function blobRows(): Promise<number> {
  return withOwner(tp, async (c) => (await c.query('SELECT count(*)::int AS n FROM blob')).rows[0].n);
}

/** `total` bytes in 64 KiB chunks from a generator: the body never exists in memory as a whole. */
async function* generated(total: number, seed = 7): AsyncGenerator<Uint8Array> {
  const chunk = Buffer.alloc(64 * 1024, seed);
  for (let sent = 0; sent < total; sent += chunk.length) yield total - sent >= chunk.length ? chunk : chunk.subarray(0, total - sent);
}

function sha256Of(total: number, seed = 7): string {
  const hash = createHash('sha256');
  const chunk = Buffer.alloc(64 * 1024, seed);
  for (let sent = 0; sent < total; sent += chunk.length) hash.update(total - sent >= chunk.length ? chunk : chunk.subarray(0, total - sent));
  return hash.digest('hex');
}

/**
 * POST through node:http with backpressure (pipeline), so the client side holds at most a chunk
 * or two: fetch() with an iterable body queues far ahead of the socket, which would blur what
 * this file measures — the server's memory. Resolves with the response even when the server
 * answers before the body is sent.
 */
function postStream(user: string, source: AsyncIterable<Uint8Array>, headers: Record<string, string> = {}) {
  return tp.token(user).then((token) => new Promise<{ status: number; body: any }>((resolve, reject) => {
    const req = http.request(`${tp.url}/v1/blobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/octet-stream', ...headers },
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(Buffer.concat(chunks).toString()) }));
      res.on('error', reject);
    });
    let answered = false;
    req.on('response', () => (answered = true));
    // Once the server has answered, a reset while the rest of the body was still going out is expected.
    req.on('error', (err) => { if (!answered) reject(err); });
    pipeline(Readable.from(source), req).catch(() => undefined);
  }));
}

describe('upload', () => {
  it('answers 201 with id, sha256, size and type, stored under its hash with no temp file left', async () => {
    const bytes = randomBytes(10_000);
    const res = await uploadBlob(tp, 'alice', bytes, 'Image/PNG');
    expect(res.status).toBe(201);
    const sha256 = createHash('sha256').update(bytes).digest('hex');
    expect(res.body).toEqual({ id: expect.any(String), sha256, size: 10_000, contentType: 'image/png' });
    expect(Buffer.from(res.body.id, 'base64url').toString()).toMatch(/^Blob:[0-9a-f-]{36}$/);
    const stored = path.join(blobsDir, 'sha256', sha256.slice(0, 2), sha256.slice(2, 4), sha256);
    expect(fs.readFileSync(stored).equals(bytes)).toBe(true);
    expect(filesUnder(path.join(blobsDir, 'tmp'))).toEqual([]);

    const node = await tp.as('alice', `query($id: ID!) { node(id: $id) { ... on Blob { sha256 size contentType } } }`, { id: res.body.id });
    expect(node.node).toEqual({ sha256, size: 10_000, contentType: 'image/png' });
  });

  it('deduplicates: the same bytes are one file; the same tenant gets the same blob back', async () => {
    const bytes = randomBytes(5_000);
    const a1 = await uploadBlob(tp, 'alice', bytes, 'image/jpeg');
    const a2 = await uploadBlob(tp, 'dave', bytes, 'image/jpeg');
    const b = await uploadBlob(tp, 'bob', bytes, 'image/jpeg');
    expect(a2.body.id).toBe(a1.body.id);
    expect(b.body.id).not.toBe(a1.body.id);
    expect(b.body.sha256).toBe(a1.body.sha256);
    expect(filesUnder(path.join(blobsDir, 'sha256')).filter((f) => f.endsWith(a1.body.sha256))).toHaveLength(1);
  });

  it("counts each tenant's stored bytes, each distinct content once", async () => {
    const query = `{ viewer { activeTenant { storedBlobBytes } } }`;
    const before = (await tp.as('carol', query)).viewer.activeTenant.storedBlobBytes;
    const bytes = randomBytes(3_000);
    await uploadBlob(tp, 'carol', bytes, 'image/png');
    await uploadBlob(tp, 'carol', bytes, 'image/png');
    await uploadBlob(tp, 'carol', bytes, 'application/octet-stream'); // same content, another type: not counted twice
    await uploadBlob(tp, 'carol', randomBytes(1_000), 'image/png');
    const after = (await tp.as('carol', query)).viewer.activeTenant.storedBlobBytes;
    expect(after - before).toBe(4_000);
    // Another tenant's figure is not for outsiders.
    const iqiyi = (await tp.as('admin', `{ tenant(slug: "iqiyi") { id storedBlobBytes } }`)).tenant;
    expect(iqiyi.storedBlobBytes).toBe(after);
  });

  it('refuses a malformed Content-Type with 400 BAD_USER_INPUT and defaults a missing one', async () => {
    const bad = await uploadBlob(tp, 'alice', 'x', 'not a type');
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('BAD_USER_INPUT');
    const res = await fetch(`${tp.url}/v1/blobs`, {
      method: 'POST', headers: { authorization: `Bearer ${await tp.token('alice')}` }, body: new Uint8Array([1, 2, 3]),
    });
    expect(res.status).toBe(201);
    expect(((await res.json()) as any).contentType).toBe('application/octet-stream');
  });

  it('authenticates as /graphql does: 401 without a token, 403 for a VIEWER or a foreign X-Tenant', async () => {
    const anonymous = await fetch(`${tp.url}/v1/blobs`, { method: 'POST', body: 'x' });
    expect(anonymous.status).toBe(401);
    expect(await anonymous.json()).toEqual({ error: { code: 'UNAUTHENTICATED', message: expect.any(String) } });
    const viewer = await uploadBlob(tp, 'erin', 'x');
    expect(viewer.status).toBe(403);
    expect(viewer.body.error.code).toBe('FORBIDDEN');
    const foreign = await uploadBlob(tp, 'alice', 'x', 'text/plain', 'whu');
    expect(foreign.status).toBe(403);
    expect(foreign.body.error.code).toBe('FORBIDDEN');
  });
});

describe('download', () => {
  it('streams the bytes to the uploading tenant; another tenant gets the 404 of a missing id', async () => {
    const bytes = randomBytes(20_000);
    const { body } = await uploadBlob(tp, 'alice', bytes, 'image/png');
    const own = await downloadBlob(tp, 'dave', body.id);
    expect(own.status).toBe(200);
    expect(own.bytes.equals(bytes)).toBe(true);
    expect(own.headers.get('content-type')).toBe('image/png');
    expect(own.headers.get('content-length')).toBe('20000');
    expect(own.headers.get('etag')).toBe(`"${body.sha256}"`);
    expect(own.headers.get('x-content-type-options')).toBe('nosniff');

    const foreign = await downloadBlob(tp, 'bob', body.id);
    const missing = await downloadBlob(tp, 'bob', globalIdOf('Blob', '00000000-0000-4000-8000-000000000000'));
    expect(foreign.status).toBe(404);
    expect(missing.status).toBe(404);
    const message = (r: { bytes: Buffer }, id: string) => JSON.parse(r.bytes.toString()).error.message.replace(id, 'X');
    expect(message(foreign, body.id)).toBe(message(missing, globalIdOf('Blob', '00000000-0000-4000-8000-000000000000')));
    expect(JSON.parse(foreign.bytes.toString()).error.code).toBe('NOT_FOUND');

    const node = await tp.gql(`query($id: ID!) { node(id: $id) { id } }`, { id: body.id }, { token: await tp.token('bob') });
    expect(node.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    const malformed = await downloadBlob(tp, 'alice', 'not-an-id!');
    expect(malformed.status).toBe(400);
  });

  it('answers 304 to a matching If-None-Match, after checking access', async () => {
    const { body } = await uploadBlob(tp, 'alice', randomBytes(100));
    const res = await fetch(`${tp.url}/v1/blobs/${body.id}`, {
      headers: { authorization: `Bearer ${await tp.token('alice')}`, 'if-none-match': `"${body.sha256}"` },
    });
    expect(res.status).toBe(304);
  });
});

describe('streaming and the size limit', () => {
  it('stores a 50 MB body streamed from a generator without the process growing by more than a few MB', async () => {
    const total = 50 * MB;
    // Warm-up: V8 lets external (Buffer) memory grow to a heuristic size before its first
    // collections; the first big transfer of a process pays that once, whatever the code does.
    expect((await postStream('alice', generated(16 * MB, 1))).status).toBe(201);
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => { peak = Math.max(peak, process.memoryUsage().rss); }, 5);
    try {
      const res = await postStream('alice', generated(total));
      expect(res.status).toBe(201);
      expect(res.body.size).toBe(total);
      expect(res.body.sha256).toBe(sha256Of(total));
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage().rss);
    // Client and server share this process: a buffered body would show up as 50+ MB here.
    expect(peak - baseline).toBeLessThan(40 * MB);
  });

  it('refuses a streamed body over the limit with 413, keeping no row and no file', async () => {
    const rows = await blobRows();
    const files = filesUnder(path.join(blobsDir, 'sha256')).length;
    const res = await postStream('alice', generated(LIMIT + 1, 9));
    expect(res.status).toBe(413);
    expect(res.body).toEqual({ error: { code: 'BAD_USER_INPUT', message: expect.stringContaining(String(LIMIT)) } });
    expect(await blobRows()).toBe(rows);
    expect(filesUnder(path.join(blobsDir, 'sha256'))).toHaveLength(files);
    expect(filesUnder(path.join(blobsDir, 'tmp'))).toEqual([]);
  });

  it('refuses a declared Content-Length over the limit before reading the body', async () => {
    const rows = await blobRows();
    const token = await tp.token('alice');
    // Headers and one small chunk only: the 413 must come without the server waiting for the rest.
    const status = await new Promise<number>((resolve, reject) => {
      const req = http.request(`${tp.url}/v1/blobs`, {
        method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-length': String(LIMIT + 10) },
      }, (res) => {
        res.resume();
        resolve(res.statusCode!);
        req.destroy();
      });
      req.on('error', reject);
      req.write(Buffer.alloc(1024));
    });
    expect(status).toBe(413);
    expect(await blobRows()).toBe(rows);
    expect(filesUnder(path.join(blobsDir, 'tmp'))).toEqual([]);
  });

  it('leaves nothing behind when the client aborts mid-upload', async () => {
    const rows = await blobRows();
    const token = await tp.token('alice');
    await new Promise<void>((resolve) => {
      const req = http.request(`${tp.url}/v1/blobs`, { method: 'POST', headers: { authorization: `Bearer ${token}` } });
      req.on('error', () => resolve());
      req.write(Buffer.alloc(4 * MB, 5), () => setTimeout(() => { req.destroy(); resolve(); }, 20));
    });
    // The server notices the closed socket asynchronously: wait for it, without timing it.
    for (let i = 0; i < 200 && filesUnder(path.join(blobsDir, 'tmp')).length > 0; i++) await new Promise((r) => setTimeout(r, 25));
    expect(filesUnder(path.join(blobsDir, 'tmp'))).toEqual([]);
    expect(await blobRows()).toBe(rows);
  });
});

it('the blob row belongs to the uploading tenant', async () => {
  const { body } = await uploadBlob(tp, 'bob', randomBytes(10));
  const row = await withOwner(tp, async (c) => (await c.query(
    'SELECT t.slug, b.size::int AS size FROM blob b JOIN tenant t ON t.id = b.tenant_id WHERE b.id = $1', [uuidOf(body.id)])).rows[0]);
  expect(row).toEqual({ slug: 'whu', size: 10 });
});
