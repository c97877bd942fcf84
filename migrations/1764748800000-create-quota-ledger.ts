import type { MigrationInterface, QueryRunner } from 'typeorm';

// Compute quota and its ledger (DESIGN.md "Jobs, cluster and quota"). Amounts are integer
// milli-units (bigint): no float ever touches money-like numbers.
//
// - quota_policy: per tenant, set by alliance admins: the monthly budget, guaranteed devices, the
//   borrow limit and the fair-share weight (Slurm GrpTRESMins + Kueue ClusterQueue).
// - ledger_entry: append-only (no UPDATE/DELETE grant to anyone at run time). Kinds:
//     GRANT   budget granted for a period            granted  +=
//     ADJUST  signed correction of the budget        granted  +=
//     RESERVE hold for an admitted job               reserved +=
//     CAPTURE measured use; with a job it consumes that job's hold (reserved -=), and always
//             counts as used (used +=)
//     RELEASE the unused rest of a job's hold         reserved -=
//   `entry_key` is unique: posting the same fact twice (a retried shard, a crashed worker's
//   re-run) is a no-op, which is what makes charging exactly-once.
// - quota_balance: the running sums per tenant and period, updated in the same transaction as
//   each entry; its CHECK keeps available (granted − reserved − used) from ever going negative,
//   whatever the concurrency. test/quota-ledger.int.spec.ts proves it equals the ledger's sums.
export class CreateQuotaLedger1764748800000 implements MigrationInterface {
  name = 'CreateQuotaLedger1764748800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE quota_policy (
        tenant_id uuid PRIMARY KEY REFERENCES tenant (id) ON DELETE CASCADE,
        budget_milli bigint NOT NULL CHECK (budget_milli >= 0),
        guaranteed_devices integer NOT NULL CHECK (guaranteed_devices >= 0),
        borrow_limit_devices integer NOT NULL CHECK (borrow_limit_devices >= 0),
        weight double precision NOT NULL DEFAULT 1 CHECK (weight > 0),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE TYPE ledger_kind AS ENUM ('GRANT', 'ADJUST', 'RESERVE', 'CAPTURE', 'RELEASE')`);
    await q.query(`
      CREATE TABLE ledger_entry (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
        period text NOT NULL CHECK (period ~ '^[0-9]{4}-[0-9]{2}$'),
        kind ledger_kind NOT NULL,
        units_milli bigint NOT NULL CHECK (kind = 'ADJUST' OR units_milli >= 0),
        job_id uuid,
        entry_key text NOT NULL UNIQUE,
        memo text,
        created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', clock_timestamp())
      )`);
    await q.query(`CREATE INDEX ledger_entry_tenant_idx ON ledger_entry (tenant_id, created_at, id)`);
    await q.query(`CREATE INDEX ledger_entry_job_idx ON ledger_entry (job_id) WHERE job_id IS NOT NULL`);
    await q.query(`
      CREATE TABLE quota_balance (
        tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
        period text NOT NULL CHECK (period ~ '^[0-9]{4}-[0-9]{2}$'),
        granted_milli bigint NOT NULL DEFAULT 0,
        reserved_milli bigint NOT NULL DEFAULT 0 CHECK (reserved_milli >= 0),
        used_milli bigint NOT NULL DEFAULT 0 CHECK (used_milli >= 0),
        PRIMARY KEY (tenant_id, period),
        CONSTRAINT quota_balance_available_non_negative CHECK (granted_milli - reserved_milli - used_milli >= 0)
      )`);

    for (const table of ['quota_policy', 'ledger_entry', 'quota_balance']) {
      await q.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
      await q.query(`ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`);
      await q.query(`CREATE POLICY ${table}_system ON ${table} TO alliance_system USING (true) WITH CHECK (true)`);
      await q.query(`CREATE POLICY ${table}_tenant_read ON ${table} FOR SELECT TO alliance_app
        USING (tenant_id = app_tenant_id() OR app_is_alliance_admin())`);
    }
    // Request code posts entries for its own tenant (sync inference, job submission); balances
    // move with them. Policies for writing mirror reading; admins set policies and grants.
    await q.query(`CREATE POLICY ledger_entry_tenant_append ON ledger_entry FOR INSERT TO alliance_app
      WITH CHECK (tenant_id = app_tenant_id() OR app_is_alliance_admin())`);
    await q.query(`CREATE POLICY quota_balance_tenant_write ON quota_balance FOR ALL TO alliance_app
      USING (tenant_id = app_tenant_id() OR app_is_alliance_admin())
      WITH CHECK (tenant_id = app_tenant_id() OR app_is_alliance_admin())`);
    await q.query(`CREATE POLICY quota_policy_admin_write ON quota_policy FOR ALL TO alliance_app
      USING (app_is_alliance_admin()) WITH CHECK (app_is_alliance_admin())`);

    await q.query(`GRANT SELECT, INSERT, UPDATE ON quota_policy TO alliance_app, alliance_system`);
    await q.query(`GRANT SELECT, INSERT ON ledger_entry TO alliance_app, alliance_system`);
    await q.query(`GRANT SELECT, INSERT, UPDATE ON quota_balance TO alliance_app, alliance_system`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE quota_balance, ledger_entry, quota_policy`);
    await q.query(`DROP TYPE ledger_kind`);
  }
}
