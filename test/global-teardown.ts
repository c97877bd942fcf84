import fs from 'node:fs';
import { Client } from 'pg';

export default async function globalTeardown(): Promise<void> {
  const state = globalThis.__ALLIANCE_TEST__;
  if (!state) return;
  const admin = new Client({ connectionString: state.adminUrl });
  await admin.connect();
  try {
    const leftovers = await admin.query(`SELECT datname FROM pg_database WHERE datname LIKE $1`, [`alliance_t_${process.pid}_%`]);
    for (const row of leftovers.rows) await admin.query(`DROP DATABASE IF EXISTS ${row.datname} WITH (FORCE)`);
    await admin.query(`DROP DATABASE IF EXISTS ${state.template} WITH (FORCE)`);
  } finally {
    await admin.end();
  }
  await state.pg?.stop();
  if (state.tmp) fs.rmSync(state.tmp, { recursive: true, force: true });
}
