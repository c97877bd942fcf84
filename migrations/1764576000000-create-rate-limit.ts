import type { MigrationInterface, QueryRunner } from 'typeorm';

// GraphQL rate limits (GitHub-style points per hour), shared by every API process through
// PostgreSQL rather than per-process memory. Follows the conventions at the top of
// 1764403200000-create-roles-and-tenancy.ts.
//
// - rate_limit_setting: an alliance admin's per-tenant override of the default hourly budget.
// - rate_limit_usage: points spent per subject and fixed hourly window. The subject is the
//   acting tenant, or the user when a caller acts without one (an alliance admin, say), so the
//   table is keyed (subject_type, subject_id) and carries no foreign key: a deleted tenant's
//   rows expire with their window and are pruned (tenants/rate-limiter.ts).
//   Charging is one statement, `INSERT … ON CONFLICT DO UPDATE SET used = used + cost WHERE
//   used + cost <= budget RETURNING used`: the row lock serialises concurrent charges from any
//   process, so two requests can never both spend the last points (no read-modify-write race).
// Request code charges inside its own RLS scope (withTenant): a caller can only ever touch the
// row of its own tenant, or of itself when it acts without a tenant.
export class CreateRateLimit1764576000000 implements MigrationInterface {
  name = 'CreateRateLimit1764576000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE rate_limit_setting (
        tenant_id uuid PRIMARY KEY REFERENCES tenant (id) ON DELETE CASCADE,
        points_per_hour integer NOT NULL CHECK (points_per_hour > 0),
        updated_by uuid REFERENCES app_user (id) ON DELETE SET NULL,
        updated_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now())
      )`);
    await q.query(`
      CREATE TABLE rate_limit_usage (
        subject_type text NOT NULL CHECK (subject_type IN ('TENANT', 'USER')),
        subject_id uuid NOT NULL,
        -- date_trunc('hour', now()) of the database clock, so every API process agrees on the
        -- window whatever its own clock says.
        window_start timestamptz NOT NULL,
        used integer NOT NULL CHECK (used >= 0),
        PRIMARY KEY (subject_type, subject_id, window_start)
      )`);
    // Pruning deletes by window across all subjects.
    await q.query(`CREATE INDEX rate_limit_usage_window_idx ON rate_limit_usage (window_start)`);

    for (const table of ['rate_limit_setting', 'rate_limit_usage']) {
      await q.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
      await q.query(`ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`);
      await q.query(`CREATE POLICY ${table}_system ON ${table} TO alliance_system USING (true) WITH CHECK (true)`);
    }
    // A tenant's members read its budget (every request does, to charge); only admins set it.
    await q.query(`
      CREATE POLICY rate_limit_setting_read ON rate_limit_setting FOR SELECT TO alliance_app
        USING (tenant_id = app_tenant_id() OR app_is_alliance_admin())`);
    await q.query(`
      CREATE POLICY rate_limit_setting_admin_write ON rate_limit_setting FOR ALL TO alliance_app
        USING (app_is_alliance_admin()) WITH CHECK (app_is_alliance_admin())`);
    // A caller spends from its acting tenant's row, or from its own row without a tenant.
    await q.query(`
      CREATE POLICY rate_limit_usage_own ON rate_limit_usage FOR ALL TO alliance_app
        USING ((subject_type = 'TENANT' AND subject_id = app_tenant_id())
            OR (subject_type = 'USER' AND subject_id = app_user_id()))
        WITH CHECK ((subject_type = 'TENANT' AND subject_id = app_tenant_id())
            OR (subject_type = 'USER' AND subject_id = app_user_id()))`);
    // Admins see any tenant's spending (setRateLimit answers with it).
    await q.query(`
      CREATE POLICY rate_limit_usage_admin_read ON rate_limit_usage FOR SELECT TO alliance_app
        USING (app_is_alliance_admin())`);

    await q.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON rate_limit_setting TO alliance_app`);
    await q.query(`GRANT SELECT, INSERT, UPDATE ON rate_limit_usage TO alliance_app`);
    await q.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON rate_limit_setting, rate_limit_usage TO alliance_system`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE rate_limit_usage, rate_limit_setting`);
  }
}
