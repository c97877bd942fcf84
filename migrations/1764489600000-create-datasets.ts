import type { MigrationInterface, QueryRunner } from 'typeorm';

// Shared datasets: blobs, datasets, immutable versions and their items, grants, access requests.
// Follows the conventions at the top of 1764403200000-create-roles-and-tenancy.ts.
//
// Who may read what (the policies below; the services check the same rules first so that users
// get precise messages, RLS is the backstop that holds even when a query forgets its WHERE):
// - a dataset row: its owner, every tenant when ALLIANCE, a tenant holding a live grant when
//   SHARED. "Live" is `expires_at IS NULL OR expires_at > now()`, evaluated in every query, so an
//   expired grant stops working without any job running.
// - versions: the owner (drafts too); others only published versions of datasets they can read.
// - items: whoever can read their version. Blobs: the uploading tenant, or whoever can read an
//   item referencing the blob.
// - grants: the owner only (grantees read through app_granted_dataset_ids()).
// - access requests: the owner of the dataset and the requesting tenant.
//
// Every tenant-owned child row carries the owner's tenant_id, tied to its parent by a composite
// foreign key, so policies compare one column instead of joining upwards, and a row can never
// claim a different owner than its parent (nor an item reference another tenant's blob).
//
// Enumerations are text + CHECK rather than CREATE TYPE: the model registry has its own
// modality/visibility columns, and two migrations must not race to create one shared type.
export class CreateDatasets1764489600000 implements MigrationInterface {
  name = 'CreateDatasets1764489600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE blob (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
        sha256 text NOT NULL CHECK (sha256 ~ '^[0-9a-f]{64}$'),
        size bigint NOT NULL CHECK (size >= 0),
        content_type text NOT NULL CHECK (length(content_type) BETWEEN 1 AND 255),
        uploaded_by uuid REFERENCES app_user (id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        -- Uploading the same bytes with the same type again answers the same blob (idempotent
        -- CLI re-runs); the bytes themselves are stored once whoever uploads them.
        UNIQUE (tenant_id, sha256, content_type),
        UNIQUE (id, tenant_id)
      )`);
    // For a future collector: is a stored file still referenced by any tenant?
    await q.query(`CREATE INDEX blob_sha256_idx ON blob (sha256)`);

    await q.query(`
      CREATE TABLE dataset (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
        name text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
        description text CHECK (description IS NULL OR length(description) <= 10000),
        modality text NOT NULL CHECK (modality IN ('TEXT', 'IMAGE', 'AUDIO', 'VIDEO', 'MULTIMODAL', 'TENSOR')),
        license text CHECK (license IS NULL OR length(license) <= 200),
        visibility text NOT NULL CHECK (visibility IN ('PRIVATE', 'SHARED', 'ALLIANCE')),
        -- Version counter: "UPDATE … SET last_version = last_version + 1 RETURNING" takes the row
        -- lock, so concurrent createDatasetVersion calls get 1, 2, 3 … without gaps or duplicates.
        last_version integer NOT NULL DEFAULT 0 CHECK (last_version >= 0),
        created_by uuid REFERENCES app_user (id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        UNIQUE (tenant_id, name),
        UNIQUE (id, tenant_id)
      )`);
    await q.query(`CREATE INDEX dataset_listing_idx ON dataset (created_at, id)`);
    await q.query(`CREATE INDEX dataset_visibility_idx ON dataset (visibility) WHERE visibility <> 'PRIVATE'`);

    await q.query(`
      CREATE TABLE dataset_version (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        dataset_id uuid NOT NULL,
        tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
        version integer NOT NULL CHECK (version >= 1),
        item_count integer NOT NULL DEFAULT 0 CHECK (item_count >= 0),
        size_bytes bigint NOT NULL DEFAULT 0 CHECK (size_bytes >= 0),
        published_at timestamptz,
        created_by uuid REFERENCES app_user (id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        FOREIGN KEY (dataset_id, tenant_id) REFERENCES dataset (id, tenant_id) ON DELETE CASCADE,
        UNIQUE (dataset_id, version),
        UNIQUE (id, tenant_id)
      )`);

    await q.query(`
      CREATE TABLE dataset_item (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        version_id uuid NOT NULL,
        tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
        -- Position in the version (0-based): the stable order and the pagination key.
        ordinal integer NOT NULL CHECK (ordinal >= 0),
        text text CHECK (text IS NULL OR length(text) <= 100000),
        blob_id uuid,
        metadata jsonb,
        CHECK (text IS NOT NULL OR blob_id IS NOT NULL),
        FOREIGN KEY (version_id, tenant_id) REFERENCES dataset_version (id, tenant_id) ON DELETE CASCADE,
        -- NO ACTION, not RESTRICT: deleting a tenant cascades to its blobs and its items in the same
        -- statement, and NO ACTION checks only once that statement's cascades are done.
        FOREIGN KEY (blob_id, tenant_id) REFERENCES blob (id, tenant_id) ON DELETE NO ACTION,
        UNIQUE (version_id, ordinal)
      )`);
    await q.query(`CREATE INDEX dataset_item_blob_idx ON dataset_item (blob_id) WHERE blob_id IS NOT NULL`);

    await q.query(`
      CREATE TABLE dataset_grant (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        dataset_id uuid NOT NULL,
        tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
        grantee_tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
        purpose text CHECK (purpose IS NULL OR length(purpose) <= 500),
        expires_at timestamptz,
        created_by uuid REFERENCES app_user (id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        FOREIGN KEY (dataset_id, tenant_id) REFERENCES dataset (id, tenant_id) ON DELETE CASCADE,
        -- One grant per grantee: sharing again (or approving a new request) renews it.
        UNIQUE (dataset_id, grantee_tenant_id),
        CHECK (grantee_tenant_id <> tenant_id)
      )`);
    await q.query(`CREATE INDEX dataset_grant_grantee_idx ON dataset_grant (grantee_tenant_id, dataset_id)`);

    await q.query(`
      CREATE TABLE access_request (
        id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
        dataset_id uuid NOT NULL,
        tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
        requester_tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
        requested_by uuid REFERENCES app_user (id) ON DELETE SET NULL,
        reason text NOT NULL CHECK (length(reason) BETWEEN 1 AND 2000),
        status text NOT NULL DEFAULT 'PENDING' CHECK (status IN ('PENDING', 'APPROVED', 'REJECTED')),
        note text CHECK (note IS NULL OR length(note) <= 2000),
        decided_by uuid REFERENCES app_user (id) ON DELETE SET NULL,
        decided_at timestamptz,
        grant_id uuid REFERENCES dataset_grant (id) ON DELETE SET NULL,
        created_at timestamptz NOT NULL DEFAULT date_trunc('milliseconds', now()),
        FOREIGN KEY (dataset_id, tenant_id) REFERENCES dataset (id, tenant_id) ON DELETE CASCADE,
        CHECK (requester_tenant_id <> tenant_id),
        CHECK ((status = 'PENDING') = (decided_at IS NULL))
      )`);
    // At most one PENDING request per dataset and requester, even under concurrent requests;
    // a decided one does not block asking again.
    await q.query(`
      CREATE UNIQUE INDEX access_request_one_pending ON access_request (dataset_id, requester_tenant_id)
        WHERE status = 'PENDING'`);
    await q.query(`CREATE INDEX access_request_owner_idx ON access_request (tenant_id, created_at, id)`);
    await q.query(`CREATE INDEX access_request_requester_idx ON access_request (requester_tenant_id, created_at, id)`);

    // A published version is frozen: its counters and publication time never change again. The
    // services answer CONFLICT before getting here; this makes it hold for any code path.
    await q.query(`
      CREATE FUNCTION dataset_version_frozen() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF OLD.published_at IS NOT NULL THEN
          RAISE EXCEPTION 'dataset version % is published and immutable', OLD.id
            USING ERRCODE = 'object_not_in_prerequisite_state';
        END IF;
        RETURN NEW;
      END $$`);
    await q.query(`
      CREATE TRIGGER dataset_version_frozen BEFORE UPDATE ON dataset_version
        FOR EACH ROW EXECUTE FUNCTION dataset_version_frozen()`);

    // --- SECURITY DEFINER helpers, owned by alliance_system (whose policies are USING (true)) ---

    // Datasets the acting tenant holds a live grant for. Grantees cannot read grant rows
    // themselves (grants are the owner's business); the dataset policy asks through this.
    await this.definer(q, 'app_granted_dataset_ids()', `RETURNS SETOF uuid`, `
      SELECT g.dataset_id FROM dataset_grant g
       WHERE g.grantee_tenant_id = app_tenant_id() AND (g.expires_at IS NULL OR g.expires_at > now())`);

    // The tenant directory: id, slug, name and creation time of any tenant, for any signed-in
    // user. Needed to show the owner of an ALLIANCE dataset, the grantee of a grant or the
    // requester of an access request; everything else about a tenant (members, quota) stays
    // behind the tenant policy.
    await this.definer(q, 'tenant_directory(ids uuid[], slugs text[])',
      `RETURNS TABLE (id uuid, slug text, name text, created_at timestamptz)`, `
      SELECT t.id, t.slug, t.name, t.created_at FROM tenant t
       WHERE app_user_id() IS NOT NULL AND (t.id = ANY (ids) OR t.slug = ANY (slugs))`);

    // The owner of a SHARED dataset, for requestDatasetAccess: whoever knows a SHARED dataset's
    // id may ask for it (see resolvers/datasets/dataset-sharing.service.ts). PRIVATE and missing
    // ids both answer NULL, so a request cannot tell them apart.
    await this.definer(q, 'app_shared_dataset_owner(dataset uuid)', `RETURNS uuid`, `
      SELECT d.tenant_id FROM dataset d
       WHERE d.id = dataset AND d.visibility = 'SHARED' AND app_tenant_id() IS NOT NULL`);

    // The datasets the acting tenant has asked for: their metadata only, so that the requester's
    // own AccessRequest.dataset resolves before approval. Versions, items and blobs stay hidden.
    await this.definer(q, 'app_requested_datasets(ids uuid[])', `RETURNS SETOF dataset`, `
      SELECT d.* FROM dataset d
       WHERE d.id = ANY (ids) AND d.visibility = 'SHARED'
         AND EXISTS (SELECT 1 FROM access_request r
                      WHERE r.dataset_id = d.id AND r.requester_tenant_id = app_tenant_id())`);

    // Bytes a tenant stores: each distinct content once, however often it was uploaded.
    await this.definer(q, 'tenant_blob_bytes(tenants uuid[])', `RETURNS TABLE (tenant_id uuid, bytes bigint)`, `
      SELECT t.tenant_id, coalesce(sum(t.size), 0)::bigint
        FROM (SELECT DISTINCT b.tenant_id, b.sha256, b.size FROM blob b WHERE b.tenant_id = ANY (tenants)
                AND (b.tenant_id IN (SELECT app_user_tenant_ids()) OR app_is_alliance_admin())) t
       GROUP BY t.tenant_id`);

    // --- row-level security ---
    for (const table of ['blob', 'dataset', 'dataset_version', 'dataset_item', 'dataset_grant', 'access_request']) {
      await q.query(`ALTER TABLE ${table} ENABLE ROW LEVEL SECURITY`);
      await q.query(`ALTER TABLE ${table} FORCE ROW LEVEL SECURITY`);
      await q.query(`CREATE POLICY ${table}_system ON ${table} TO alliance_system USING (true) WITH CHECK (true)`);
    }

    await q.query(`
      CREATE POLICY dataset_read ON dataset FOR SELECT TO alliance_app USING (
        tenant_id = app_tenant_id()
        OR (visibility = 'ALLIANCE' AND app_tenant_id() IS NOT NULL)
        OR (visibility = 'SHARED' AND id IN (SELECT app_granted_dataset_ids())))`);
    await q.query(`CREATE POLICY dataset_insert ON dataset FOR INSERT TO alliance_app WITH CHECK (tenant_id = app_tenant_id())`);
    await q.query(`
      CREATE POLICY dataset_update ON dataset FOR UPDATE TO alliance_app
        USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id())`);

    // Non-owners see published versions only: a draft is the owner's work in progress.
    await q.query(`
      CREATE POLICY dataset_version_read ON dataset_version FOR SELECT TO alliance_app USING (
        tenant_id = app_tenant_id()
        OR (published_at IS NOT NULL AND dataset_id IN (SELECT d.id FROM dataset d)))`);
    await q.query(`
      CREATE POLICY dataset_version_insert ON dataset_version FOR INSERT TO alliance_app
        WITH CHECK (tenant_id = app_tenant_id())`);
    await q.query(`
      CREATE POLICY dataset_version_update ON dataset_version FOR UPDATE TO alliance_app
        USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id())`);

    await q.query(`
      CREATE POLICY dataset_item_read ON dataset_item FOR SELECT TO alliance_app USING (
        tenant_id = app_tenant_id() OR version_id IN (SELECT v.id FROM dataset_version v))`);
    // Items go only into the owner's unpublished versions: publishing freezes a version here too.
    await q.query(`
      CREATE POLICY dataset_item_insert ON dataset_item FOR INSERT TO alliance_app WITH CHECK (
        tenant_id = app_tenant_id()
        AND version_id IN (SELECT v.id FROM dataset_version v
                            WHERE v.tenant_id = app_tenant_id() AND v.published_at IS NULL))`);

    await q.query(`
      CREATE POLICY blob_read ON blob FOR SELECT TO alliance_app USING (
        tenant_id = app_tenant_id() OR EXISTS (SELECT 1 FROM dataset_item i WHERE i.blob_id = blob.id))`);
    await q.query(`CREATE POLICY blob_insert ON blob FOR INSERT TO alliance_app WITH CHECK (tenant_id = app_tenant_id())`);

    await q.query(`
      CREATE POLICY dataset_grant_owner ON dataset_grant FOR ALL TO alliance_app
        USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id())`);

    await q.query(`
      CREATE POLICY access_request_read ON access_request FOR SELECT TO alliance_app USING (
        tenant_id = app_tenant_id() OR requester_tenant_id = app_tenant_id())`);
    await q.query(`
      CREATE POLICY access_request_insert ON access_request FOR INSERT TO alliance_app WITH CHECK (
        requester_tenant_id = app_tenant_id() AND status = 'PENDING'
        AND tenant_id = app_shared_dataset_owner(dataset_id))`);
    await q.query(`
      CREATE POLICY access_request_decide ON access_request FOR UPDATE TO alliance_app
        USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id())`);

    // Owners read every audit event about their datasets, including those recorded by other
    // tenants (an access request is audited in the requester's log, with the dataset as target).
    await q.query(`
      CREATE POLICY audit_event_dataset_owner ON audit_event FOR SELECT TO alliance_app USING (
        target_type = 'Dataset' AND target_id IN (SELECT d.id FROM dataset d WHERE d.tenant_id = app_tenant_id()))`);

    await q.query(`GRANT SELECT, INSERT ON blob, dataset, dataset_version, dataset_item, access_request TO alliance_app`);
    await q.query(`GRANT UPDATE (last_version) ON dataset TO alliance_app`);
    await q.query(`GRANT UPDATE (item_count, size_bytes, published_at) ON dataset_version TO alliance_app`);
    await q.query(`GRANT SELECT, INSERT, DELETE ON dataset_grant TO alliance_app`);
    await q.query(`GRANT UPDATE (purpose, expires_at) ON dataset_grant TO alliance_app`);
    await q.query(`GRANT UPDATE (status, note, decided_by, decided_at, grant_id) ON access_request TO alliance_app`);
    await q.query(`
      GRANT SELECT, INSERT, UPDATE, DELETE ON blob, dataset, dataset_version, dataset_item, dataset_grant, access_request
        TO alliance_system`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP POLICY audit_event_dataset_owner ON audit_event`);
    // Functions returning the dataset row type go before the table; those used by policies after.
    await q.query(`DROP FUNCTION app_requested_datasets(uuid[])`);
    await q.query(`DROP TABLE access_request, dataset_grant, dataset_item, dataset_version, dataset, blob`);
    await q.query(`DROP FUNCTION app_granted_dataset_ids(), tenant_directory(uuid[], text[]),
      app_shared_dataset_owner(uuid), tenant_blob_bytes(uuid[]), dataset_version_frozen()`);
  }

  /** A SECURITY DEFINER SQL function owned by alliance_system, executable by alliance_app only. */
  private async definer(q: QueryRunner, signature: string, returns: string, body: string): Promise<void> {
    await q.query(`CREATE FUNCTION ${signature} ${returns} LANGUAGE sql STABLE SECURITY DEFINER
      SET search_path = public AS $$ ${body} $$`);
    await q.query(`ALTER FUNCTION ${signature} OWNER TO alliance_system`);
    await q.query(`REVOKE ALL ON FUNCTION ${signature} FROM PUBLIC`);
    await q.query(`GRANT EXECUTE ON FUNCTION ${signature} TO alliance_app`);
  }
}
