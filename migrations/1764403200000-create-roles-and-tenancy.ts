import type { MigrationInterface, QueryRunner } from 'typeorm';

// Database conventions (every later migration follows them):
// - every tenant-owned table has ENABLE + FORCE ROW LEVEL SECURITY, a policy for alliance_app
//   scoped by app_tenant_id(), and a policy for alliance_system (explicit system work);
// - every foreign key says what happens on delete;
// - grants name the roles and tables explicitly; nothing is granted to PUBLIC;
// - timestamps used as pagination keys are truncated to milliseconds, so a cursor that went
//   through a JavaScript Date compares exactly with the stored value.
// The roles are cluster-wide and NOLOGIN here; start-up gives them a login and password
// (tenants/database-roles.ts), so no secret ever lives in a migration.
export class CreateRolesAndTenancy1764403200000 implements MigrationInterface {
  name = 'CreateRolesAndTenancy1764403200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      DO $$ BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'alliance_app') THEN
          CREATE ROLE alliance_app NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'alliance_system') THEN
          CREATE ROLE alliance_system NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
        END IF;
      END $$`);
    await q.query(`REVOKE ALL ON SCHEMA public FROM PUBLIC`);
    await q.query(`GRANT USAGE ON SCHEMA public TO alliance_app, alliance_system`);

    // The request's identity, set per transaction by tenants/tenant-transaction.ts.
    await q.query(`
      CREATE FUNCTION app_tenant_id() RETURNS uuid LANGUAGE sql STABLE AS
        $$ SELECT NULLIF(current_setting('app.tenant_id', true), '')::uuid $$`);
    await q.query(`
      CREATE FUNCTION app_user_id() RETURNS uuid LANGUAGE sql STABLE AS
        $$ SELECT NULLIF(current_setting('app.user_id', true), '')::uuid $$`);
    await q.query(`
      CREATE FUNCTION app_is_alliance_admin() RETURNS boolean LANGUAGE sql STABLE AS
        $$ SELECT coalesce(current_setting('app.alliance_admin', true), '') = 'on' $$`);

    await q.query(`CREATE TYPE tenant_role AS ENUM ('OWNER', 'ADMIN', 'MEMBER', 'VIEWER')`);

    await q.query(`
      CREATE TABLE tenant (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,38}[a-z0-9])?$'),
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now())
      )`);
    await q.query(`
      CREATE TABLE app_user (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        subject text NOT NULL UNIQUE,
        username text NOT NULL UNIQUE,
        created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        last_seen_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`
      CREATE TABLE membership (
        tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
        user_id uuid NOT NULL REFERENCES app_user (id) ON DELETE CASCADE,
        role tenant_role NOT NULL,
        created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        PRIMARY KEY (tenant_id, user_id)
      )`);
    await q.query(`CREATE INDEX membership_user_idx ON membership (user_id)`);
    await q.query(`
      CREATE TABLE audit_event (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
        actor_user_id uuid REFERENCES app_user (id) ON DELETE SET NULL,
        action text NOT NULL,
        target_type text,
        target_id uuid,
        details jsonb NOT NULL DEFAULT '{}'::jsonb,
        at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX audit_event_tenant_at_idx ON audit_event (tenant_id, at DESC, id)`);
    await q.query(`CREATE INDEX audit_event_target_idx ON audit_event (target_id)`);

    // Tenants the signed-in user belongs to, whichever tenant it acts as. SECURITY DEFINER owned
    // by alliance_system so the membership policy can use it without recursing into itself.
    await q.query(`
      CREATE FUNCTION app_user_tenant_ids() RETURNS SETOF uuid LANGUAGE sql STABLE SECURITY DEFINER
        SET search_path = public AS
        $$ SELECT tenant_id FROM membership WHERE user_id = app_user_id() $$`);
    await q.query(`ALTER FUNCTION app_user_tenant_ids() OWNER TO alliance_system`);
    await q.query(`REVOKE ALL ON FUNCTION app_user_tenant_ids() FROM PUBLIC`);
    await q.query(`GRANT EXECUTE ON FUNCTION app_user_tenant_ids() TO alliance_app`);

    for (const table of ['tenant', 'app_user', 'membership', 'audit_event']) {
      await q.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
      await q.query(`ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`);
      await q.query(`CREATE POLICY ${table}_system ON ${table} TO alliance_system USING (true) WITH CHECK (true)`);
    }

    // A tenant row is visible to its members (whichever tenant they act as) and to admins.
    await q.query(`
      CREATE POLICY tenant_member_read ON tenant FOR SELECT TO alliance_app USING (
        id = app_tenant_id() OR app_is_alliance_admin() OR id IN (SELECT app_user_tenant_ids()))`);
    await q.query(`CREATE POLICY tenant_admin_write ON tenant FOR INSERT TO alliance_app WITH CHECK (app_is_alliance_admin())`);

    // Users are a directory (id, username), readable by every signed-in member; they are
    // written only by system work (provisioning on first sign-in).
    await q.query(`CREATE POLICY app_user_read ON app_user FOR SELECT TO alliance_app USING (app_user_id() IS NOT NULL)`);

    // Memberships: those of every tenant the user belongs to (to choose a tenant, to see
    // colleagues), and an admin's view.
    await q.query(`
      CREATE POLICY membership_read ON membership FOR SELECT TO alliance_app USING (
        tenant_id = app_tenant_id() OR tenant_id IN (SELECT app_user_tenant_ids()) OR app_is_alliance_admin())`);
    await q.query(`
      CREATE POLICY membership_write ON membership FOR ALL TO alliance_app
        USING (tenant_id = app_tenant_id() OR app_is_alliance_admin())
        WITH CHECK (tenant_id = app_tenant_id() OR app_is_alliance_admin())`);

    await q.query(`
      CREATE POLICY audit_event_tenant ON audit_event FOR SELECT TO alliance_app USING (tenant_id = app_tenant_id())`);
    await q.query(`
      CREATE POLICY audit_event_append ON audit_event FOR INSERT TO alliance_app
        WITH CHECK (tenant_id = app_tenant_id() OR app_is_alliance_admin())`);

    await q.query(`GRANT SELECT, INSERT ON tenant TO alliance_app`);
    await q.query(`GRANT SELECT ON app_user TO alliance_app`);
    await q.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON membership TO alliance_app`);
    await q.query(`GRANT SELECT, INSERT ON audit_event TO alliance_app`);
    await q.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON tenant, app_user, membership, audit_event TO alliance_system`);
    // /readyz compares applied migrations with the build's list as the app role.
    await q.query(`GRANT SELECT ON migrations TO alliance_app, alliance_system`);
    await q.query(`GRANT EXECUTE ON FUNCTION app_tenant_id(), app_user_id(), app_is_alliance_admin() TO alliance_app, alliance_system`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE audit_event, membership, app_user, tenant`);
    await q.query(`DROP TYPE tenant_role`);
    await q.query(`DROP FUNCTION app_user_tenant_ids(), app_tenant_id(), app_user_id(), app_is_alliance_admin()`);
    // The roles are cluster-wide and may serve other databases; they are left in place.
  }
}
