import type { MigrationInterface, QueryRunner } from 'typeorm';

// The model registry, endpoints and synchronous inference usage. Follows the conventions at the
// top of 1764403200000-create-roles-and-tenancy.ts, and mirrors the datasets' sharing model
// (1764489600000-create-datasets.ts): PRIVATE / SHARED (live grant) / ALLIANCE.
//
// Who may read what (the services check the same rules first for precise messages; RLS is the
// backstop, and makes "invisible" and "missing" the same NOT_FOUND by construction):
// - a model row: its owner, every tenant when ALLIANCE, a tenant holding a live grant when SHARED.
// - model versions: whoever can read their model (versions are immutable, there are no drafts).
// - endpoints: their owner (the deploying tenant), and every tenant that can read the endpoint's
//   model — "an endpoint is callable by a tenant iff its model is visible to it". An endpoint of
//   another tenant's PRIVATE model is therefore NOT_FOUND, exactly like a missing one.
// - blobs: additionally readable when a visible model version references them (the contract's
//   GET /v1/blobs/:id rule for models).
// - grants: the owner only (grantees read through app_granted_model_ids()).
// - usage_record: the calling tenant (charged) and the owner of the model it used, so an owner can
//   count who used its models (usageOfMyAssets). Rows are written by the caller's own request.
//
// Endpoints and usage rows point at models of other tenants: their foreign keys go to the
// parent's (id, tenant_id) or (id, model_id) pairs so a row can never claim a model owner or a
// model that is not its version's.
export class CreateModels1764662400000 implements MigrationInterface {
  name = 'CreateModels1764662400000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE model (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        task text NOT NULL CHECK (length(task) BETWEEN 1 AND 100),
        modality text NOT NULL CHECK (modality IN ('TEXT', 'IMAGE', 'AUDIO', 'VIDEO', 'MULTIMODAL', 'TENSOR')),
        visibility text NOT NULL CHECK (visibility IN ('PRIVATE', 'SHARED', 'ALLIANCE')),
        description text CHECK (description IS NULL OR length(description) <= 10000),
        license text CHECK (license IS NULL OR length(license) <= 200),
        -- Version counter: "UPDATE … SET last_version = last_version + 1 RETURNING" takes the row
        -- lock, so concurrent createModelVersion calls get 1, 2, 3 … without gaps or duplicates.
        last_version integer NOT NULL DEFAULT 0 CHECK (last_version >= 0),
        created_by uuid REFERENCES app_user (id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        UNIQUE (tenant_id, name),
        UNIQUE (id, tenant_id)
      )`);
    await q.query(`CREATE INDEX model_listing_idx ON model (created_at, id)`);
    await q.query(`CREATE INDEX model_visibility_idx ON model (visibility) WHERE visibility <> 'PRIVATE'`);

    await q.query(`
      CREATE TABLE model_version (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        model_id uuid NOT NULL,
        tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
        version integer NOT NULL CHECK (version >= 1),
        blob_id uuid NOT NULL,
        sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
        size_bytes bigint NOT NULL CHECK (size_bytes > 0),
        handler text NOT NULL CHECK (length(handler) BETWEEN 1 AND 100),
        config jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(config) = 'object'),
        inputs jsonb NOT NULL CHECK (jsonb_typeof(inputs) = 'array'),
        outputs jsonb NOT NULL CHECK (jsonb_typeof(outputs) = 'array'),
        per_item_device_seconds double precision CHECK (per_item_device_seconds IS NULL OR per_item_device_seconds >= 0),
        created_by uuid REFERENCES app_user (id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        FOREIGN KEY (model_id, tenant_id) REFERENCES model (id, tenant_id) ON DELETE CASCADE,
        -- The file is the owner's own upload. NO ACTION (checked at statement end) lets a tenant's
        -- deletion cascade to its blobs and its versions in one statement.
        FOREIGN KEY (blob_id, tenant_id) REFERENCES blob (id, tenant_id) ON DELETE NO ACTION,
        UNIQUE (model_id, version),
        UNIQUE (id, model_id)
      )`);
    await q.query(`CREATE INDEX model_version_blob_idx ON model_version (blob_id)`);

    await q.query(`
      CREATE TABLE model_grant (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        model_id uuid NOT NULL,
        tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
        grantee_tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
        purpose text CHECK (purpose IS NULL OR length(purpose) <= 500),
        expires_at timestamptz,
        created_by uuid REFERENCES app_user (id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        FOREIGN KEY (model_id, tenant_id) REFERENCES model (id, tenant_id) ON DELETE CASCADE,
        -- One grant per grantee: sharing again renews it.
        UNIQUE (model_id, grantee_tenant_id),
        CHECK (grantee_tenant_id <> tenant_id)
      )`);
    await q.query(`CREATE INDEX model_grant_grantee_idx ON model_grant (grantee_tenant_id, model_id)`);

    await q.query(`
      CREATE TABLE endpoint (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
        name text NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$'),
        model_id uuid NOT NULL,
        model_version_id uuid NOT NULL,
        status text NOT NULL DEFAULT 'DEPLOYING' CHECK (status IN ('DEPLOYING', 'READY', 'FAILED', 'STOPPED')),
        failure_reason text CHECK (failure_reason IS NULL OR length(failure_reason) <= 2000),
        accelerator text NOT NULL DEFAULT 'cpu' CHECK (accelerator ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
        min_replicas integer NOT NULL DEFAULT 1 CHECK (min_replicas BETWEEN 1 AND 64),
        max_replicas integer NOT NULL DEFAULT 1 CHECK (max_replicas BETWEEN 1 AND 64),
        max_batch_size integer NOT NULL DEFAULT 8 CHECK (max_batch_size BETWEEN 1 AND 1024),
        max_queue_delay_ms integer NOT NULL DEFAULT 5 CHECK (max_queue_delay_ms BETWEEN 0 AND 10000),
        created_by uuid REFERENCES app_user (id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        updated_at timestamptz NOT NULL DEFAULT now(),
        -- An endpoint cannot outlive its model: deleting the model's tenant takes it along.
        FOREIGN KEY (model_version_id, model_id) REFERENCES model_version (id, model_id) ON DELETE CASCADE,
        CHECK (max_replicas >= min_replicas),
        CHECK (status <> 'FAILED' OR failure_reason IS NOT NULL)
      )`);
    // One live endpoint per name and tenant; a STOPPED or FAILED one leaves its name free.
    await q.query(`CREATE UNIQUE INDEX endpoint_live_name ON endpoint (tenant_id, name) WHERE status IN ('DEPLOYING', 'READY')`);
    await q.query(`CREATE INDEX endpoint_listing_idx ON endpoint (created_at, id)`);
    await q.query(`CREATE INDEX endpoint_model_idx ON endpoint (model_id)`);
    await q.query(`CREATE INDEX endpoint_serving_idx ON endpoint (status) WHERE status IN ('DEPLOYING', 'READY')`);

    await q.query(`
      CREATE TABLE usage_record (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
        user_id uuid REFERENCES app_user (id) ON DELETE SET NULL,
        -- Usage of an endpoint goes with it: the ledger keeps the money either way.
        endpoint_id uuid NOT NULL REFERENCES endpoint (id) ON DELETE CASCADE,
        model_id uuid NOT NULL,
        owner_tenant_id uuid NOT NULL,
        bucket_start timestamptz NOT NULL CHECK (mod(extract(epoch FROM bucket_start), 60) = 0),
        requests integer NOT NULL DEFAULT 0 CHECK (requests >= 0),
        items integer NOT NULL DEFAULT 0 CHECK (items >= 0),
        device_ms double precision NOT NULL DEFAULT 0 CHECK (device_ms >= 0),
        units_milli bigint NOT NULL DEFAULT 0 CHECK (units_milli >= 0),
        -- The owner column is the model's real owner: a caller cannot file usage under another.
        FOREIGN KEY (model_id, owner_tenant_id) REFERENCES model (id, tenant_id) ON DELETE CASCADE,
        -- The upsert target: one row per caller, endpoint, user and minute.
        CONSTRAINT usage_record_bucket UNIQUE NULLS NOT DISTINCT (tenant_id, endpoint_id, user_id, bucket_start)
      )`);
    await q.query(`CREATE INDEX usage_record_tenant_idx ON usage_record (tenant_id, bucket_start)`);
    await q.query(`CREATE INDEX usage_record_owner_idx ON usage_record (owner_tenant_id, bucket_start)`);

    // --- SECURITY DEFINER helper, owned by alliance_system (whose policies are USING (true)) ---
    // Models the acting tenant holds a live grant for. "Live" is evaluated in every query, so an
    // expired grant stops working (listing, calling) without any job running.
    await q.query(`CREATE FUNCTION app_granted_model_ids() RETURNS SETOF uuid LANGUAGE sql STABLE SECURITY DEFINER
      SET search_path = public AS $$
        SELECT g.model_id FROM model_grant g
         WHERE g.grantee_tenant_id = app_tenant_id() AND (g.expires_at IS NULL OR g.expires_at > now()) $$`);
    await q.query(`ALTER FUNCTION app_granted_model_ids() OWNER TO alliance_system`);
    await q.query(`REVOKE ALL ON FUNCTION app_granted_model_ids() FROM PUBLIC`);
    await q.query(`GRANT EXECUTE ON FUNCTION app_granted_model_ids() TO alliance_app`);

    // --- row-level security ---
    for (const table of ['model', 'model_version', 'model_grant', 'endpoint', 'usage_record']) {
      await q.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
      await q.query(`ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`);
      await q.query(`CREATE POLICY ${table}_system ON ${table} TO alliance_system USING (true) WITH CHECK (true)`);
    }

    await q.query(`
      CREATE POLICY model_read ON model FOR SELECT TO alliance_app USING (
        tenant_id = app_tenant_id()
        OR (visibility = 'ALLIANCE' AND app_tenant_id() IS NOT NULL)
        OR (visibility = 'SHARED' AND id IN (SELECT app_granted_model_ids())))`);
    await q.query(`CREATE POLICY model_insert ON model FOR INSERT TO alliance_app WITH CHECK (tenant_id = app_tenant_id())`);
    await q.query(`
      CREATE POLICY model_update ON model FOR UPDATE TO alliance_app
        USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id())`);

    // Correlated EXISTS rather than IN: a lookup by id stays an index probe per row.
    await q.query(`
      CREATE POLICY model_version_read ON model_version FOR SELECT TO alliance_app USING (
        tenant_id = app_tenant_id() OR EXISTS (SELECT 1 FROM model m WHERE m.id = model_version.model_id))`);
    await q.query(`CREATE POLICY model_version_insert ON model_version FOR INSERT TO alliance_app WITH CHECK (tenant_id = app_tenant_id())`);

    await q.query(`
      CREATE POLICY model_grant_owner ON model_grant FOR ALL TO alliance_app
        USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id())`);

    await q.query(`
      CREATE POLICY endpoint_read ON endpoint FOR SELECT TO alliance_app USING (
        tenant_id = app_tenant_id() OR EXISTS (SELECT 1 FROM model m WHERE m.id = endpoint.model_id))`);
    // A tenant deploys only models it can see (its own, ALLIANCE ones, SHARED ones granted to it).
    await q.query(`
      CREATE POLICY endpoint_insert ON endpoint FOR INSERT TO alliance_app WITH CHECK (
        tenant_id = app_tenant_id() AND EXISTS (SELECT 1 FROM model m WHERE m.id = endpoint.model_id))`);
    await q.query(`
      CREATE POLICY endpoint_update ON endpoint FOR UPDATE TO alliance_app
        USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id())`);

    await q.query(`
      CREATE POLICY usage_record_read ON usage_record FOR SELECT TO alliance_app USING (
        tenant_id = app_tenant_id() OR owner_tenant_id = app_tenant_id() OR app_is_alliance_admin())`);
    await q.query(`CREATE POLICY usage_record_insert ON usage_record FOR INSERT TO alliance_app WITH CHECK (tenant_id = app_tenant_id())`);
    await q.query(`
      CREATE POLICY usage_record_update ON usage_record FOR UPDATE TO alliance_app
        USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id())`);

    await q.query(`
      CREATE POLICY blob_model_read ON blob FOR SELECT TO alliance_app USING (
        EXISTS (SELECT 1 FROM model_version v WHERE v.blob_id = blob.id))`);

    await q.query(`GRANT SELECT, INSERT ON model, model_version, endpoint, usage_record TO alliance_app`);
    await q.query(`GRANT UPDATE (last_version) ON model TO alliance_app`);
    await q.query(`GRANT SELECT, INSERT, DELETE ON model_grant TO alliance_app`);
    await q.query(`GRANT UPDATE (purpose, expires_at) ON model_grant TO alliance_app`);
    await q.query(`GRANT UPDATE (status, failure_reason, updated_at) ON endpoint TO alliance_app`);
    await q.query(`GRANT UPDATE (requests, items, device_ms, units_milli) ON usage_record TO alliance_app`);
    await q.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON model, model_version, model_grant, endpoint, usage_record TO alliance_system`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP POLICY blob_model_read ON blob`);
    await q.query(`DROP TABLE usage_record, endpoint, model_grant, model_version, model`);
    await q.query(`DROP FUNCTION app_granted_model_ids()`);
  }
}
