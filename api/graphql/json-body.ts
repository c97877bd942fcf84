// The JSON body of POST /graphql. Small bodies are parsed as express.json would. A large one
// (a 10-second clip inline is 430 KB) is parsed without ever making its media strings into
// JavaScript strings: each string value of 64 KB or more under an `imageBase64` or `audioBase64`
// key is cut out before JSON.parse and put back as an InlineMedia — a reference into the body
// that InferenceService decodes straight to bytes (resolvers/endpoints/inline-media.ts says why:
// on the benchmark's machine the strings cost ≈ 4 ms a clip).
//
// Only where `infer` reads it: the value must sit in the `inputs` variable of an `infer` field
// of the operation that runs, a variable used nowhere else. Every other large value (the same
// key in dataset metadata, a job's inputs, an operation that cannot be read here) is put back
// as the very string that was sent, so no resolver but infer's ever sees anything but JSON.
// Strings with escapes are left to JSON.parse. Errors keep body-parser's types, which
// http-guards.ts answers in the contract's shape.
import { randomUUID } from 'node:crypto';
import express, { type RequestHandler } from 'express';
import { Kind, parse, visit, type OperationDefinitionNode } from 'graphql';
import { InlineMedia } from '../../resolvers/endpoints/inline-media';

export const MIN_INLINE_MEDIA_CHARS = 64 * 1024;
const MEDIA_KEYS = ['imageBase64', 'audioBase64'];
/** `infer` documents are a few hundred characters; anything far longer is not read here. */
const MAX_QUERY_CHARS = 16 * 1024;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COLON = 0x3a;

/** express.json's contract (type, limit, UTF-8 only, strict, empty body → {}), media aside. */
export function graphqlJsonBody(limitBytes: number): RequestHandler[] {
  const parseBody: RequestHandler = (req, _res, next) => {
    const body: unknown = req.body;
    if (!Buffer.isBuffer(body)) return next(); // not JSON: Apollo answers that
    const charset = /;\s*charset=([^;\s]+)/i.exec(req.headers['content-type'] ?? '')?.[1]?.replace(/"/g, '').toLowerCase() ?? 'utf-8';
    if (!charset.startsWith('utf-')) return next(bodyError(415, 'charset.unsupported', `unsupported charset "${charset.toUpperCase()}"`));
    try {
      req.body = parseJson(body);
      next();
    } catch (err) {
      next(bodyError(400, 'entity.parse.failed', (err as Error).message));
    }
  };
  return [express.raw({ type: 'application/json', limit: limitBytes }), parseBody];
}

function bodyError(status: number, type: string, message: string): Error {
  return Object.assign(new Error(message), { status, statusCode: status, type, expose: true });
}

export function parseJson(body: Buffer): unknown {
  const start = body[0] === 0xef && body[1] === 0xbb && body[2] === 0xbf ? 3 : 0; // a UTF-8 BOM
  const first = body.subarray(start).find((b) => b !== 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d);
  if (first === undefined) return {};
  if (first !== 0x7b && first !== 0x5b) throw new SyntaxError('the body must be a JSON object or array');
  if (body.length - start >= MIN_INLINE_MEDIA_CHARS) {
    const parsed = parseWithInlineMedia(body, start);
    if (parsed !== undefined) return parsed;
  }
  return JSON.parse(body.toString('utf8', start));
}

interface Cut { start: number; end: number; token: string; used: boolean }

/** undefined: nothing to cut out (or not an object), and the caller parses the usual way. */
function parseWithInlineMedia(body: Buffer, from: number): Record<string, unknown> | undefined {
  const cuts = largeMediaStrings(body, from);
  if (cuts === undefined || cuts.length === 0) return undefined;
  let skeleton = '';
  let at = from;
  for (const cut of cuts) {
    skeleton += body.toString('utf8', at, cut.start) + cut.token;
    at = cut.end;
  }
  const parsed: unknown = JSON.parse(skeleton + body.toString('utf8', at));
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) return undefined; // batches: the usual way
  const request = parsed as Record<string, unknown>;
  const byToken = new Map(cuts.map((cut) => [cut.token, cut]));
  const variables = request.variables;
  if (variables !== null && typeof variables === 'object' && !Array.isArray(variables)) {
    for (const name of inferInputVariables(request.query, request.operationName)) {
      const value = (variables as Record<string, unknown>)[name];
      // A single input where a list is expected is a list of one (GraphQL's input coercion).
      for (const input of Array.isArray(value) ? value : [value]) {
        if (input === null || typeof input !== 'object' || Array.isArray(input)) continue;
        for (const key of MEDIA_KEYS) {
          const cut = byToken.get((input as Record<string, unknown>)[key] as string);
          if (!cut || cut.used) continue;
          cut.used = true;
          (input as Record<string, unknown>)[key] = new InlineMedia(body, cut.start, cut.end);
        }
      }
    }
  }
  if (cuts.some((cut) => !cut.used)) restoreText(request, byToken, body);
  return request;
}

/**
 * The string values of at least MIN_INLINE_MEDIA_CHARS under a media key, without escapes, as
 * body offsets of their text (quotes excluded); undefined when the body's strings do not close.
 * Strings are found quote to quote: in JSON a quote outside a string always opens one.
 */
function largeMediaStrings(body: Buffer, from: number): Cut[] | undefined {
  const nonce = randomUUID();
  const cuts: Cut[] = [];
  for (let open = body.indexOf(QUOTE, from); open !== -1;) {
    let close = body.indexOf(QUOTE, open + 1);
    while (close !== -1 && escaped(body, close)) close = body.indexOf(QUOTE, close + 1);
    if (close === -1) return undefined;
    const start = open + 1;
    if (close - start >= MIN_INLINE_MEDIA_CHARS && underMediaKey(body, open)) {
      const backslash = body.indexOf(BACKSLASH, start);
      if (backslash === -1 || backslash > close) cuts.push({ start, end: close, token: `${nonce}:${cuts.length}`, used: false });
    }
    open = body.indexOf(QUOTE, close + 1);
  }
  return cuts;
}

function escaped(body: Buffer, quote: number): boolean {
  let backslashes = 0;
  for (let i = quote - 1; body[i] === BACKSLASH; i--) backslashes++;
  return backslashes % 2 === 1;
}

/** Whether the string opening at `open` is the value of an `"imageBase64"` / `"audioBase64"` key. */
function underMediaKey(body: Buffer, open: number): boolean {
  let i = open - 1;
  while (isSpace(body[i])) i--;
  if (body[i] !== COLON) return false;
  i--;
  while (isSpace(body[i])) i--;
  if (body[i] !== QUOTE) return false;
  return MEDIA_KEYS.some((key) => i - key.length - 1 >= 0 && body[i - key.length - 1] === QUOTE
    && body.toString('latin1', i - key.length, i) === key);
}

function isSpace(b: number | undefined): boolean {
  return b === 0x20 || b === 0x09 || b === 0x0a || b === 0x0d;
}

/**
 * The variables that feed the `inputs` of an `infer` field at the root of the mutation that will
 * run, each used exactly once in that operation. Anything this cannot read names none.
 */
function inferInputVariables(query: unknown, operationName: unknown): string[] {
  if (typeof query !== 'string' || query.length > MAX_QUERY_CHARS) return [];
  let operations: OperationDefinitionNode[];
  try {
    operations = parse(query, { noLocation: true, maxTokens: 2_000 }).definitions
      .filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  } catch {
    return []; // Apollo reports the syntax error
  }
  const operation = typeof operationName === 'string' && operationName
    ? operations.find((o) => o.name?.value === operationName)
    : operations.length === 1 ? operations[0] : undefined;
  if (!operation || operation.operation !== 'mutation') return [];
  const uses = new Map<string, number>();
  visit(operation.selectionSet, { Variable: (node) => void uses.set(node.name.value, (uses.get(node.name.value) ?? 0) + 1) });
  const names: string[] = [];
  for (const selection of operation.selectionSet.selections) {
    if (selection.kind !== Kind.FIELD || selection.name.value !== 'infer') continue;
    const inputs = selection.arguments?.find((a) => a.name.value === 'inputs')?.value;
    if (inputs?.kind === Kind.VARIABLE && uses.get(inputs.name.value) === 1) names.push(inputs.name.value);
  }
  return names;
}

/** Every token not claimed by infer becomes the string it stands for, wherever it is. */
function restoreText(value: unknown, byToken: Map<string, Cut>, body: Buffer): unknown {
  if (typeof value === 'string') {
    const cut = byToken.get(value);
    return cut && !cut.used ? body.toString('utf8', cut.start, cut.end) : value;
  }
  if (value === null || typeof value !== 'object') return value;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) value[i] = restoreText(value[i], byToken, body);
  } else {
    for (const key of Object.keys(value)) (value as Record<string, unknown>)[key] = restoreText((value as Record<string, unknown>)[key], byToken, body);
  }
  return value;
}
