// A second API process on the first one's database, as in a split deployment behind a load
// balancer: its own HTTP server, dev realm and memory, the same PostgreSQL. Closing it leaves
// the database to the first platform.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPlatform } from '../../api/platform';
import { loadConfig } from '../../core/config';
import { TestPlatform } from './test-platform';

export async function startSecondPlatform(first: TestPlatform, env: Record<string, string> = {}): Promise<TestPlatform> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-hub-data-'));
  const config = loadConfig({
    NODE_ENV: 'test',
    PORT: '0',
    HOST: '127.0.0.1',
    DATABASE_URL: first.database.ownerUrl,
    APP_DATABASE_PASSWORD: process.env.APP_DATABASE_PASSWORD,
    SYSTEM_DATABASE_PASSWORD: process.env.SYSTEM_DATABASE_PASSWORD,
    DATA_DIR: dataDir,
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    JWKS_COOLDOWN_SEC: '0',
    ...env,
  });
  const platform = await startPlatform(config, { seedDemo: false });
  return new TestPlatform(platform, { ...first.database, drop: async () => undefined }, dataDir);
}
