import type { EntityManager } from 'typeorm';

/**
 * Rows of a statement with RETURNING. TypeORM answers UPDATE/DELETE … RETURNING as
 * [rows, rowCount] but INSERT … RETURNING as rows; reading `.length` of the former is always 2,
 * a bug that once let conditional quota holds "succeed". Always go through this.
 */
export async function returning<T>(em: EntityManager, sql: string, params: unknown[] = []): Promise<T[]> {
  const result = await em.query(sql, params);
  return Array.isArray(result) && result.length === 2 && Array.isArray(result[0]) && typeof result[1] === 'number'
    ? (result[0] as T[])
    : (result as T[]);
}
