import type { MigrationInterface, QueryRunner } from 'typeorm';

// SECURITY DEFINER functions resolve names through search_path, and PostgreSQL looks in the
// session's temporary schema first unless pg_temp is named — so a session could shadow a table
// such as dataset_grant with a temporary one and steer a definer function's answer (found by
// bench/graphql-read's RLS review). Every definer function now searches pg_catalog, public, then
// pg_temp last; and no role may create temporary tables in this database at all.
export class HardenDefinerFunctions1765008000000 implements MigrationInterface {
  name = 'HardenDefinerFunctions1765008000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      DO $$ DECLARE f regprocedure; BEGIN
        FOR f IN SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                  WHERE n.nspname = 'public' AND p.prosecdef LOOP
          EXECUTE format('ALTER FUNCTION %s SET search_path = pg_catalog, public, pg_temp', f);
        END LOOP;
        EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database());
      END $$`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`
      DO $$ DECLARE f regprocedure; BEGIN
        FOR f IN SELECT p.oid::regprocedure FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
                  WHERE n.nspname = 'public' AND p.prosecdef LOOP
          EXECUTE format('ALTER FUNCTION %s SET search_path = public', f);
        END LOOP;
        EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO PUBLIC', current_database());
      END $$`);
  }
}
