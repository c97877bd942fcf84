// Real platform processes for split-mode tests: `api/main.ts <mode>` run from source in a child
// process, against the test platform's database and realm, sharing its DATA_DIR (blobs, the
// inference secret). The child's public URL is read from its start-up banner.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import type { TestPlatform } from './test-platform';

const root = path.resolve(__dirname, '../..');

export interface PlatformChild {
  child: ChildProcess;
  /** The child's public HTTP server (GraphQL, /metrics). */
  url: string;
  /** Resolves when the process has exited. */
  exited: Promise<void>;
}

export async function spawnPlatform(
  tp: TestPlatform, mode: 'api' | 'worker', env: Record<string, string> = {}, opts: { preload?: string[]; startTimeoutMs?: number } = {},
): Promise<PlatformChild> {
  const preload = (opts.preload ?? []).flatMap((file) => ['-r', file]);
  const child = spawn(process.execPath, [...preload, '-r', '@swc-node/register', path.join(root, 'api/main.ts'), mode], {
    cwd: root,
    env: {
      ...process.env,
      NODE_ENV: 'test',
      LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'warn',
      PORT: '0',
      HOST: '127.0.0.1',
      DATABASE_URL: tp.database.ownerUrl,
      KEYCLOAK_URL: tp.url,
      DATA_DIR: tp.dataDir,
      SWC_NODE_PROJECT: path.join(root, 'tsconfig.json'),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = await new Promise<string>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`${mode} process did not start in time`)), opts.startTimeoutMs ?? 45_000);
    child.stdout!.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      const match = /alliance-hub is running \(\S+\) at (http:\/\/\S+)/.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`${mode} process exited during start-up (${code ?? signal})`));
    });
  });
  child.stdout!.resume();
  return { child, url, exited };
}

/** SIGKILL, and wait until it is gone. */
export async function kill(p: PlatformChild): Promise<void> {
  if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
  await p.exited;
}

/**
 * Sum of a Prometheus counter's samples whose labels contain `labels` (e.g. endpoint="casia/x"),
 * or every one of them when given several.
 */
export async function counter(url: string, name: string, labels: string | string[]): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const wanted = typeof labels === 'string' ? [labels] : labels;
  return text.split('\n')
    .filter((line) => line.startsWith(`${name}{`) && wanted.every((label) => line.includes(label)))
    .reduce((sum, line) => sum + Number(line.slice(line.lastIndexOf(' ') + 1)), 0);
}
