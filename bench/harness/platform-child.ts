// The child side of bench/harness/platform-process.ts: starts the platform on the `start`
// message, answers `stats` / capture requests, and stops everything on `close` or when the
// parent disappears. Not meant to be run by hand.
import { APP_ROLE, secretFromDataDir, urlForRole } from '../../tenants/database-roles';
import { startBenchPlatform, type BenchPlatform } from './bench-platform';
import type { PlatformStats, Ready, Request } from './platform-process';
import { installStatementCounter } from './statement-counter';

// Patches pg.Client.prototype, so clients created before or after are all counted.
const counter = installStatementCounter();
const send = (m: unknown) => new Promise<void>((resolve) => process.send!(m, () => resolve()));

async function main(): Promise<void> {
  const env = await new Promise<Record<string, string>>((resolve) => {
    process.once('message', (m: { type: 'start'; env: Record<string, string> }) => resolve(m.env));
  });
  let platform: BenchPlatform;
  try {
    platform = await startBenchPlatform(env);
  } catch (err) {
    await send({ type: 'failed', error: err instanceof Error ? err.stack ?? err.message : String(err) });
    process.exit(1);
  }
  let closing: Promise<void> | undefined;
  const close = () => (closing ??= platform.close());
  process.on('disconnect', () => void close().finally(() => process.exit(0)));

  process.on('message', async (req: Request) => {
    try {
      let value: unknown;
      switch (req.type) {
        case 'stats': {
          if (req.gc) (globalThis as { gc?: () => void }).gc?.();
          const memory = process.memoryUsage();
          value = { counts: counter.counts(), cpu: process.cpuUsage(), rssMb: memory.rss / 2 ** 20, heapUsedMb: memory.heapUsed / 2 ** 20 } satisfies PlatformStats;
          break;
        }
        case 'startCapture':
          counter.startCapture();
          break;
        case 'stopCapture':
          value = counter.stopCapture();
          break;
        case 'close':
          await close();
          await send({ id: req.id, ok: true, value: undefined });
          process.exit(0);
      }
      await send({ id: req.id, ok: true, value });
    } catch (err) {
      await send({ id: req.id, ok: false, error: err instanceof Error ? err.message : String(err) });
    }
  });

  const { config, issuer } = platform.tp.platform;
  // The request role's URL as api/platform.ts derives it.
  const appUrl = config.appDatabaseUrl ?? urlForRole(platform.ownerUrl, APP_ROLE, config.appDatabasePassword ?? secretFromDataDir(config.dataDir, 'db-app'));
  await send({ type: 'ready', ready: { url: platform.tp.url, issuer, ownerUrl: platform.ownerUrl, appUrl, env: platform.env } satisfies Ready });
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
