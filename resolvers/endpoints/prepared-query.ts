// Named prepared statements for the hottest statements of `infer`. TypeORM sends every query as
// an unnamed statement that PostgreSQL plans on each execution; with row-level security the
// endpoint lookup costs more to plan than to run (measured: ~1 ms planning, ~0.3 ms execution).
// node-postgres parses a named statement once per connection and reuses it, and PostgreSQL
// moves to a generic plan after five executions — valid for every tenant, because the policies'
// current_setting() calls are evaluated at execution time, not baked into the plan.
// Requires session-level connections (true here); behind PgBouncer in transaction mode it needs
// PgBouncer ≥ 1.21 with max_prepared_statements. A candidate for tenants/sql.ts if others need it.
import type { EntityManager } from 'typeorm';

interface PgClient {
  query<T>(config: { name: string; text: string; values: unknown[] }): Promise<{ rows: T[] }>;
}

export async function preparedQuery<T>(em: EntityManager, name: string, text: string, values: unknown[]): Promise<T[]> {
  // Inside a transaction the runner holds the connection the transaction runs on.
  if (!em.queryRunner) return em.query(text, values);
  const client = (await em.queryRunner.connect()) as PgClient;
  return (await client.query<T>({ name, text, values })).rows;
}
