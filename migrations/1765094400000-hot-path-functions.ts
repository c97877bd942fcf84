import type { MigrationInterface, QueryRunner } from 'typeorm';

// The request path's hottest statements, each as one round trip (issue 4's added-latency target).
// A scoped transaction costs four round trips before any work (BEGIN, the identity settings, the
// statement, COMMIT), and on a busy 2-core machine each is 0.3–1 ms. These functions take the
// request's identity as their first three arguments, set it transaction-locally exactly as
// TenantDatabase.withIdentity does, and run as the caller (SECURITY INVOKER): row-level security
// applies unchanged, and they grant nothing the app role could not already do statement by
// statement. Called outside any transaction (TenantDatabase.callScoped), the statement is its
// own transaction, so the settings end with it. plpgsql caches each statement's plan per
// connection, which also saves the planning that row-level security makes expensive.
//
// Membership changes are announced (alliance_membership, the user's id; '*' when a tenant's slug
// changes or it goes) so API processes can cache who belongs where (tenants/identity.ts).
const IDENTITY = `
    PERFORM set_config('app.user_id', p_user, true), set_config('app.tenant_id', p_tenant, true),
            set_config('app.alliance_admin', p_admin, true);`;

// Exported for 1765612800000-drop-superseded-hot-path-functions.ts, whose down() restores them.
export const RATE_LIMIT_CHARGE_SQL = `
      CREATE FUNCTION app_rate_limit_charge(p_user text, p_tenant text, p_admin text,
          p_subject_type text, p_subject_id uuid, p_cost integer, p_default integer)
        RETURNS TABLE (points integer, window_start timestamptz, used integer, admitted boolean)
        LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, public, pg_temp AS $$
      #variable_conflict use_column
      DECLARE
        v_points integer;
        v_start timestamptz := date_trunc('hour', now());
        v_used integer;
      BEGIN ${IDENTITY}
        PERFORM set_config('synchronous_commit', 'off', true);
        SELECT coalesce((SELECT s.points_per_hour FROM rate_limit_setting s
                          WHERE p_subject_type = 'TENANT' AND s.tenant_id = p_subject_id), p_default)
          INTO v_points;
        IF p_cost <= v_points THEN
          INSERT INTO rate_limit_usage AS u (subject_type, subject_id, window_start, used)
          VALUES (p_subject_type, p_subject_id, v_start, p_cost)
          ON CONFLICT (subject_type, subject_id, window_start) DO UPDATE
            SET used = u.used + EXCLUDED.used WHERE u.used + EXCLUDED.used <= v_points
          RETURNING u.used INTO v_used;
        END IF;
        IF v_used IS NOT NULL THEN
          RETURN QUERY SELECT v_points, v_start, v_used, true;
          RETURN;
        END IF;
        -- Refused. This statement sees what concurrent charges committed meanwhile, so the
        -- remaining points reported are current.
        RETURN QUERY SELECT v_points, v_start,
          coalesce((SELECT u.used FROM rate_limit_usage u WHERE u.subject_type = p_subject_type
                       AND u.subject_id = p_subject_id AND u.window_start = v_start), 0), false;
      END $$`;

export const INFER_TARGET_SQL = `
      CREATE FUNCTION app_infer_target(p_user text, p_tenant text, p_admin text, p_endpoint uuid, p_period text)
        RETURNS TABLE (id uuid, name text, status text, failure_reason text, accelerator text,
                       model_version_id uuid, handler text, per_item_device_seconds double precision,
                       model_id uuid, owner_tenant_id uuid,
                       granted_milli bigint, reserved_milli bigint, used_milli bigint)
        LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, public, pg_temp AS $$
      #variable_conflict use_column
      BEGIN ${IDENTITY}
        RETURN QUERY
          SELECT e.id, e.name::text, e.status::text, e.failure_reason::text, e.accelerator::text,
                 e.model_version_id, v.handler::text, v.per_item_device_seconds, v.model_id, v.tenant_id,
                 b.granted_milli, b.reserved_milli, b.used_milli
            FROM endpoint e
            JOIN model_version v ON v.id = e.model_version_id
            LEFT JOIN quota_balance b ON b.tenant_id = nullif(p_tenant, '')::uuid AND b.period = p_period
           WHERE e.id = p_endpoint;
      END $$`;

export const INFER_CHARGE_SQL = `
      CREATE FUNCTION app_infer_charge(p_user text, p_tenant text, p_admin text, p_period text,
          p_milli bigint, p_key text, p_memo text, p_endpoint uuid, p_model uuid, p_owner uuid,
          p_bucket timestamptz, p_items integer, p_device_ms double precision, p_notify boolean)
        RETURNS bigint
        LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, public, pg_temp AS $$
      DECLARE
        v_tenant uuid := p_tenant::uuid;
        v_available bigint;
        v_charge bigint;
      BEGIN ${IDENTITY}
        SELECT b.granted_milli - b.reserved_milli - b.used_milli INTO v_available
          FROM quota_balance b WHERE b.tenant_id = v_tenant AND b.period = p_period FOR UPDATE;
        IF NOT FOUND THEN RETURN NULL; END IF;
        v_charge := least(p_milli, greatest(v_available, 0));
        IF v_charge > 0 THEN
          INSERT INTO ledger_entry (tenant_id, period, kind, units_milli, job_id, entry_key, memo)
          VALUES (v_tenant, p_period, 'CAPTURE', v_charge, NULL, p_key, p_memo)
          ON CONFLICT (entry_key) DO NOTHING;
          IF NOT FOUND THEN RETURN 0; END IF; -- this request was charged already
          UPDATE quota_balance b SET used_milli = b.used_milli + v_charge
           WHERE b.tenant_id = v_tenant AND b.period = p_period;
          IF p_notify THEN PERFORM pg_notify('alliance_quota', p_tenant); END IF;
        END IF;
        INSERT INTO usage_record AS r (tenant_id, user_id, endpoint_id, model_id, owner_tenant_id, bucket_start,
                                       requests, items, device_ms, units_milli)
        VALUES (v_tenant, nullif(p_user, '')::uuid, p_endpoint, p_model, p_owner, p_bucket, 1, p_items, p_device_ms, v_charge)
        ON CONFLICT ON CONSTRAINT usage_record_bucket DO UPDATE SET
          requests = r.requests + 1, items = r.items + EXCLUDED.items,
          device_ms = r.device_ms + EXCLUDED.device_ms, units_milli = r.units_milli + EXCLUDED.units_milli;
        RETURN v_charge;
      END $$`;

export class HotPathFunctions1765094400000 implements MigrationInterface {
  name = 'HotPathFunctions1765094400000';

  async up(q: QueryRunner): Promise<void> {
    // tenants/rate-limiter.ts: spend `p_cost` points of the subject's hourly budget, or refuse
    // without spending any. The conflicting row's lock serialises concurrent charges; the
    // update's WHERE refuses an overdraft, so the last points cannot be spent twice.
    // Committed asynchronously: waiting for the WAL flush was most of this call's time (≈1 ms
    // of 1.5 here), and a counter of an hourly window may lose its last few hundred
    // milliseconds of spending if PostgreSQL itself crashes — every process still sees the
    // same committed count, so the budget stays shared and exact while the server runs.
    // (The ledger's charges, app_infer_charge, keep synchronous commits: they are money.)
    await q.query(RATE_LIMIT_CHARGE_SQL);

    // resolvers/endpoints/inference.service.ts: the endpoint as the caller sees it (own, or its
    // model visible) with the caller's balance for the period (NULLs when the period has none yet).
    await q.query(INFER_TARGET_SQL);

    // resolvers/endpoints/usage-meter.ts: charge one synchronous request. The balance row is
    // locked, the charge clamped to what is available (the balance may never go negative; see
    // usage-meter.ts on overdraft), a CAPTURE posted under the request's unique key (posting it
    // twice charges once), and the request added to its usage bucket. Returns the milli-units
    // charged, or NULL when the period has no balance yet (the caller opens it and retries).
    await q.query(INFER_CHARGE_SQL);

    await q.query(`
      CREATE FUNCTION notify_membership_change() RETURNS trigger
        LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
      BEGIN
        IF TG_TABLE_NAME = 'membership' THEN
          IF TG_OP <> 'INSERT' THEN PERFORM pg_notify('alliance_membership', OLD.user_id::text); END IF;
          IF TG_OP <> 'DELETE' THEN PERFORM pg_notify('alliance_membership', NEW.user_id::text); END IF;
        ELSE
          PERFORM pg_notify('alliance_membership', '*');
        END IF;
        RETURN NULL;
      END $$`);
    await q.query(`CREATE TRIGGER membership_changed AFTER INSERT OR UPDATE OR DELETE ON membership
                     FOR EACH ROW EXECUTE FUNCTION notify_membership_change()`);
    await q.query(`CREATE TRIGGER tenant_slug_changed AFTER UPDATE OF slug OR DELETE ON tenant
                     FOR EACH ROW EXECUTE FUNCTION notify_membership_change()`);

    await grantHotPathFunctions(q);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER tenant_slug_changed ON tenant`);
    await q.query(`DROP TRIGGER membership_changed ON membership`);
    await q.query(`DROP FUNCTION notify_membership_change()`);
    await q.query(`DROP FUNCTION app_infer_charge(text, text, text, text, bigint, text, text, uuid, uuid, uuid, timestamptz, integer, double precision, boolean)`);
    await q.query(`DROP FUNCTION app_infer_target(text, text, text, uuid, text)`);
    await q.query(`DROP FUNCTION app_rate_limit_charge(text, text, text, text, uuid, integer, integer)`);
  }
}

export const HOT_PATH_SIGNATURES = ['app_rate_limit_charge(text, text, text, text, uuid, integer, integer)',
  'app_infer_target(text, text, text, uuid, text)',
  'app_infer_charge(text, text, text, text, bigint, text, text, uuid, uuid, uuid, timestamptz, integer, double precision, boolean)'];

export async function grantHotPathFunctions(q: QueryRunner): Promise<void> {
  for (const fn of HOT_PATH_SIGNATURES) {
    await q.query(`REVOKE ALL ON FUNCTION ${fn} FROM PUBLIC`);
    await q.query(`GRANT EXECUTE ON FUNCTION ${fn} TO alliance_app`);
  }
}
