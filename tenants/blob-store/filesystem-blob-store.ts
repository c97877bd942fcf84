// The blob store on a local (or network) filesystem:
//   <root>/tmp/<random>               uploads in progress
//   <root>/sha256/ab/cd/<hash>        complete objects, fanned out so no directory grows huge
// A put writes to tmp while hashing, fsyncs, then renames into place. rename() within one
// filesystem is atomic, so readers see either no object or the complete one — never a partial
// upload — and two concurrent uploads of the same bytes both end with one intact file.
import { once } from 'node:events';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Transform, type Readable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { BlobTooLargeError, SHA256_HEX, type BlobStore, type StoredObject } from './blob-store';

/** Counts and hashes what flows through; fails the pipeline once the limit is passed. */
class HashingLimiter extends Transform {
  readonly hash = createHash('sha256');
  size = 0;

  constructor(private readonly maxBytes: number) {
    super();
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.size += chunk.length;
    if (this.size > this.maxBytes) {
      done(new BlobTooLargeError(this.maxBytes));
      return;
    }
    this.hash.update(chunk);
    done(null, chunk);
  }
}

export class FilesystemBlobStore implements BlobStore {
  private readonly tmpDir: string;
  private readonly objectsDir: string;

  constructor(root: string) {
    this.tmpDir = path.join(root, 'tmp');
    this.objectsDir = path.join(root, 'sha256');
    fs.mkdirSync(this.tmpDir, { recursive: true });
    fs.mkdirSync(this.objectsDir, { recursive: true });
  }

  async put(source: Readable, opts: { maxBytes: number }): Promise<StoredObject> {
    const tmp = path.join(this.tmpDir, `${Date.now()}-${randomBytes(8).toString('hex')}`);
    const limiter = new HashingLimiter(opts.maxBytes);
    const sink = fs.createWriteStream(tmp, { flags: 'wx', mode: 0o640 });
    try {
      await pipeline(source, limiter, sink);
      // Durable before visible: a crash after the rename must not leave a truncated object.
      const written = await fs.promises.open(tmp, 'r');
      try {
        await written.sync();
      } finally {
        await written.close();
      }
      const sha256 = limiter.hash.digest('hex');
      const target = this.pathOf(sha256);
      await fs.promises.mkdir(path.dirname(target), { recursive: true });
      if (await this.has(sha256)) {
        await fs.promises.rm(tmp, { force: true });
      } else {
        await fs.promises.rename(tmp, target);
      }
      return { sha256, size: limiter.size };
    } catch (err) {
      // A write stream destroyed while still opening creates the file afterwards: wait until it
      // has closed, or the temp file would reappear after this removal.
      if (!sink.closed) await once(sink, 'close').catch(() => undefined);
      await fs.promises.rm(tmp, { force: true });
      throw err;
    }
  }

  async read(sha256: string): Promise<Buffer | null> {
    if (!SHA256_HEX.test(sha256)) return null;
    try {
      return await fs.promises.readFile(this.pathOf(sha256));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async get(sha256: string): Promise<Readable | null> {
    if (!SHA256_HEX.test(sha256)) return null;
    try {
      const handle = await fs.promises.open(this.pathOf(sha256), 'r');
      return handle.createReadStream();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw err;
    }
  }

  async has(sha256: string): Promise<boolean> {
    if (!SHA256_HEX.test(sha256)) return false;
    try {
      await fs.promises.access(this.pathOf(sha256));
      return true;
    } catch {
      return false;
    }
  }

  async delete(sha256: string): Promise<void> {
    if (!SHA256_HEX.test(sha256)) return;
    await fs.promises.rm(this.pathOf(sha256), { force: true });
  }

  private pathOf(sha256: string): string {
    if (!SHA256_HEX.test(sha256)) throw new Error(`not a sha256: ${sha256.slice(0, 80)}`);
    return path.join(this.objectsDir, sha256.slice(0, 2), sha256.slice(2, 4), sha256);
  }
}
