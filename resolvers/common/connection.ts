// Relay connections: one factory for every `XConnection`/`XEdge` pair, and keyset pagination
// (never OFFSET: a page stays correct while rows are inserted before it, and deep pages stay fast).
import { ArgsType, Field, Int, ObjectType, type ClassType } from 'type-graphql';
import type { EntityManager, ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import { AppError } from '../../core/app-error';
import { PageInfo } from './node.types';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

@ArgsType()
export class PageArgs {
  @Field(() => Int, { nullable: true })
  first?: number;

  @Field(() => String, { nullable: true })
  after?: string;
}

export interface ConnectionShape<T> {
  edges: { cursor: string; node: T }[];
  pageInfo: PageInfo;
  /** Counted only when `totalCount` is selected. */
  count: () => Promise<number>;
}

export function ConnectionType<T extends object>(nodeType: ClassType<T>, name: string) {
  @ObjectType(`${name}Edge`)
  class Edge {
    @Field()
    cursor: string;

    @Field(() => nodeType)
    node: T;
  }

  @ObjectType(`${name}Connection`)
  class Connection {
    @Field(() => [Edge])
    edges: Edge[];

    @Field(() => PageInfo)
    pageInfo: PageInfo;

    count: () => Promise<number>;

    @Field(() => Int)
    totalCount(): Promise<number> {
      return this.count();
    }
  }
  return Connection;
}

export function pageSize(first: number | undefined | null): number {
  if (first === undefined || first === null) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) {
    throw AppError.badInput(`first must be between 1 and ${MAX_PAGE_SIZE}; got ${first}`);
  }
  return first;
}

export function encodeCursor(values: readonly (string | number)[]): string {
  return Buffer.from(JSON.stringify(values), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, arity: number): (string | number)[] {
  try {
    const values: unknown = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
    if (Array.isArray(values) && values.length === arity && values.every((v) => typeof v === 'string' || typeof v === 'number')) {
      return values as (string | number)[];
    }
  } catch {
    // fall through to the error below
  }
  throw AppError.badInput(`"${cursor.slice(0, 60)}" is not a cursor from this connection`);
}

export interface KeysetOrder<E> {
  /** SQL expressions in ORDER BY order, e.g. ['t.created_at', 't.id'] (all ascending). */
  columns: string[];
  /** The cursor values of an entity, matching `columns`. */
  key: (entity: E) => (string | number)[];
}

export type InTransaction = <T>(work: (em: EntityManager) => Promise<T>) => Promise<T>;

/**
 * Runs a keyset-paginated query: `first + 1` rows after the cursor tell whether a next page
 * exists without counting. The total is a separate COUNT, run only if the field is selected —
 * in its own transaction, because by then the page's transaction (and its RLS settings) is gone.
 */
export async function paginate<E extends ObjectLiteral, N>(
  run: InTransaction,
  build: (em: EntityManager) => SelectQueryBuilder<E>,
  args: PageArgs,
  order: KeysetOrder<E>,
  toNode: (entity: E) => N,
): Promise<ConnectionShape<N>> {
  const limit = pageSize(args.first);
  const cursor = args.after ? decodeCursor(args.after, order.columns.length) : undefined;
  const rows = await run((em) => {
    const qb = build(em);
    if (cursor) {
      const params = Object.fromEntries(cursor.map((v, i) => [`cursor_${i}`, v]));
      qb.andWhere(`(${order.columns.join(', ')}) > (${cursor.map((_, i) => `:cursor_${i}`).join(', ')})`, params);
    }
    for (const [i, column] of order.columns.entries()) {
      if (i === 0) qb.orderBy(column, 'ASC');
      else qb.addOrderBy(column, 'ASC');
    }
    return qb.take(limit + 1).getMany();
  });
  const page = rows.slice(0, limit);
  const edges = page.map((row) => ({ cursor: encodeCursor(order.key(row)), node: toNode(row) }));
  return {
    edges,
    pageInfo: {
      hasNextPage: rows.length > limit,
      hasPreviousPage: Boolean(args.after),
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges[edges.length - 1]?.cursor ?? null,
    },
    count: () => run((em) => build(em).getCount()),
  };
}

/** Cursor key for a timestamp: ISO text keeps microsecond order stable through JSON. */
export function isoKey(date: Date): string {
  return date.toISOString();
}
