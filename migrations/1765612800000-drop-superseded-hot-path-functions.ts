import type { MigrationInterface, QueryRunner } from 'typeorm';
import {
  HOT_PATH_SIGNATURES, INFER_CHARGE_SQL, INFER_TARGET_SQL, RATE_LIMIT_CHARGE_SQL, grantHotPathFunctions,
} from './1765094400000-hot-path-functions';

// The per-request functions that leases, the endpoint cache and prepaid holds replaced:
// app_rate_limit_charge (→ app_rate_limit_lease), app_infer_target (→ app_infer_endpoint) and
// app_infer_charge (→ app_quota_hold_take / app_quota_hold_settle). Nothing calls them; a
// function left in the schema is one more thing a reader must find out is dead.
export class DropSupersededHotPathFunctions1765612800000 implements MigrationInterface {
  name = 'DropSupersededHotPathFunctions1765612800000';

  async up(q: QueryRunner): Promise<void> {
    for (const fn of HOT_PATH_SIGNATURES) await q.query(`DROP FUNCTION ${fn}`);
  }

  async down(q: QueryRunner): Promise<void> {
    for (const sql of [RATE_LIMIT_CHARGE_SQL, INFER_TARGET_SQL, INFER_CHARGE_SQL]) await q.query(sql);
    await grantHotPathFunctions(q);
  }
}
