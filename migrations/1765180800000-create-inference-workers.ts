import type { MigrationInterface, QueryRunner } from 'typeorm';

// Split mode's directory of inference servers (model-runtime/worker/inference-host.ts): one row
// per running worker process — not per device slot, since a process serves inference whatever
// its WORKER_SLOTS, and two processes on one node are two servers. Rows are keyed by a random id
// per start: a restarted worker is a new row, never a resurrected one.
// - url: where API processes reach it; endpoints: the endpoint ids it holds loaded now, so an API
//   process sends a call only where it can run.
// - last_heartbeat_at: renewed every HEARTBEAT_SECONDS; API processes ignore rows older than
//   DEVICE_TIMEOUT_SECONDS (a SIGKILLed worker), and a starting worker clears long-dead rows.
// Addresses are internal: only system work reads or writes this table; members see devices.
export class CreateInferenceWorkers1765180800000 implements MigrationInterface {
  name = 'CreateInferenceWorkers1765180800000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE inference_worker (
        id uuid PRIMARY KEY,
        node text NOT NULL CHECK (length(node) BETWEEN 1 AND 200),
        kind text NOT NULL CHECK (kind ~ '^[a-z0-9][a-z0-9._-]{0,62}$'),
        url text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 500),
        endpoints uuid[] NOT NULL DEFAULT '{}',
        started_at timestamptz NOT NULL DEFAULT now(),
        last_heartbeat_at timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX inference_worker_heartbeat_idx ON inference_worker (last_heartbeat_at)`);
    await q.query(`ALTER TABLE inference_worker ENABLE ROW LEVEL SECURITY`);
    await q.query(`ALTER TABLE inference_worker FORCE ROW LEVEL SECURITY`);
    await q.query(`CREATE POLICY inference_worker_system ON inference_worker TO alliance_system USING (true) WITH CHECK (true)`);
    await q.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON inference_worker TO alliance_system`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE inference_worker`);
  }
}
