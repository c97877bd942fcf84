// Runs once, outside jest's module sandbox: a real PostgreSQL (DATABASE_URL, else an embedded
// one in a temporary folder) and a template database with every migration applied. Each test
// file then clones the template (CREATE DATABASE … TEMPLATE) — a fresh database in ~100 ms,
// never depending on another file's leftovers.
import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../core/embedded-postgres';
import { runMigrations } from '../tenants/database';
import { APP_ROLE, SYSTEM_ROLE, enableRoleLogins } from '../tenants/database-roles';

declare global {
  // eslint-disable-next-line no-var
  var __ALLIANCE_TEST__: { pg?: EmbeddedPostgres; tmp?: string; adminUrl: string; template: string } | undefined;
}

export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = `/${database}`;
  return u.toString();
}

export default async function globalSetup(): Promise<void> {
  let adminUrl = process.env.DATABASE_URL;
  let pg: EmbeddedPostgres | undefined;
  let tmp: string | undefined;
  if (!adminUrl) {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-hub-test-'));
    fs.chmodSync(tmp, 0o755);
    pg = await startEmbeddedPostgres({ dataDir: tmp });
    adminUrl = pg.url;
  }
  const template = `alliance_template_${process.pid}`;
  const admin = new Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    await admin.query(`DROP DATABASE IF EXISTS ${template}`);
    await admin.query(`CREATE DATABASE ${template}`);
  } finally {
    await admin.end();
  }
  await runMigrations(withDatabase(adminUrl, template));
  const appPassword = randomBytes(18).toString('base64url');
  const systemPassword = randomBytes(18).toString('base64url');
  await enableRoleLogins(adminUrl, { [APP_ROLE]: appPassword, [SYSTEM_ROLE]: systemPassword });

  process.env.TEST_ADMIN_URL = adminUrl;
  process.env.TEST_TEMPLATE_DB = template;
  process.env.TEST_RUN_ID = String(process.pid);
  process.env.APP_DATABASE_PASSWORD = appPassword;
  process.env.SYSTEM_DATABASE_PASSWORD = systemPassword;
  globalThis.__ALLIANCE_TEST__ = { pg, tmp, adminUrl, template };
}
