import type { MigrationInterface, QueryRunner } from 'typeorm';

// API processes cache the endpoint as a caller's tenant sees it (resolvers/endpoints/
// infer-target-cache.ts), so `infer` need not ask the database on every call. This migration
// gives that cache what it needs to stay correct:
//
// 1. A notice on every write that can change such an answer: `alliance_catalog`, empty payload
//    (catalog writes are rare; every process simply drops everything). The triggers are in the
//    schema, so seeding, the CLI, jobs, a worker's deployer and an operator's psql session all
//    announce their writes — no code path can forget to. Statement-level: a statement touching
//    many rows (a tenant's cascade) sends one notice, and PostgreSQL folds identical notices of
//    one transaction into one, delivered at commit (never for a rolled-back write).
//    What the answer reads, and so what announces:
//      endpoint       every column it returns, and visibility through its model — any write
//      model          visibility and owner decide who sees it — any write
//      model_grant    a SHARED model's visibility — any write
//      model_version  handler, and the (id, model_id, tenant_id) the join and the policies use.
//                     NOT per_item_device_seconds: the platform rewrites it every flush as it
//                     measures (model-runtime/runtime/per-item-cost.ts), which would empty every
//                     cache twice a minute; it only feeds infer's cost estimate, so the cache's
//                     short TTL is bound enough. No INSERT: a new version has no endpoint yet.
//      tenant         deleted (its models, grants and endpoints go by cascade, announced by the
//                     triggers above too; this one costs nothing and does not depend on how
//                     RI cascades fire statement triggers).
//    TRUNCATE is included wherever it applies: it fires no row or DELETE trigger.
//
// 2. app_infer_endpoint: the endpoint as the caller sees it — app_infer_target's endpoint fields
//    without the balance — plus `visible_until`: a grant expires without any write, so a SHARED
//    model's endpoint seen through the caller's grant may be cached until that grant's
//    expires_at at most. It also returns the database's `checked_at` (now()), so the cache can
//    turn visible_until into a duration on the database's own clock and never compares the API
//    host's clock with the database's.
const IDENTITY = `
    PERFORM set_config('app.user_id', p_user, true), set_config('app.tenant_id', p_tenant, true),
            set_config('app.alliance_admin', p_admin, true);`;

const TRIGGERS: { name: string; table: string; events: string }[] = [
  { name: 'endpoint_catalog_changed', table: 'endpoint', events: 'INSERT OR UPDATE OR DELETE OR TRUNCATE' },
  { name: 'model_catalog_changed', table: 'model', events: 'INSERT OR UPDATE OR DELETE OR TRUNCATE' },
  { name: 'model_grant_catalog_changed', table: 'model_grant', events: 'INSERT OR UPDATE OR DELETE OR TRUNCATE' },
  { name: 'model_version_catalog_changed', table: 'model_version', events: 'UPDATE OF id, model_id, tenant_id, handler OR DELETE OR TRUNCATE' },
  { name: 'tenant_catalog_changed', table: 'tenant', events: 'DELETE OR TRUNCATE' },
];

export class CatalogChangeNotices1765353600000 implements MigrationInterface {
  name = 'CatalogChangeNotices1765353600000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE FUNCTION notify_catalog_change() RETURNS trigger
        LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
      BEGIN
        PERFORM pg_notify('alliance_catalog', '');
        RETURN NULL;
      END $$`);
    for (const t of TRIGGERS) {
      await q.query(`CREATE TRIGGER ${t.name} AFTER ${t.events} ON ${t.table}
                       FOR EACH STATEMENT EXECUTE FUNCTION notify_catalog_change()`);
    }

    // The acting tenant's live grant's expiry for one model (NULL: no expiry, or no live grant).
    // Grantees cannot read model_grant (its policy is the owner's), so this is SECURITY DEFINER
    // as app_granted_model_ids() is, and answers about the acting tenant's own grant only: it
    // tells the grantee nothing but when its own access ends.
    await q.query(`
      CREATE FUNCTION app_model_grant_expires_at(p_model uuid) RETURNS timestamptz
        LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, public, pg_temp AS $$
        SELECT g.expires_at FROM model_grant g
         WHERE g.model_id = p_model AND g.grantee_tenant_id = app_tenant_id()
           AND (g.expires_at IS NULL OR g.expires_at > now()) $$`);
    await q.query(`ALTER FUNCTION app_model_grant_expires_at(uuid) OWNER TO alliance_system`);

    // As app_infer_target (1765094400000-hot-path-functions.ts): identity set transaction-locally,
    // SECURITY INVOKER so row-level security decides exactly as before. Joining the model adds no
    // filter (a non-owner sees the version only when it sees the model) but tells whether the
    // caller sees it through a grant: SHARED and not the caller's own.
    await q.query(`
      CREATE FUNCTION app_infer_endpoint(p_user text, p_tenant text, p_admin text, p_endpoint uuid)
        RETURNS TABLE (id uuid, name text, status text, failure_reason text, accelerator text,
                       model_version_id uuid, handler text, per_item_device_seconds double precision,
                       model_id uuid, owner_tenant_id uuid, visible_until timestamptz, checked_at timestamptz)
        LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, public, pg_temp AS $$
      #variable_conflict use_column
      BEGIN ${IDENTITY}
        RETURN QUERY
          SELECT e.id, e.name::text, e.status::text, e.failure_reason::text, e.accelerator::text,
                 e.model_version_id, v.handler::text, v.per_item_device_seconds, v.model_id, v.tenant_id,
                 CASE WHEN m.visibility = 'SHARED' AND v.tenant_id IS DISTINCT FROM nullif(p_tenant, '')::uuid
                      THEN app_model_grant_expires_at(v.model_id) END,
                 now()
            FROM endpoint e
            JOIN model_version v ON v.id = e.model_version_id
            JOIN model m ON m.id = v.model_id
           WHERE e.id = p_endpoint;
      END $$`);

    for (const fn of ['app_model_grant_expires_at(uuid)', 'app_infer_endpoint(text, text, text, uuid)']) {
      await q.query(`REVOKE ALL ON FUNCTION ${fn} FROM PUBLIC`);
      await q.query(`GRANT EXECUTE ON FUNCTION ${fn} TO alliance_app`);
    }
    // A trigger function cannot be called directly, and firing does not check EXECUTE; revoked
    // all the same, as the conventions grant nothing to PUBLIC.
    await q.query(`REVOKE ALL ON FUNCTION notify_catalog_change() FROM PUBLIC`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION app_infer_endpoint(text, text, text, uuid)`);
    await q.query(`DROP FUNCTION app_model_grant_expires_at(uuid)`);
    for (const t of [...TRIGGERS].reverse()) await q.query(`DROP TRIGGER ${t.name} ON ${t.table}`);
    await q.query(`DROP FUNCTION notify_catalog_change()`);
  }
}
