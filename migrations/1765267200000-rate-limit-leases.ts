import type { MigrationInterface, QueryRunner } from 'typeorm';

// Rate-limit leases (tenants/rate-limiter.ts): an API process takes a slice of a subject's hourly
// budget in one round trip and spends it in memory, instead of a round trip per operation.
// The budget stays shared and never overdrawn because every point a process may spend was first
// added to the shared row under its lock; points a process did not spend are given back.
// Conventions as in 1765094400000-hot-path-functions.ts: the caller's identity as the first three
// arguments, set transaction-locally; SECURITY INVOKER, so row-level security applies as it does
// to the statements one by one; a pinned search_path; asynchronous commit (an hourly counter may
// lose its last few hundred milliseconds only if PostgreSQL itself crashes).
const IDENTITY = `
    PERFORM set_config('app.user_id', p_user, true), set_config('app.tenant_id', p_tenant, true),
            set_config('app.alliance_admin', p_admin, true);`;

const LEASE = 'app_rate_limit_lease(text, text, text, text, uuid, integer, integer, integer)';
const RETURN = 'app_rate_limit_return(text, text, text, text, uuid, timestamptz, integer)';

export class RateLimitLeases1765267200000 implements MigrationInterface {
  name = 'RateLimitLeases1765267200000';

  async up(q: QueryRunner): Promise<void> {
    // Takes between p_cost and p_want points of the subject's current window, never past its
    // budget: refused (taking nothing) when even p_cost would overdraw it; otherwise p_cost plus
    // at most half of what would be left after it beyond a reserve of the budget's last 2%, so
    // leases shrink as the budget runs low and its last 2% go one operation at a time in every
    // process. Points a process holds unspent count as spent for the others: without the reserve
    // (halving alone) one process could hold half of the last points while another refuses an
    // operation they would cover (test/limits-rate.int.spec.ts, two API processes: a 12-point
    // operation refused with 16 points unspent, 8 of them held by the other process). A lease
    // takes at most 1% extra (tenants/rate-limiter.ts), so the reserve is twice any one slice.
    // The row is read under FOR UPDATE (the lock serialises leases from every process) rather
    // than updated in one upsert as app_rate_limit_charge does: the grant depends on the row's
    // used before the update, which an UPDATE's RETURNING cannot show.
    await q.query(`
      CREATE FUNCTION app_rate_limit_lease(p_user text, p_tenant text, p_admin text,
          p_subject_type text, p_subject_id uuid, p_cost integer, p_want integer, p_default integer)
        RETURNS TABLE (points integer, window_start timestamptz, ends_in_ms double precision,
                       used integer, granted integer, admitted boolean)
        LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, public, pg_temp AS $$
      #variable_conflict use_column
      DECLARE
        v_points integer;
        v_start timestamptz := date_trunc('hour', now());
        -- The window's end as time left on the database clock: the process measures it on its own
        -- clock from when the answer arrives, so clock skew between hosts does not matter.
        v_ends_in double precision := extract(epoch FROM v_start + interval '1 hour' - now()) * 1000;
        v_used integer;
        v_granted integer;
      BEGIN ${IDENTITY}
        PERFORM set_config('synchronous_commit', 'off', true);
        SELECT coalesce((SELECT s.points_per_hour FROM rate_limit_setting s
                          WHERE p_subject_type = 'TENANT' AND s.tenant_id = p_subject_id), p_default)
          INTO v_points;
        IF p_cost > v_points THEN
          -- Dearer than the whole budget: no row needed to say no.
          RETURN QUERY SELECT v_points, v_start, v_ends_in,
            coalesce((SELECT u.used FROM rate_limit_usage u WHERE u.subject_type = p_subject_type
                         AND u.subject_id = p_subject_id AND u.window_start = v_start), 0), 0, false;
          RETURN;
        END IF;
        SELECT u.used INTO v_used FROM rate_limit_usage u
         WHERE u.subject_type = p_subject_type AND u.subject_id = p_subject_id AND u.window_start = v_start
           FOR UPDATE;
        IF NOT FOUND THEN
          -- The window's first lease. A concurrent first lease may insert the row too: DO NOTHING,
          -- then both lock the one row.
          INSERT INTO rate_limit_usage (subject_type, subject_id, window_start, used)
          VALUES (p_subject_type, p_subject_id, v_start, 0) ON CONFLICT DO NOTHING;
          SELECT u.used INTO v_used FROM rate_limit_usage u
           WHERE u.subject_type = p_subject_type AND u.subject_id = p_subject_id AND u.window_start = v_start
             FOR UPDATE;
        END IF;
        IF v_used + p_cost > v_points THEN
          RETURN QUERY SELECT v_points, v_start, v_ends_in, v_used, 0, false;
          RETURN;
        END IF;
        v_granted := p_cost + greatest(0, least(p_want - p_cost, (v_points - v_used - p_cost - v_points / 50) / 2));
        UPDATE rate_limit_usage u SET used = v_used + v_granted
         WHERE u.subject_type = p_subject_type AND u.subject_id = p_subject_id AND u.window_start = v_start;
        RETURN QUERY SELECT v_points, v_start, v_ends_in, v_used + v_granted, v_granted, true;
      END $$`);

    // Gives back the points of a lease a process did not spend, to the window it took them from
    // (a window that has ended keeps an exact history). Returns the row's used after, NULL when
    // the row is gone (pruned).
    await q.query(`
      CREATE FUNCTION app_rate_limit_return(p_user text, p_tenant text, p_admin text,
          p_subject_type text, p_subject_id uuid, p_window_start timestamptz, p_unspent integer)
        RETURNS integer
        LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, public, pg_temp AS $$
      DECLARE
        v_used integer;
      BEGIN ${IDENTITY}
        PERFORM set_config('synchronous_commit', 'off', true);
        UPDATE rate_limit_usage u SET used = greatest(0, u.used - greatest(p_unspent, 0))
         WHERE u.subject_type = p_subject_type AND u.subject_id = p_subject_id AND u.window_start = p_window_start
        RETURNING u.used INTO v_used;
        RETURN v_used;
      END $$`);

    // A changed budget voids the leases every API process holds for that tenant (they were sized
    // against the old one): announced on alliance_rate_limit with the tenant's id (CHANNELS.rateLimit
    // in tenants/job-events.ts). Deleting a tenant deletes its setting, so that is announced too.
    await q.query(`
      CREATE FUNCTION notify_rate_limit_change() RETURNS trigger
        LANGUAGE plpgsql SET search_path = pg_catalog, public, pg_temp AS $$
      BEGIN
        IF TG_OP <> 'INSERT' THEN PERFORM pg_notify('alliance_rate_limit', OLD.tenant_id::text); END IF;
        IF TG_OP <> 'DELETE' THEN PERFORM pg_notify('alliance_rate_limit', NEW.tenant_id::text); END IF;
        RETURN NULL;
      END $$`);
    await q.query(`CREATE TRIGGER rate_limit_setting_changed AFTER INSERT OR UPDATE OR DELETE ON rate_limit_setting
                     FOR EACH ROW EXECUTE FUNCTION notify_rate_limit_change()`);

    for (const fn of [LEASE, RETURN]) {
      await q.query(`REVOKE ALL ON FUNCTION ${fn} FROM PUBLIC`);
      await q.query(`GRANT EXECUTE ON FUNCTION ${fn} TO alliance_app`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TRIGGER rate_limit_setting_changed ON rate_limit_setting`);
    await q.query(`DROP FUNCTION notify_rate_limit_change()`);
    await q.query(`DROP FUNCTION ${RETURN}`);
    await q.query(`DROP FUNCTION ${LEASE}`);
  }
}
