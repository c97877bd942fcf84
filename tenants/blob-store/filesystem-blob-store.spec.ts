import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { BlobTooLargeError } from './blob-store';
import { FilesystemBlobStore } from './filesystem-blob-store';

let root: string;
let store: FilesystemBlobStore;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'blob-store-'));
  store = new FilesystemBlobStore(root);
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const tmpFiles = () => fs.readdirSync(path.join(root, 'tmp'));
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const chunks = (b: Buffer, size = 1000) => Readable.from(Array.from({ length: Math.ceil(b.length / size) }, (_, i) => b.subarray(i * size, (i + 1) * size)));

it('stores content under its sha256, fanned out, and reads it back', async () => {
  const bytes = randomBytes(10_000);
  const stored = await store.put(chunks(bytes), { maxBytes: 1e6 });
  expect(stored).toEqual({ sha256: sha(bytes), size: 10_000 });
  expect(fs.existsSync(path.join(root, 'sha256', stored.sha256.slice(0, 2), stored.sha256.slice(2, 4), stored.sha256))).toBe(true);
  expect(await store.has(stored.sha256)).toBe(true);
  const back: Buffer[] = [];
  for await (const c of (await store.get(stored.sha256))!) back.push(c as Buffer);
  expect(Buffer.concat(back).equals(bytes)).toBe(true);
  expect(tmpFiles()).toEqual([]);
});

it('keeps one file when the same content is stored concurrently', async () => {
  const bytes = randomBytes(50_000);
  const results = await Promise.all(Array.from({ length: 5 }, () => store.put(chunks(bytes), { maxBytes: 1e6 })));
  expect(new Set(results.map((r) => r.sha256)).size).toBe(1);
  expect(tmpFiles()).toEqual([]);
});

it('refuses content over the limit and keeps nothing', async () => {
  await expect(store.put(chunks(randomBytes(5_000)), { maxBytes: 4_999 })).rejects.toBeInstanceOf(BlobTooLargeError);
  expect(tmpFiles()).toEqual([]);
  expect(fs.readdirSync(path.join(root, 'sha256'))).toEqual([]);
});

it('keeps nothing when the source fails midway', async () => {
  async function* failing() {
    yield randomBytes(1000);
    throw new Error('connection reset');
  }
  await expect(store.put(Readable.from(failing()), { maxBytes: 1e6 })).rejects.toThrow('connection reset');
  expect(tmpFiles()).toEqual([]);
});

it('answers null / false for unknown or malformed hashes, and deletes', async () => {
  expect(await store.get('0'.repeat(64))).toBeNull();
  expect(await store.get('../../etc/passwd')).toBeNull();
  expect(await store.has('nope')).toBe(false);
  const { sha256 } = await store.put(Readable.from([Buffer.from('x')]), { maxBytes: 10 });
  await store.delete(sha256);
  expect(await store.has(sha256)).toBe(false);
});
