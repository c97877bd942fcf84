// Connections nested under a list (`datasets { versions(first: 5) }`) without one query per
// parent: a DataLoader collects the parents of one request and fetches every parent's page in
// a single query, numbering rows per parent with row_number() and keeping the first `first + 1`
// (the extra row tells whether a next page exists, as in common/connection.ts `paginate`).
// Keyset, never OFFSET; row-level security applies inside the window as everywhere else.
import DataLoader from 'dataloader';
import type { EntityManager, EntityTarget, ObjectLiteral } from 'typeorm';
import { decodeCursor, encodeCursor, pageSize, type ConnectionShape, type InTransaction } from '../common/connection';

export interface PageKey {
  parentId: string;
  first?: number | null;
  after?: string | null;
}

export interface PartitionedPageSpec<E extends ObjectLiteral> {
  entity: EntityTarget<E>;
  table: string;
  /** The parent's column, e.g. 'dataset_id'. */
  parentColumn: string;
  parentOf: (row: E) => string;
  /** Keyset order as SQL with `{a}` for the table alias, ascending, unique together with the parent. */
  columns: string[];
  key: (row: E) => (string | number)[];
  /** Narrows the rows further (SQL with `{a}`), e.g. to one target type. */
  where?: string;
}

type Page<N> = Omit<ConnectionShape<N>, 'count'>;

async function fetchPages<E extends ObjectLiteral>(
  em: EntityManager, spec: PartitionedPageSpec<E>, parentIds: string[], limit: number, cursor: (string | number)[] | undefined,
): Promise<E[]> {
  const cols = (alias: string) => spec.columns.map((c) => c.replaceAll('{a}', alias));
  const params: Record<string, unknown> = { parents: parentIds, limit: limit + 1 };
  const conditions = [`x.${spec.parentColumn} = ANY(:parents)`];
  if (spec.where) conditions.push(spec.where.replaceAll('{a}', 'x'));
  if (cursor) {
    cursor.forEach((v, i) => (params[`cursor_${i}`] = v));
    conditions.push(`(${cols('x').join(', ')}) > (${cursor.map((_, i) => `:cursor_${i}`).join(', ')})`);
  }
  // The outer filter on the parents repeats the inner one on purpose: without it PostgreSQL
  // plans the IN as a scan of the whole table, every tenant's rows (bench/graphql-read).
  const qb = em.createQueryBuilder(spec.entity, 'p').where(
    `p.${spec.parentColumn} = ANY(:parents) AND p.id IN (SELECT s.id FROM (
       SELECT x.id, row_number() OVER (PARTITION BY x.${spec.parentColumn} ORDER BY ${cols('x').join(', ')}) AS rn
         FROM ${spec.table} x WHERE ${conditions.join(' AND ')}) s
      WHERE s.rn <= :limit)`,
    params,
  );
  cols('p').forEach((c, i) => (i === 0 ? qb.orderBy(c, 'ASC') : qb.addOrderBy(c, 'ASC')));
  return qb.getMany();
}

/** A request-scoped loader of pages keyed by parent id and page arguments. */
export function createPageLoader<E extends ObjectLiteral, N>(
  run: InTransaction, spec: PartitionedPageSpec<E>, toNode: (row: E) => N,
): DataLoader<PageKey, Page<N>, string> {
  return new DataLoader<PageKey, Page<N>, string>(async (keys) => {
    // Keys that share page arguments share one query (in practice: all parents of one field).
    const groups = new Map<string, PageKey[]>();
    for (const k of keys) {
      const g = `${k.first ?? ''}|${k.after ?? ''}`;
      groups.set(g, [...(groups.get(g) ?? []), k]);
    }
    const pages = new Map<string, Page<N> | Error>();
    for (const group of groups.values()) {
      const { first, after } = group[0];
      let limit: number;
      let cursor: (string | number)[] | undefined;
      try {
        limit = pageSize(first);
        cursor = after ? decodeCursor(after, spec.columns.length) : undefined;
      } catch (err) {
        // Bad page arguments fail their own fields, not the other groups of the batch.
        for (const k of group) pages.set(pageKey(k), err as Error);
        continue;
      }
      const rows = await run((em) => fetchPages(em, spec, group.map((k) => k.parentId), limit, cursor));
      const byParent = new Map<string, E[]>();
      for (const row of rows) byParent.set(spec.parentOf(row), [...(byParent.get(spec.parentOf(row)) ?? []), row]);
      for (const k of group) {
        const all = byParent.get(k.parentId) ?? [];
        const edges = all.slice(0, limit).map((row) => ({ cursor: encodeCursor(spec.key(row)), node: toNode(row) }));
        pages.set(pageKey(k), {
          edges,
          pageInfo: {
            hasNextPage: all.length > limit,
            hasPreviousPage: Boolean(after),
            startCursor: edges[0]?.cursor ?? null,
            endCursor: edges[edges.length - 1]?.cursor ?? null,
          },
        });
      }
    }
    return keys.map((k) => pages.get(pageKey(k))!);
  }, { cacheKeyFn: pageKey });
}

function pageKey(k: PageKey): string {
  return JSON.stringify([k.parentId, k.first ?? null, k.after ?? null]);
}

/** An empty page, for parents whose rows the caller may not list. */
export function emptyPage<N>(): ConnectionShape<N> {
  return {
    edges: [],
    pageInfo: { hasNextPage: false, hasPreviousPage: false, startCursor: null, endCursor: null },
    count: async () => 0,
  };
}
