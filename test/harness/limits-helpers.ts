// Helpers for the limits tests: one operation over graphql-ws as a promise, and queries built to
// an exact depth, alias, directive, token or character count.
import { Lexer, Source, TokenKind } from 'graphql';
import type { Client as WsClient } from 'graphql-ws';
import type { TestPlatform } from './test-platform';

export interface OperationResult {
  data?: Record<string, any> | null;
  errors?: { message: string; extensions?: Record<string, any> }[];
}

/** Runs one query/mutation/subscription-first-event over a graphql-ws client. */
export function wsRun(client: WsClient, query: string, variables: Record<string, unknown> = {}): Promise<OperationResult> {
  return new Promise((resolve, reject) => {
    let result: OperationResult = {};
    const unsubscribe = client.subscribe({ query, variables }, {
      next: (value) => {
        result = value as OperationResult;
      },
      error: (errors) => (Array.isArray(errors) ? resolve({ errors: errors as OperationResult['errors'] }) : reject(errors)),
      complete: () => {
        unsubscribe();
        resolve(result);
      },
    });
  });
}

/** A connected graphql-ws client for a demo user. */
export async function connectedClient(tp: TestPlatform, username: string, tenant?: string): Promise<WsClient> {
  const client = tp.wsClient({ authorization: `Bearer ${await tp.token(username)}`, ...(tenant ? { tenant } : {}) });
  await new Promise<void>((resolve, reject) => {
    client.on('connected', () => resolve());
    client.on('closed', (event) => reject(new Error(`socket closed: ${(event as { code?: number }).code}`)));
  });
  return client;
}

/** Tokens as graphql-js's parser counts them for ParseOptions.maxTokens (comments excluded). */
export function tokenCount(query: string): number {
  const lexer = new Lexer(new Source(query));
  let n = 0;
  while (lexer.advance().kind !== TokenKind.EOF) n++;
  return n;
}

// A path through the schema that can nest without end, with a scalar to stop on at each step:
// viewer → memberships → tenant → members → edges → node (a membership) → tenant → members …
const PATH: [field: string, scalar: string][] = [
  ['viewer', 'username'],
  ['memberships', 'role'],
  ['tenant', 'slug'],
  ['members(first: 1)', 'totalCount'],
  ['edges', 'cursor'],
  ['node', 'role'],
];

/** A query whose deepest field sits at exactly `depth` levels. */
export function queryOfDepth(depth: number): string {
  const fields: string[] = [];
  for (let level = 0; level < depth - 1; level++) {
    const step = level < PATH.length ? level : 2 + ((level - 2) % (PATH.length - 2));
    fields.push(PATH[step][0]);
  }
  const last = depth - 2 < PATH.length ? depth - 2 : 2 + ((depth - 2 - 2) % (PATH.length - 2));
  const scalar = PATH[last][1];
  return `{ ${fields.map((f) => `${f} {`).join(' ')} ${scalar} ${'}'.repeat(fields.length)} }`;
}

export function queryWithAliases(n: number): string {
  return `{ ${Array.from({ length: n }, (_, i) => `a${i}: viewer { username }`).join(' ')} }`;
}

export function queryWithDirectives(n: number): string {
  return `{ viewer { ${Array.from({ length: n }, () => 'username @include(if: true)').join(' ')} } }`;
}

/** `{ viewer { username __typename … } }` with exactly `n` tokens (n ≥ 6). */
export function queryWithTokens(n: number): string {
  const query = `{ viewer { username ${'__typename '.repeat(n - 6)}} }`;
  if (tokenCount(query) !== n) throw new Error(`built ${tokenCount(query)} tokens, wanted ${n}`);
  return query;
}

/** `{ viewer { username } }` padded with spaces to exactly `n` characters. */
export function queryWithChars(n: number): string {
  const base = '{ viewer { username } }';
  return base + ' '.repeat(n - base.length);
}
