// REST edge for blobs (contract/README.md, Blobs): GraphQL is bad at large binary bodies, so
// uploads and downloads are plain HTTP. Handlers stay thin — authenticate exactly as /graphql
// does, call BlobsService, translate the outcome to HTTP. Bodies are streamed both ways.
import { randomUUID } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import express, { type Request, type Response, type Router } from 'express';
import { GraphQLError } from 'graphql';
import { AppError, ErrorCode } from '../../core/app-error';
import type { Logger } from '../../core/logger';
import type { BlobsService } from '../../resolvers/blobs/blobs.service';
import { BlobTooLargeError } from '../../tenants/blob-store/blob-store';
import type { RequestScope } from '../../tenants/request-scope';
import { classifyError } from '../graphql/format-error';

export type Authenticate = (authorization: unknown, tenant: unknown) => Promise<{ scope: RequestScope }>;

const STATUS: Record<ErrorCode, number> = {
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  BAD_USER_INPUT: 400,
  QUOTA_EXCEEDED: 429,
  RATE_LIMITED: 429,
  CONFLICT: 409,
  QUERY_TOO_COMPLEX: 400,
  INTERNAL: 500,
};

/** After refusing an upload, how long the rest of its body may keep arriving before we hang up. */
const DRAIN_GRACE_MS = 10_000;

export function blobRoutes(deps: { authenticate: Authenticate; blobs: BlobsService; log: Logger }): Router {
  const { authenticate, blobs, log } = deps;
  const router = express.Router();

  router.post('/v1/blobs', async (req, res) => {
    // A proxy between the socket and the store: when the store gives up (too large), only the
    // proxy is destroyed, so the socket survives to carry the 413 back.
    const body = new PassThrough();
    try {
      const { scope } = await authenticate(req.headers.authorization, req.headers['x-tenant']);
      req.pipe(body);
      req.once('error', (err) => body.destroy(err));
      req.once('close', () => {
        if (!req.complete) body.destroy(new Error('the upload was cut off before its end'));
      });
      const declared = req.headers['content-length'];
      const uploaded = await blobs.upload(scope, {
        contentType: req.headers['content-type'],
        declaredLength: declared === undefined ? undefined : Number(declared),
      }, body);
      res.status(201).json(uploaded);
    } catch (err) {
      body.destroy();
      if (req.socket.destroyed) {
        // The client hung up mid-upload: the store already removed its partial file.
        log.info({ err: (err as Error).message }, 'blob upload abandoned by the client');
        return;
      }
      if (!req.complete) refuseRestOfBody(req, res);
      sendError(res, err, log);
    }
  });

  router.get('/v1/blobs/:id', async (req, res) => {
    try {
      const { scope } = await authenticate(req.headers.authorization, req.headers['x-tenant']);
      const { blob, body } = await blobs.download(scope, String(req.params.id));
      const etag = `"${blob.sha256}"`;
      res.setHeader('ETag', etag);
      // Access can be revoked: caches must ask again each time (a 304 still checks access).
      res.setHeader('Cache-Control', 'private, no-cache');
      if (req.headers['if-none-match'] === etag) {
        body.destroy();
        res.status(304).end();
        return;
      }
      res.setHeader('Content-Type', blob.contentType);
      res.setHeader('Content-Length', String(blob.size));
      // Uploaded bytes are never rendered as a page of this origin (stored XSS).
      res.setHeader('Content-Disposition', 'attachment');
      res.setHeader('X-Content-Type-Options', 'nosniff');
      res.setHeader('Content-Security-Policy', "default-src 'none'; sandbox");
      await pipeline(body, res);
    } catch (err) {
      if (res.headersSent) {
        // The client went away mid-download, or the file failed under us: nothing left to say.
        log.warn({ err }, 'blob download interrupted');
        res.destroy();
        return;
      }
      sendError(res, err, log);
    }
  });

  return router;
}

/**
 * The answer goes out before the body was read. Closing a socket with unread input makes TCP
 * reset it, which can destroy our answer before the client reads it; so the connection closes
 * after the response, and the rest of the body is discarded for a short grace period.
 */
function refuseRestOfBody(req: Request, res: Response): void {
  res.setHeader('Connection', 'close');
  req.unpipe();
  req.resume();
  setTimeout(() => req.socket.destroy(), DRAIN_GRACE_MS).unref();
}

function sendError(res: Response, err: unknown, log: Logger): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const { status, code, message } = toHttpError(err, log);
  res.status(status).json({ error: { code, message } });
}

function toHttpError(err: unknown, log: Logger): { status: number; code: ErrorCode; message: string } {
  if (err instanceof BlobTooLargeError) {
    return { status: 413, code: ErrorCode.BAD_USER_INPUT, message: err.message };
  }
  if (err instanceof GraphQLError) {
    // From authenticate(): it already carries the contract code and the HTTP status.
    const code = (err.extensions.code as ErrorCode | undefined) ?? ErrorCode.INTERNAL;
    const status = (err.extensions.http as { status?: number } | undefined)?.status ?? STATUS[code] ?? 500;
    return { status, code, message: err.message };
  }
  if (err instanceof AppError) return { status: STATUS[err.code], code: err.code, message: err.message };
  if ((err as NodeJS.ErrnoException)?.code === 'ENOSPC' || (err as NodeJS.ErrnoException)?.code === 'EDQUOT') {
    // Our storage is full: not the caller's fault, nothing was kept (the store removed its temp
    // file), and retrying later may work — 507 Insufficient Storage says exactly that.
    log.error({ err }, 'blob storage is full');
    return { status: 507, code: ErrorCode.INTERNAL, message: 'blob storage is full; nothing was stored; try again later or contact the operators' };
  }
  const known = classifyError(err);
  if (known) return { status: STATUS[known.code], code: known.code, message: known.message };
  const correlationId = randomUUID();
  log.error({ err, correlationId }, 'unexpected error in blob route');
  return { status: 500, code: ErrorCode.INTERNAL, message: `internal error; quote correlation id ${correlationId} when reporting it` };
}
