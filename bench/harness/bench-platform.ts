// A whole platform for a benchmark outside jest: an embedded PostgreSQL in a temporary folder
// (what test/global-setup.ts does for the test run), one database migrated by the platform's own
// start-up (DATABASE_URL is the owner, so startPlatform migrates and enables the role logins, as
// an all-in-one deployment does), and the test harness's client helpers (token, gql, graphql-ws)
// over it. Loopback only: the HTTP server binds 127.0.0.1 on an ephemeral port.
import 'reflect-metadata';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPlatform } from '../../api/platform';
import { loadConfig } from '../../core/config';
import { startEmbeddedPostgres, type EmbeddedPostgres } from '../../core/embedded-postgres';
import { ensureDatabase } from '../../tenants/database';
import { TestPlatform } from '../../test/harness/test-platform';

export interface BenchPlatform {
  tp: TestPlatform;
  /** Owner (superuser) URL of the platform's database: for the raw-queue baseline and checks. */
  ownerUrl: string;
  /** The configuration actually used (after loadConfig defaults). */
  env: Record<string, string>;
  close(): Promise<void>;
}

export interface BenchPostgres {
  pg: EmbeddedPostgres;
  ownerUrl: string;
  dir: string;
  stop(): Promise<void>;
}

export async function startBenchPostgres(): Promise<BenchPostgres> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-hub-bench-'));
  // The postgres user (PostgreSQL refuses to run as root) must be able to traverse it.
  fs.chmodSync(dir, 0o755);
  // BENCH_PG_LOG=1 prints PostgreSQL's errors (deadlocks, serialization failures) as they happen.
  const log = process.env.BENCH_PG_LOG ? (line: string) => { if (/ERROR|DETAIL|STATEMENT|CONTEXT/.test(line)) console.error(`[postgres] ${line}`); } : undefined;
  const pg = await startEmbeddedPostgres({ dataDir: path.join(dir, 'pg'), log });
  const ownerUrl = await ensureDatabase(pg.url, 'alliance_bench');
  return {
    pg, ownerUrl, dir,
    async stop() {
      await pg.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Starts PostgreSQL and an all-in-one platform with the demo tenants; `env` tunes loadConfig. */
export async function startBenchPlatform(env: Record<string, string>): Promise<BenchPlatform> {
  const postgres = await startBenchPostgres();
  const dataDir = path.join(postgres.dir, 'data');
  const used: Record<string, string> = {
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: postgres.ownerUrl,
    DATA_DIR: dataDir,
    LOG_LEVEL: process.env.BENCH_LOG_LEVEL ?? 'warn',
    DEMO_MODELS: 'false',
    // A benchmark makes more calls in a minute than a member's hourly budget allows.
    RATE_LIMIT_POINTS_PER_HOUR: '1000000000',
    ...env,
  };
  try {
    const platform = await startPlatform(loadConfig(used), { seedDemo: true });
    const database = { name: 'alliance_bench', ownerUrl: postgres.ownerUrl, drop: async () => undefined };
    const tp = new TestPlatform(platform, database, dataDir);
    return {
      tp, ownerUrl: postgres.ownerUrl, env: used,
      async close() {
        await tp.close().catch((err) => console.error('platform close failed:', err));
        await postgres.stop();
      },
    };
  } catch (err) {
    await postgres.stop();
    throw err;
  }
}

/** Makes a tenant's share and budget large enough that the quota never shapes a benchmark. */
export async function roomyQuota(tp: TestPlatform, tenantSlug: string, devices: number): Promise<void> {
  await tp.as('admin', `mutation($slug: String!, $devices: Int!) { setQuota(input: { tenantSlug: $slug, budgetUnits: 100000000,
    guaranteedDevices: $devices, borrowLimitDevices: $devices, weight: 1 }) { budgetUnits } }`, { slug: tenantSlug, devices });
}
