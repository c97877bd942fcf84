import type { MigrationInterface, QueryRunner } from 'typeorm';

// Batch jobs on the shared cluster (DESIGN.md "Jobs, cluster and quota").
// - device: a slot of an accelerator kind on a worker node, kept alive by heartbeats. The
//   cluster is shared infrastructure: every member may read it; only system work writes it.
// - job: what a member submitted; its money is in the ledger (reserved/charged here are caches
//   of the ledger's job sums, updated in the same transactions).
// - job_shard: the unit of scheduling, retry and charging. `attempt` is a fencing token: a
//   shard re-dispatched after a lost lease gets a new attempt, and only the holder of the current
//   attempt can commit it — a zombie worker's late result is refused, never recorded twice.
// - job_result: one row per item, written with its shard's commit.
// - job_event: every state change and progress step, seq per job, for replay without gaps.
// - fair_share_usage: each tenant's decayed slot-seconds (Slurm's fair-share usage: allocated
//   resources × wall time; billing, by contrast, uses measured device time).
export class CreateJobs1764835200000 implements MigrationInterface {
  name = 'CreateJobs1764835200000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TYPE job_status AS ENUM ('PENDING', 'QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED')`);
    await q.query(`CREATE TYPE shard_status AS ENUM ('PENDING', 'DISPATCHED', 'RUNNING', 'DONE', 'CANCELLED')`);
    await q.query(`
      CREATE TABLE device (
        id uuid PRIMARY KEY,
        node text NOT NULL CHECK (length(node) BETWEEN 1 AND 200),
        kind text NOT NULL CHECK (kind ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
        slot integer NOT NULL CHECK (slot >= 0),
        registered_at timestamptz NOT NULL DEFAULT now(),
        last_heartbeat_at timestamptz NOT NULL DEFAULT now(),
        UNIQUE (node, kind, slot)
      )`);
    await q.query(`
      CREATE TABLE job (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
        submitted_by uuid REFERENCES app_user (id) ON DELETE SET NULL,
        endpoint_id uuid NOT NULL REFERENCES endpoint (id) ON DELETE RESTRICT,
        dataset_version_id uuid REFERENCES dataset_version (id) ON DELETE RESTRICT,
        accelerator text NOT NULL,
        status job_status NOT NULL DEFAULT 'PENDING',
        priority integer NOT NULL DEFAULT 0 CHECK (priority BETWEEN -100 AND 100),
        pending_reason text,
        total_items integer NOT NULL CHECK (total_items > 0),
        done_items integer NOT NULL DEFAULT 0 CHECK (done_items >= 0),
        failed_items integer NOT NULL DEFAULT 0 CHECK (failed_items >= 0),
        estimate_device_seconds double precision NOT NULL CHECK (estimate_device_seconds >= 0),
        estimate_milli bigint NOT NULL CHECK (estimate_milli >= 0),
        reserved_milli bigint NOT NULL DEFAULT 0 CHECK (reserved_milli >= 0),
        charged_milli bigint NOT NULL DEFAULT 0 CHECK (charged_milli >= 0),
        period text NOT NULL,
        attempts integer NOT NULL DEFAULT 0,
        error text,
        idempotency_key text CHECK (idempotency_key IS NULL OR length(idempotency_key) BETWEEN 1 AND 200),
        input_hash text NOT NULL,
        inputs jsonb,
        created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        started_at timestamptz,
        finished_at timestamptz,
        CHECK (done_items + failed_items <= total_items),
        UNIQUE (tenant_id, idempotency_key),
        UNIQUE (id, tenant_id)
      )`);
    await q.query(`CREATE INDEX job_tenant_created_idx ON job (tenant_id, created_at, id)`);
    await q.query(`CREATE INDEX job_active_idx ON job (status) WHERE status IN ('PENDING', 'QUEUED', 'RUNNING')`);
    await q.query(`CREATE INDEX job_dataset_version_idx ON job (dataset_version_id) WHERE dataset_version_id IS NOT NULL`);
    await q.query(`CREATE INDEX job_endpoint_idx ON job (endpoint_id)`);
    await q.query(`
      CREATE TABLE job_shard (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        job_id uuid NOT NULL,
        tenant_id uuid NOT NULL,
        shard_index integer NOT NULL CHECK (shard_index >= 0),
        item_from integer NOT NULL CHECK (item_from >= 0),
        item_to integer NOT NULL,
        status shard_status NOT NULL DEFAULT 'PENDING',
        attempt integer NOT NULL DEFAULT 0,
        device_id uuid REFERENCES device (id) ON DELETE SET NULL,
        node text,
        lease_expires_at timestamptz,
        device_seconds double precision,
        charged_milli bigint,
        dispatched_at timestamptz,
        finished_at timestamptz,
        CHECK (item_to > item_from),
        FOREIGN KEY (job_id, tenant_id) REFERENCES job (id, tenant_id) ON DELETE CASCADE,
        UNIQUE (job_id, shard_index)
      )`);
    await q.query(`CREATE INDEX job_shard_pending_idx ON job_shard (job_id, shard_index) WHERE status = 'PENDING'`);
    await q.query(`CREATE INDEX job_shard_active_idx ON job_shard (status, lease_expires_at) WHERE status IN ('DISPATCHED', 'RUNNING')`);
    await q.query(`
      CREATE TABLE job_result (
        job_id uuid NOT NULL,
        tenant_id uuid NOT NULL,
        item_index integer NOT NULL CHECK (item_index >= 0),
        item_id uuid,
        output jsonb,
        error text,
        PRIMARY KEY (job_id, item_index),
        FOREIGN KEY (job_id, tenant_id) REFERENCES job (id, tenant_id) ON DELETE CASCADE
      )`);
    await q.query(`
      CREATE TABLE job_event (
        job_id uuid NOT NULL,
        tenant_id uuid NOT NULL,
        seq integer NOT NULL CHECK (seq >= 1),
        type text NOT NULL,
        status job_status NOT NULL,
        total integer NOT NULL,
        done integer NOT NULL,
        failed integer NOT NULL,
        message text,
        at timestamptz NOT NULL DEFAULT clock_timestamp(),
        PRIMARY KEY (job_id, seq),
        FOREIGN KEY (job_id, tenant_id) REFERENCES job (id, tenant_id) ON DELETE CASCADE
      )`);
    await q.query(`CREATE INDEX job_event_tenant_idx ON job_event (tenant_id, at)`);
    await q.query(`
      CREATE TABLE fair_share_usage (
        tenant_id uuid PRIMARY KEY REFERENCES tenant (id) ON DELETE CASCADE,
        decayed_slot_seconds double precision NOT NULL DEFAULT 0 CHECK (decayed_slot_seconds >= 0),
        updated_at timestamptz NOT NULL DEFAULT now()
      )`);

    for (const table of ['device', 'job', 'job_shard', 'job_result', 'job_event', 'fair_share_usage']) {
      await q.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
      await q.query(`ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`);
      await q.query(`CREATE POLICY ${table}_system ON ${table} TO alliance_system USING (true) WITH CHECK (true)`);
    }
    // The cluster view is shared: every signed-in member sees devices (no tenant data in them).
    await q.query(`CREATE POLICY device_read ON device FOR SELECT TO alliance_app USING (app_user_id() IS NOT NULL)`);
    for (const table of ['job', 'job_shard', 'job_result', 'job_event', 'fair_share_usage']) {
      await q.query(`CREATE POLICY ${table}_tenant_read ON ${table} FOR SELECT TO alliance_app
        USING (tenant_id = app_tenant_id() OR app_is_alliance_admin())`);
    }
    // Request code submits and cancels its own tenant's jobs; workers (system) do the rest.
    for (const table of ['job', 'job_shard', 'job_event']) {
      await q.query(`CREATE POLICY ${table}_tenant_write ON ${table} FOR INSERT TO alliance_app WITH CHECK (tenant_id = app_tenant_id())`);
    }
    await q.query(`CREATE POLICY job_tenant_update ON job FOR UPDATE TO alliance_app
      USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id())`);
    await q.query(`CREATE POLICY job_shard_tenant_update ON job_shard FOR UPDATE TO alliance_app
      USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id())`);

    // pg-boss (the shard queue) keeps its own schema and creates a partition per queue as it
    // goes; it runs as alliance_system, which therefore owns that schema. It gets no more than
    // the right to create schemas here — our tables stay the owner's, under RLS.
    await q.query(`DO $$ BEGIN EXECUTE format('GRANT CREATE ON DATABASE %I TO alliance_system', current_database()); END $$`);
    // Which devices are busy is cluster state every member may see, but the shards that make
    // them busy belong to tenants: this function tells the one without the other.
    await q.query(`
      CREATE FUNCTION cluster_busy_devices() RETURNS SETOF uuid LANGUAGE sql STABLE SECURITY DEFINER
        SET search_path = public AS
        $$ SELECT DISTINCT device_id FROM job_shard WHERE status IN ('DISPATCHED', 'RUNNING') AND device_id IS NOT NULL $$`);
    await q.query(`ALTER FUNCTION cluster_busy_devices() OWNER TO alliance_system`);
    await q.query(`REVOKE ALL ON FUNCTION cluster_busy_devices() FROM PUBLIC`);
    await q.query(`GRANT EXECUTE ON FUNCTION cluster_busy_devices() TO alliance_app`);
    await q.query(`GRANT SELECT ON device TO alliance_app`);
    await q.query(`GRANT SELECT, INSERT, UPDATE ON job, job_shard TO alliance_app`);
    await q.query(`GRANT SELECT ON job_result, fair_share_usage TO alliance_app`);
    await q.query(`GRANT SELECT, INSERT ON job_event TO alliance_app`);
    await q.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON device, job, job_shard, job_result, job_event, fair_share_usage TO alliance_system`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION cluster_busy_devices()`);
    await q.query(`DROP TABLE fair_share_usage, job_event, job_result, job_shard, job, device`);
    await q.query(`DO $$ BEGIN EXECUTE format('REVOKE CREATE ON DATABASE %I FROM alliance_system', current_database()); END $$`);
    await q.query(`DROP TYPE shard_status`);
    await q.query(`DROP TYPE job_status`);
  }
}
