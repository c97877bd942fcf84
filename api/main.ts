#!/usr/bin/env node
// Entry point: `node dist/api/main.js [all-in-one|api|worker]` (MODE env works too).
import 'reflect-metadata';
import { ConfigError, loadConfig } from '../core/config';
import { createLogger } from '../core/logger';
import { startPlatform } from './platform';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfig(process.env, process.argv[2]);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`alliance-hub: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  const log = createLogger(config.logLevel);
  const platform = await startPlatform(config, { log });
  const realm = `${platform.issuer}/protocol/openid-connect/token`;
  process.stdout.write(`
alliance-hub is running (${config.mode}) at ${platform.url}
  GraphQL          ${platform.url}/graphql   (graphql-ws on the same path)
  dashboard        ${platform.url}/dashboard
  health, metrics  ${platform.url}/healthz  ${platform.url}/readyz  ${platform.url}/metrics
  token            curl -s ${realm} \\
                     -d grant_type=password -d client_id=alliance-cli -d username=alice -d password=alice
  demo users       admin alice dave bob erin carol (password = username)

`);
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down: finishing in-flight requests');
    const force = setTimeout(() => process.exit(1), config.shutdownGraceMs + 5_000);
    force.unref();
    platform.close().then(() => process.exit(0), (err) => {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    });
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

main().catch((err) => {
  process.stderr.write(`alliance-hub failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
