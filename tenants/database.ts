// DataSources: the owner connection runs migrations; the app and system connections (non-owner,
// non-superuser, no BYPASSRLS) carry all run-time traffic.
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import { ENTITIES } from '../entities';
import { MIGRATIONS } from '../migrations';

export function createDataSource(url: string, opts: { poolSize?: number; applicationName?: string } = {}): DataSource {
  return new DataSource({
    type: 'postgres',
    url,
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    synchronize: false,
    migrationsRun: false,
    logging: false,
    poolSize: opts.poolSize ?? 10,
    extra: { application_name: opts.applicationName ?? 'alliance-hub', connectionTimeoutMillis: 10_000 },
  });
}

/** Applies pending migrations as the owner; returns the names applied. */
export async function runMigrations(ownerUrl: string): Promise<string[]> {
  const ds = createDataSource(ownerUrl, { poolSize: 2, applicationName: 'alliance-hub-migrate' });
  await ds.initialize();
  try {
    const applied = await ds.runMigrations({ transaction: 'each' });
    return applied.map((m) => m.name);
  } finally {
    await ds.destroy();
  }
}

/** Names of migrations the code has that the database has not applied yet. */
export async function pendingMigrations(ds: DataSource): Promise<string[]> {
  const rows: { name: string }[] = await ds.query('SELECT name FROM migrations');
  const done = new Set(rows.map((r) => r.name));
  return MIGRATIONS.map((m) => m.name).filter((name) => !done.has(name));
}

const MIGRATION_LOCK = 727_001;

/**
 * Migrations under a session advisory lock: several API processes starting at once against one
 * database apply each migration exactly once, the others wait and then find nothing to do.
 */
export async function migrateWithLock(ownerUrl: string): Promise<string[]> {
  const client = new Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    await client.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK]);
    return await runMigrations(ownerUrl);
  } finally {
    await client.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK]).catch(() => undefined);
    await client.end();
  }
}

/** Creates `database` on the server of `adminUrl` if missing; returns its URL. */
export async function ensureDatabase(adminUrl: string, database: string): Promise<string> {
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const exists = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [database]);
    if (exists.rowCount === 0) await client.query(`CREATE DATABASE ${client.escapeIdentifier(database)}`);
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${database}`;
  return url.toString();
}
