// Where blob bytes live. Content-addressed: the key is the sha256 of the bytes, so identical
// uploads are stored once and a stored object never changes. The filesystem implementation is
// the default and the tested one; an S3-compatible store implements the same five operations
// (put = upload to a temporary key while hashing, then copy to the hash key).
//
// The store knows nothing of tenants: who may read which hash is decided by the `blob` table
// and its row-level security (resolvers/blobs/blobs.service.ts).
import type { Readable } from 'node:stream';

export interface StoredObject {
  sha256: string;
  size: number;
}

export interface BlobStore {
  /**
   * Streams `source` into the store while hashing it, never holding more than a chunk in memory.
   * Rejects with BlobTooLargeError as soon as more than `maxBytes` arrived (nothing is kept),
   * and with the source's own error if the upload is cut off. Only complete objects become
   * visible under their hash.
   */
  put(source: Readable, opts: { maxBytes: number }): Promise<StoredObject>;
  /** The bytes of a stored object, or null when the store does not have it. */
  get(sha256: string): Promise<Readable | null>;
  /** The same, whole in memory in one read: for objects already known to be small enough. */
  read(sha256: string): Promise<Buffer | null>;
  has(sha256: string): Promise<boolean>;
  delete(sha256: string): Promise<void>;
}

export class BlobTooLargeError extends Error {
  constructor(readonly maxBytes: number) {
    super(`the body exceeds the limit of ${maxBytes} bytes`);
    this.name = 'BlobTooLargeError';
  }
}

export const SHA256_HEX = /^[0-9a-f]{64}$/;
