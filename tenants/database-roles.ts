// The run-time roles log in with passwords that never live in the repository: taken from the
// environment (APP_DATABASE_PASSWORD / SYSTEM_DATABASE_PASSWORD) or generated once and kept
// in the data directory (all-in-one mode, tests). Start-up, as the owner, sets them.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { Client } from 'pg';

export const APP_ROLE = 'alliance_app';
export const SYSTEM_ROLE = 'alliance_system';

/**
 * Processes started together on one DATA_DIR (an API process and its workers) must end up with
 * the same secret: the file is written aside and hard-linked into place, which fails when another
 * process got there first — then its secret is the one. A reader never sees a half-written file.
 */
export function secretFromDataDir(dataDir: string, name: string): string {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, `${name}.secret`);
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  const aside = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  fs.writeFileSync(aside, randomBytes(24).toString('base64url') + '\n', { mode: 0o600 });
  try {
    fs.linkSync(aside, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
  } finally {
    fs.rmSync(aside, { force: true });
  }
  return fs.readFileSync(file, 'utf8').trim();
}

export function urlForRole(ownerUrl: string, role: string, password: string): string {
  const url = new URL(ownerUrl);
  url.username = role;
  url.password = encodeURIComponent(password);
  return url.toString();
}

/** Gives the NOLOGIN roles created by the first migration a login with the given passwords. */
export async function enableRoleLogins(ownerUrl: string, passwords: Record<string, string>): Promise<void> {
  const client = new Client({ connectionString: ownerUrl });
  await client.connect();
  try {
    for (const [role, password] of Object.entries(passwords)) {
      const literal = await client.query('SELECT quote_literal($1) AS p', [password]);
      // Role names come from the constants above, never from input.
      // Roles are cluster-wide: processes starting at once (several API processes, parallel
      // test files) may alter the same role together, which PostgreSQL refuses with "tuple
      // concurrently updated". The statement is idempotent, so it is simply tried again.
      for (let attempt = 1; ; attempt++) {
        try {
          await client.query(`ALTER ROLE ${role} WITH LOGIN PASSWORD ${literal.rows[0].p}`);
          break;
        } catch (err) {
          if (attempt >= 5 || !/concurrently updated/.test((err as Error).message)) throw err;
          await new Promise((r) => setTimeout(r, 20 * attempt));
        }
      }
    }
  } finally {
    await client.end();
  }
}
