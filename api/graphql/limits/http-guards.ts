// The HTTP edge of /graphql, around Apollo's middleware:
//   - the character limit, before Apollo parses anything (a hook inside Apollo that throws
//     before parsing would surface as a 500);
//   - body-parser failures (too large → 413, malformed JSON → 400) answered in the contract's
//     error shape instead of express's HTML page;
//   - the time allowed to receive a GraphQL request (slow-loris: a client that trickles its
//     headers or body holds a socket, a parser and a request slot for as long as it likes).
//     Only /graphql gets the short deadline: node's server-wide requestTimeout would also cut
//     off a legitimate gigabyte blob upload on POST /v1/blobs. Slow headers on any route are
//     node's own headersTimeout (60 s) and requestTimeout (300 s) defaults.
import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { GraphQLError, GraphQLFormattedError } from 'graphql';
import { ErrorCode } from '../../../core/app-error';
import type { LimitsConfig } from '../../../core/config';
import { queryTextError } from './document-limits';

type FormatError = (formatted: GraphQLFormattedError, error: unknown) => GraphQLFormattedError;

function sendErrors(res: Parameters<RequestHandler>[1], status: number, errors: GraphQLFormattedError[]): void {
  res.status(status).type('application/json').send(JSON.stringify({ errors }));
}

export function querySizeGuard(limits: LimitsConfig, formatError: FormatError): RequestHandler {
  return (req, res, next) => {
    const body = req.body as unknown;
    const queries = req.method === 'GET'
      ? [req.query?.query]
      : (Array.isArray(body) ? body : [body]).map((b) => (b && typeof b === 'object' ? (b as { query?: unknown }).query : undefined));
    const error = queries.map((q) => queryTextError(q, limits)).find((e): e is GraphQLError => e !== null);
    if (!error) return next();
    sendErrors(res, 400, [formatError(error.toJSON(), error)]);
  };
}

interface BodyParserError {
  type?: string;
  status?: number;
  limit?: number;
}

export function bodyErrorHandler(bodyLimitBytes: number): ErrorRequestHandler {
  return (err: BodyParserError, _req, res, next) => {
    if (res.headersSent) return next(err); // requestDeadline answered already
    if (err?.type === 'entity.too.large') {
      return sendErrors(res, 413, [{
        message: `the request body exceeds the limit of ${bodyLimitBytes} bytes`,
        extensions: { code: ErrorCode.BAD_USER_INPUT, limitBytes: bodyLimitBytes },
      }]);
    }
    if (err?.type === 'entity.parse.failed') {
      return sendErrors(res, 400, [{ message: 'the request body is not valid JSON', extensions: { code: ErrorCode.BAD_USER_INPUT } }]);
    }
    if (typeof err?.status === 'number' && err.status >= 400 && err.status < 500) {
      return sendErrors(res, err.status, [{ message: 'the request body could not be read', extensions: { code: ErrorCode.BAD_USER_INPUT } }]);
    }
    next(err);
  };
}

/**
 * Answers 408 to a /graphql request whose body has not fully arrived within `ms`, and closes
 * its connection. Execution time is not cut short here (there is no cancelling a running
 * resolver); the cost limit bounds it.
 */
export function requestDeadline(ms: number): RequestHandler {
  return (req, res, next) => {
    if (req.complete) return next();
    const timer = setTimeout(() => {
      if (req.complete || res.headersSent) return;
      res.once('finish', () => req.socket.destroy());
      res.setHeader('connection', 'close');
      sendErrors(res, 408, [{
        message: `the request did not arrive within ${ms} ms`,
        extensions: { code: ErrorCode.BAD_USER_INPUT, timeoutMs: ms },
      }]);
    }, ms);
    timer.unref();
    const clear = () => clearTimeout(timer);
    req.once('end', clear);
    req.once('close', clear);
    next();
  };
}
