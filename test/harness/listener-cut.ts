// A change whose NOTIFY is lost: the platform's LISTEN connection is terminated and the change
// committed in the same transaction, so the notice goes out while that process is not listening.
// Then waits for the listener to reconnect — what a cache must do after it is the test's question.
import { Client } from 'pg';
import type { TestPlatform } from './test-platform';
import { until } from './wait';

export async function changeWhileListenerIsCut(tp: TestPlatform, owner: Client, change: () => Promise<unknown>): Promise<void> {
  const listenerPid = await tp.platform.jobs.listener.backendPid();
  if (typeof listenerPid !== 'number') throw new Error('the platform has no LISTEN connection');
  await owner.query('BEGIN');
  try {
    await owner.query(`SELECT pg_terminate_backend($1)`, [listenerPid]);
    const watcher = new Client({ connectionString: tp.database.ownerUrl });
    await watcher.connect();
    try {
      await until('the LISTEN backend to be gone', async () =>
        (await watcher.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1`, [listenerPid])).rowCount === 0, 10_000);
    } finally {
      await watcher.end();
    }
    await change();
    await owner.query('COMMIT');
  } catch (err) {
    await owner.query('ROLLBACK');
    throw err;
  }
  await until('the listener to reconnect', async () => {
    const pid = await tp.platform.jobs.listener.backendPid().catch(() => null);
    return pid !== null && pid !== listenerPid;
  }, 20_000);
}
