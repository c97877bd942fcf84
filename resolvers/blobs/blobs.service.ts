// Blobs: raw bytes uploaded over REST (api/blobs), stored once per content in the BlobStore, and
// recorded per uploading tenant in the `blob` table. Who may download a blob is decided by that
// table's row-level security: the uploading tenant, and whoever can read a dataset item that
// references it — the same rule as the GraphQL `DatasetItem.blob` field, because both paths
// read the row through withTenant.
import type { Readable } from 'node:stream';
import { LRUCache } from 'lru-cache';
import { AppError } from '../../core/app-error';
import { fromGlobalId } from '../../core/global-id';
import { Blob, TenantRole } from '../../entities';
import { BlobTooLargeError, type BlobStore } from '../../tenants/blob-store/blob-store';
import { requireRole, requireTenant, type RequestScope } from '../../tenants/request-scope';
import type { TenantDatabase } from '../../tenants/tenant-database';
import { BlobNode, type UploadedBlob } from './blobs.types';

// type/subtype with optional parameters (RFC 9110 media-type, simplified).
const MEDIA_TYPE = /^[a-z0-9!#$&^_.+-]+\/[a-z0-9!#$&^_.+-]+(\s*;\s*[a-z0-9!#$&^_.+-]+=("[^"]*"|[a-z0-9!#$&^_.+-]+))*$/i;
const DEFAULT_CONTENT_TYPE = 'application/octet-stream';

export interface UploadRequest {
  /** The Content-Type header as sent; absent means application/octet-stream. */
  contentType?: string;
  /** The Content-Length header, when the client declared one. */
  declaredLength?: number;
}

export interface BlobDownload {
  blob: BlobNode;
  body: Readable;
}

/** Validates a Content-Type header and lowercases its type/subtype (they are case-insensitive). */
function normaliseContentType(header: string | undefined): string {
  const raw = header?.trim();
  if (!raw) return DEFAULT_CONTENT_TYPE;
  if (raw.length > 255 || !MEDIA_TYPE.test(raw)) {
    throw AppError.badInput(`Content-Type "${raw.slice(0, 80)}" is not a media type such as image/png`);
  }
  const [type, ...params] = raw.split(';');
  return [type.trim().toLowerCase(), ...params.map((p) => p.trim())].join('; ');
}

/** What app_readable_blob answers: the content address, the size and the owning tenant. */
interface ReadableBlob {
  sha256: string;
  size: string;
  tenant_id: string;
}

/** Own-tenant lookups remembered (see ownBlobs); a few hundred bytes each. */
const OWN_BLOBS_CACHED = 10_000;

export class BlobsService {
  /**
   * Blobs a tenant owns, by tenant and blob id. A blob never changes and is never deleted, and its
   * own tenant may always read it (row-level security), so the answer cannot go stale: a member
   * calling models on the same upload waits for the lookup once. Blobs readable through another
   * tenant's shared dataset or model are never remembered — that grant may end.
   */
  private readonly ownBlobs = new LRUCache<string, ReadableBlob>({ max: OWN_BLOBS_CACHED });

  constructor(
    private readonly db: TenantDatabase,
    private readonly store: BlobStore,
    readonly maxBytes: number,
  ) {}

  /**
   * Streams the body into the store, then records it for the acting tenant. Every check that
   * needs no body (role, type, declared length) runs before a single byte is read; a body that
   * turns out longer than maxBytes fails with BlobTooLargeError and leaves nothing behind.
   * The same tenant uploading the same bytes and type again gets the same blob.
   * A file stored without its row (a crash between the two) is harmless: content-addressed and
   * unreferenced, it is garbage for a collector, never a visible half-upload.
   */
  async upload(scope: RequestScope, request: UploadRequest, body: Readable): Promise<UploadedBlob> {
    const tenant = requireRole(scope, TenantRole.MEMBER, 'uploading a blob');
    const contentType = normaliseContentType(request.contentType);
    if (request.declaredLength !== undefined && request.declaredLength > this.maxBytes) {
      throw new BlobTooLargeError(this.maxBytes);
    }
    const stored = await this.store.put(body, { maxBytes: this.maxBytes });
    const row = await this.db.withTenant(scope, async (em) => {
      const inserted: Blob[] = await em.query(
        `INSERT INTO blob (tenant_id, sha256, size, content_type, uploaded_by) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (tenant_id, sha256, content_type) DO NOTHING RETURNING id`,
        [tenant.tenantId, stored.sha256, stored.size, contentType, scope.user.id],
      );
      const id = inserted[0]?.id;
      return id
        ? em.findOneByOrFail(Blob, { id })
        : em.findOneByOrFail(Blob, { tenantId: tenant.tenantId, sha256: stored.sha256, contentType });
    });
    const node = BlobNode.from(row);
    return { id: node.id, sha256: node.sha256, size: node.size, contentType: node.contentType };
  }

  /** The bytes of a blob the caller may read; NOT_FOUND otherwise, exactly as for a missing id. */
  async download(scope: RequestScope, globalId: string): Promise<BlobDownload> {
    requireTenant(scope);
    const id = fromGlobalId(globalId, 'Blob');
    const row = await this.db.withTenant(scope, (em) => em.findOneBy(Blob, { id }));
    if (!row) throw AppError.notFound('blob', globalId);
    const body = await this.store.get(row.sha256);
    // A row without its bytes is our fault (a lost volume), not the caller's: not a 404.
    if (!body) throw new Error(`blob ${row.id} (${row.sha256}) is recorded but missing from the store`);
    return { blob: BlobNode.from(row), body };
  }

  /**
   * The bytes of a blob the caller may read (the same rule as `download`) and that fits, for
   * `{ blobId }` inputs of infer: one round trip (app_readable_blob, the same row-level security
   * as readable()), none for an own blob asked before (ownBlobs), and one read.
   */
  async readBytes(scope: RequestScope, globalId: string, maxBytes: number): Promise<Buffer> {
    const { tenantId } = requireTenant(scope);
    const id = fromGlobalId(globalId, 'Blob');
    const key = `${tenantId}:${id}`;
    let row = this.ownBlobs.get(key);
    if (!row) {
      [row] = await this.db.callScoped<ReadableBlob>(scope, 'app_readable_blob', [id]);
      if (row?.tenant_id === tenantId) this.ownBlobs.set(key, row);
    }
    return this.storedBytes(fitting(row, globalId, maxBytes).sha256);
  }

  /** The blob readBytes would read (the caller may, and it fits), without reading its bytes. */
  async readable(scope: RequestScope, globalId: string, maxBytes: number): Promise<BlobNode> {
    requireTenant(scope);
    const id = fromGlobalId(globalId, 'Blob');
    const row = await this.db.withTenant(scope, (em) => em.findOneBy(Blob, { id }));
    return BlobNode.from(fitting(row, globalId, maxBytes));
  }

  /**
   * System use: the stored bytes of a content address, with no access check — for the model
   * runtime loading a file that a row it was allowed to read names by hash.
   */
  async storedBytes(sha256: string): Promise<Buffer> {
    const bytes = await this.store.read(sha256);
    if (!bytes) throw new Error(`blob content ${sha256} is recorded but missing from the store`);
    return bytes;
  }

  /**
   * System use (seeding the demo catalogue): stores bytes as the given tenant's upload. Same
   * content and type again answers the existing blob, as an upload would.
   */
  async storeForTenant(tenantId: string, body: Readable, contentType: string, reason: string): Promise<BlobNode> {
    const stored = await this.store.put(body, { maxBytes: this.maxBytes });
    const type = normaliseContentType(contentType);
    const row = await this.db.withSystem(reason, async (em) => {
      await em.query(
        `INSERT INTO blob (tenant_id, sha256, size, content_type) VALUES ($1, $2, $3, $4)
         ON CONFLICT (tenant_id, sha256, content_type) DO NOTHING`,
        [tenantId, stored.sha256, stored.size, type]);
      return em.findOneByOrFail(Blob, { tenantId, sha256: stored.sha256, contentType: type });
    });
    return BlobNode.from(row);
  }
}

/** A blob row the caller could see (else NOT_FOUND, like one that never existed) within maxBytes. */
function fitting<T extends { size: string | number }>(row: T | null | undefined, globalId: string, maxBytes: number): T {
  if (!row) throw AppError.notFound('blob', globalId);
  if (Number(row.size) > maxBytes) throw AppError.badInput(`blob ${globalId} is ${row.size} bytes; the limit here is ${maxBytes}`);
  return row;
}
