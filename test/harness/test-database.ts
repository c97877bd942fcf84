// A fresh database per test file, cloned from the migrated template built in global-setup.
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';

export interface TestDatabase {
  name: string;
  /** Superuser/owner URL: for test setup and for proving what RLS does and does not allow. */
  ownerUrl: string;
  drop(): Promise<void>;
}

function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export async function createTestDatabase(): Promise<TestDatabase> {
  const adminUrl = process.env.TEST_ADMIN_URL;
  const template = process.env.TEST_TEMPLATE_DB;
  if (!adminUrl || !template) throw new Error('test harness not initialised: run through jest (test/global-setup.ts)');
  // The parent pid names databases of this run, so teardown can sweep what a crash left.
  const name = `alliance_t_${process.env.TEST_RUN_ID}_${randomBytes(5).toString('hex')}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`CREATE DATABASE ${name} TEMPLATE ${template}`);
    // Database-level grants are not copied from a template; the jobs migration's one is redone.
    await admin.query(`GRANT CREATE ON DATABASE ${name} TO alliance_system`);
    await admin.query(`REVOKE TEMPORARY ON DATABASE ${name} FROM PUBLIC`);
  } finally {
    await admin.end();
  }
  return {
    name,
    ownerUrl: withDatabase(adminUrl, name),
    async drop() {
      const c = new Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await c.end();
      }
    },
  };
}
