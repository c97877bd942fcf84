import type { MigrationInterface, QueryRunner } from 'typeorm';

// Prepaid holds for synchronous inference (tenants/quota-holds.ts). Charging every `infer` in
// its own synchronous transaction put a commit on each request's path; instead an API process
// reserves a small hold of a tenant's budget (RESERVE, as a job's admission does), answers
// requests from it in memory, and settles what they used every fraction of a second in one
// transaction: an aggregated CAPTURE per settlement and the usage buckets (DESIGN: "sync
// inference is charged as usage entries aggregated per tenant and endpoint"). An idle hold is
// closed (its rest RELEASEd); a hold whose holder stopped renewing it (a crashed process) is
// released by any process's sweep once it expires.
//
// Ledger rules, as for jobs: a hold's CAPTUREs and RELEASE consume what it RESERVEd and never
// more (tenants/ledger-invariants.ts checks it), so the balance stays the ledger's sums and the
// budget can never be overdrawn, however many processes hold part of it.
//
// quota_hold.held_milli is the hold's outstanding part (reserved − captured − released), kept
// beside the entries so a settlement needs no sum over them; settled_seq makes a settlement
// exactly-once: the holder numbers them, and a retried call whose number was applied is a no-op.
const IDENTITY = `
    PERFORM set_config('app.user_id', p_user, true), set_config('app.tenant_id', p_tenant, true),
            set_config('app.alliance_admin', p_admin, true);`;

export class QuotaHolds1765440000000 implements MigrationInterface {
  name = 'QuotaHolds1765440000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE quota_hold (
        id uuid PRIMARY KEY,
        tenant_id uuid NOT NULL REFERENCES tenant (id) ON DELETE CASCADE,
        period text NOT NULL CHECK (period ~ '^[0-9]{4}-[0-9]{2}$'),
        -- Which process holds it (host:pid), for operators.
        holder text NOT NULL,
        held_milli bigint NOT NULL DEFAULT 0 CHECK (held_milli >= 0),
        settled_seq integer NOT NULL DEFAULT 0,
        expires_at timestamptz NOT NULL,
        closed_at timestamptz,
        created_at timestamptz NOT NULL DEFAULT now(),
        FOREIGN KEY (tenant_id, period) REFERENCES quota_balance (tenant_id, period) ON DELETE CASCADE
      )`);
    await q.query(`CREATE INDEX quota_hold_open_idx ON quota_hold (expires_at) WHERE closed_at IS NULL`);
    await q.query(`ALTER TABLE ledger_entry ADD COLUMN hold_id uuid`);
    await q.query(`CREATE INDEX ledger_entry_hold_idx ON ledger_entry (hold_id) WHERE hold_id IS NOT NULL`);
    await q.query(`ALTER TABLE quota_hold ENABLE ROW LEVEL SECURITY`);
    await q.query(`ALTER TABLE quota_hold FORCE ROW LEVEL SECURITY`);
    await q.query(`CREATE POLICY quota_hold_system ON quota_hold TO alliance_system USING (true) WITH CHECK (true)`);
    // A request takes or tops up its own tenant's hold (app_quota_hold_take runs as the caller).
    await q.query(`CREATE POLICY quota_hold_tenant ON quota_hold FOR ALL TO alliance_app
      USING (tenant_id = app_tenant_id()) WITH CHECK (tenant_id = app_tenant_id())`);
    await q.query(`GRANT SELECT, INSERT, UPDATE ON quota_hold TO alliance_app, alliance_system`);

    // Take `p_want` milli-units (at least `p_min`) of the caller's balance into hold `p_hold`,
    // creating the hold on first use; renews the hold's lease. Returns the milli-units taken (0:
    // the balance cannot spare p_min — nothing taken; -1: the hold was closed, nothing taken)
    // with the balance after, or no row when the
    // period has no balance yet (the caller opens it and retries). One round trip, as the caller.
    await q.query(`
      CREATE FUNCTION app_quota_hold_take(p_user text, p_tenant text, p_admin text, p_hold uuid, p_period text,
          p_min bigint, p_want bigint, p_key text, p_holder text, p_ttl_ms integer)
        RETURNS TABLE (taken bigint, granted_milli bigint, reserved_milli bigint, used_milli bigint)
        LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, public, pg_temp AS $$
      #variable_conflict use_column
      DECLARE
        v_tenant uuid := p_tenant::uuid;
        v_b quota_balance%ROWTYPE;
        v_take bigint;
      BEGIN ${IDENTITY}
        SELECT * INTO v_b FROM quota_balance b WHERE b.tenant_id = v_tenant AND b.period = p_period FOR UPDATE;
        IF NOT FOUND THEN RETURN; END IF;
        v_take := least(p_want, v_b.granted_milli - v_b.reserved_milli - v_b.used_milli);
        IF v_take < p_min OR v_take <= 0 THEN
          RETURN QUERY SELECT 0::bigint, v_b.granted_milli, v_b.reserved_milli, v_b.used_milli;
          RETURN;
        END IF;
        INSERT INTO quota_hold AS h (id, tenant_id, period, holder, held_milli, expires_at)
        VALUES (p_hold, v_tenant, p_period, p_holder, v_take, now() + p_ttl_ms * interval '1 millisecond')
        ON CONFLICT (id) DO UPDATE SET held_milli = h.held_milli + EXCLUDED.held_milli, expires_at = EXCLUDED.expires_at
          WHERE h.closed_at IS NULL;
        IF NOT FOUND THEN
          -- Closed under us (its lease lapsed while this process stalled): -1 tells the caller
          -- to open a new hold.
          RETURN QUERY SELECT -1::bigint, v_b.granted_milli, v_b.reserved_milli, v_b.used_milli;
          RETURN;
        END IF;
        INSERT INTO ledger_entry (tenant_id, period, kind, units_milli, job_id, hold_id, entry_key, memo)
        VALUES (v_tenant, p_period, 'RESERVE', v_take, NULL, p_hold, p_key, 'hold for synchronous inference');
        UPDATE quota_balance b SET reserved_milli = b.reserved_milli + v_take
         WHERE b.tenant_id = v_tenant AND b.period = p_period
         RETURNING b.granted_milli, b.reserved_milli, b.used_milli INTO v_b.granted_milli, v_b.reserved_milli, v_b.used_milli;
        RETURN QUERY SELECT v_take, v_b.granted_milli, v_b.reserved_milli, v_b.used_milli;
      END $$`);

    // Settle a hold: capture what requests used (p_capture, from the hold), add their usage
    // buckets, and when closing release the rest. Applied once per (hold, p_seq): a retry of a
    // settlement whose commit was not acknowledged changes nothing. A hold that was closed under
    // its holder (it expired while the process stalled) no longer backs anything, so its usage
    // is captured from what the balance has available, clamped as a request's overdraft always
    // was (the balance never goes negative), and the buckets carry what was actually charged.
    // Run by the holder's process as system work (settlements are not requests); returns the
    // milli-units captured, or NULL when this settlement was applied already.
    await q.query(`
      CREATE FUNCTION app_quota_hold_settle(p_hold uuid, p_tenant uuid, p_period text, p_seq integer,
          p_capture bigint, p_close boolean, p_memo text, p_buckets jsonb, p_notify boolean, p_ttl_ms integer)
        RETURNS bigint
        LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, public, pg_temp AS $$
      DECLARE
        v_b quota_balance%ROWTYPE;
        v_h quota_hold%ROWTYPE;
        v_from_hold bigint := 0;
        v_over bigint := 0;
        v_left bigint;
        v_units bigint;
        r record;
      BEGIN
        -- Lock order: balance, then hold (as the sweep and the take do).
        SELECT * INTO v_b FROM quota_balance b WHERE b.tenant_id = p_tenant AND b.period = p_period FOR UPDATE;
        SELECT * INTO v_h FROM quota_hold h WHERE h.id = p_hold FOR UPDATE;
        IF NOT FOUND THEN
          IF p_capture = 0 THEN RETURN 0; END IF;
          RAISE EXCEPTION 'quota hold % does not exist', p_hold;
        END IF;
        IF v_h.settled_seq >= p_seq THEN RETURN NULL; END IF;
        IF v_h.closed_at IS NULL THEN
          v_from_hold := least(p_capture, v_h.held_milli);
        END IF;
        v_over := least(p_capture - v_from_hold, greatest(v_b.granted_milli - v_b.reserved_milli - v_b.used_milli, 0));
        IF v_from_hold > 0 THEN
          INSERT INTO ledger_entry (tenant_id, period, kind, units_milli, job_id, hold_id, entry_key, memo)
          VALUES (p_tenant, p_period, 'CAPTURE', v_from_hold, NULL, p_hold, 'usage:' || p_hold || ':' || p_seq, p_memo);
        END IF;
        IF v_over > 0 THEN
          INSERT INTO ledger_entry (tenant_id, period, kind, units_milli, job_id, hold_id, entry_key, memo)
          VALUES (p_tenant, p_period, 'CAPTURE', v_over, NULL, NULL, 'usage:' || p_hold || ':' || p_seq || ':over', p_memo);
        END IF;
        UPDATE quota_balance b SET used_milli = b.used_milli + v_from_hold + v_over, reserved_milli = b.reserved_milli - v_from_hold
         WHERE b.tenant_id = p_tenant AND b.period = p_period;
        v_h.held_milli := v_h.held_milli - v_from_hold;
        IF p_close AND v_h.closed_at IS NULL THEN
          IF v_h.held_milli > 0 THEN
            INSERT INTO ledger_entry (tenant_id, period, kind, units_milli, job_id, hold_id, entry_key, memo)
            VALUES (p_tenant, p_period, 'RELEASE', v_h.held_milli, NULL, p_hold, 'release:' || p_hold, 'hold for synchronous inference closed');
            UPDATE quota_balance b SET reserved_milli = b.reserved_milli - v_h.held_milli
             WHERE b.tenant_id = p_tenant AND b.period = p_period;
          END IF;
          UPDATE quota_hold h SET held_milli = 0, settled_seq = p_seq, closed_at = now() WHERE h.id = p_hold;
        ELSE
          UPDATE quota_hold h SET held_milli = v_h.held_milli, settled_seq = p_seq,
                 expires_at = CASE WHEN h.closed_at IS NULL THEN now() + p_ttl_ms * interval '1 millisecond' ELSE h.expires_at END
           WHERE h.id = p_hold;
        END IF;
        -- The buckets carry what was charged: in bucket order, each keeps its units while the
        -- charge lasts (short only in the clamped case above).
        v_left := v_from_hold + v_over;
        FOR r IN SELECT * FROM jsonb_to_recordset(p_buckets) AS x(endpoint uuid, model uuid, owner uuid, usr uuid,
                   bucket timestamptz, requests integer, items integer, device_ms double precision, milli bigint) LOOP
          v_units := least(r.milli, v_left);
          v_left := v_left - v_units;
          INSERT INTO usage_record AS u (tenant_id, user_id, endpoint_id, model_id, owner_tenant_id, bucket_start,
                                         requests, items, device_ms, units_milli)
          VALUES (p_tenant, r.usr, r.endpoint, r.model, r.owner, r.bucket, r.requests, r.items, r.device_ms, v_units)
          ON CONFLICT ON CONSTRAINT usage_record_bucket DO UPDATE SET
            requests = u.requests + EXCLUDED.requests, items = u.items + EXCLUDED.items,
            device_ms = u.device_ms + EXCLUDED.device_ms, units_milli = u.units_milli + EXCLUDED.units_milli;
        END LOOP;
        IF p_notify AND v_from_hold + v_over > 0 THEN PERFORM pg_notify('alliance_quota', p_tenant::text); END IF;
        RETURN v_from_hold + v_over;
      END $$`);

    // Release a hold whose holder stopped renewing it (crashed, or stalled beyond the lease):
    // its unsettled usage is unknown, and the hold is released rather than charged — a hold
    // authorises, it does not bill (as payment holds lapse). Returns the milli-units released.
    await q.query(`
      CREATE FUNCTION app_quota_hold_expire(p_hold uuid) RETURNS bigint
        LANGUAGE plpgsql SECURITY INVOKER SET search_path = pg_catalog, public, pg_temp AS $$
      DECLARE
        v_h quota_hold%ROWTYPE;
      BEGIN
        SELECT * INTO v_h FROM quota_hold h WHERE h.id = p_hold;
        IF NOT FOUND THEN RETURN 0; END IF;
        PERFORM 1 FROM quota_balance b WHERE b.tenant_id = v_h.tenant_id AND b.period = v_h.period FOR UPDATE;
        SELECT * INTO v_h FROM quota_hold h WHERE h.id = p_hold FOR UPDATE;
        IF v_h.closed_at IS NOT NULL OR v_h.expires_at > now() THEN RETURN 0; END IF;
        IF v_h.held_milli > 0 THEN
          INSERT INTO ledger_entry (tenant_id, period, kind, units_milli, job_id, hold_id, entry_key, memo)
          VALUES (v_h.tenant_id, v_h.period, 'RELEASE', v_h.held_milli, NULL, p_hold, 'release:' || p_hold,
                  'hold for synchronous inference expired (holder ' || v_h.holder || ' stopped renewing it)');
          UPDATE quota_balance b SET reserved_milli = b.reserved_milli - v_h.held_milli
           WHERE b.tenant_id = v_h.tenant_id AND b.period = v_h.period;
        END IF;
        UPDATE quota_hold h SET held_milli = 0, closed_at = now() WHERE h.id = p_hold;
        RETURN v_h.held_milli;
      END $$`);

    await q.query(`REVOKE ALL ON FUNCTION app_quota_hold_take(text, text, text, uuid, text, bigint, bigint, text, text, integer) FROM PUBLIC`);
    await q.query(`GRANT EXECUTE ON FUNCTION app_quota_hold_take(text, text, text, uuid, text, bigint, bigint, text, text, integer) TO alliance_app`);
    for (const fn of ['app_quota_hold_settle(uuid, uuid, text, integer, bigint, boolean, text, jsonb, boolean, integer)',
      'app_quota_hold_expire(uuid)']) {
      await q.query(`REVOKE ALL ON FUNCTION ${fn} FROM PUBLIC`);
      await q.query(`GRANT EXECUTE ON FUNCTION ${fn} TO alliance_system`);
    }
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP FUNCTION app_quota_hold_expire(uuid)`);
    await q.query(`DROP FUNCTION app_quota_hold_settle(uuid, uuid, text, integer, bigint, boolean, text, jsonb, boolean, integer)`);
    await q.query(`DROP FUNCTION app_quota_hold_take(text, text, text, uuid, text, bigint, bigint, text, text, integer)`);
    await q.query(`ALTER TABLE ledger_entry DROP COLUMN hold_id`);
    await q.query(`DROP TABLE quota_hold`);
  }
}
