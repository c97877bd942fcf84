// The platform under load in a process of its own: startBenchPlatform (embedded PostgreSQL, the
// demo tenants, loopback HTTP) in a forked child, so the load generator's CPU and event loop are
// not the server's and the latencies measured are the server's. The child counts the statements
// it sends to PostgreSQL (bench/harness/statement-counter.ts) and answers over IPC.
//   parent: const p = await PlatformProcess.start({ RATE_LIMIT_POINTS_PER_HOUR: '100000000' });
//           … p.url, p.ownerUrl, await p.token('alice'), await p.stats() … await p.close();
// The child (bench/harness/platform-child.ts) exits when the parent goes away (IPC disconnect),
// stopping PostgreSQL with it.
import { fork, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import type { CapturedStatement, RoleCounts } from './statement-counter';

export interface PlatformStats {
  counts: Record<string, RoleCounts>;
  /** process.cpuUsage() of the platform process, microseconds. */
  cpu: { user: number; system: number };
  rssMb: number;
  /** V8 heap in use; after a full collection when the stats were asked for with `{ gc: true }`. */
  heapUsedMb: number;
}

export interface Ready {
  url: string;
  issuer: string;
  ownerUrl: string;
  /** The request role's URL, as platform.ts derives it: what withTenant connects with. */
  appUrl: string;
  env: Record<string, string>;
}

export type Request =
  | { id: number; type: 'stats'; gc?: boolean }
  | { id: number; type: 'startCapture' }
  | { id: number; type: 'stopCapture' }
  | { id: number; type: 'close' };

type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;

export type Reply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

export class PlatformProcess {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly tokens = new Map<string, string>();
  private exited = false;

  private constructor(private readonly child: ChildProcess, readonly ready: Ready) {
    child.on('message', (m: Reply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(m.error));
    });
    child.once('exit', (code, signal) => {
      this.exited = true;
      for (const p of this.pending.values()) p.reject(new Error(`platform process exited (${code ?? signal})`));
      this.pending.clear();
    });
  }

  /** Forks the platform; resolves once it listens. `env` is passed to loadConfig (see bench-platform.ts). */
  static start(env: Record<string, string> = {}): Promise<PlatformProcess> {
    // BENCH_CPU_PROF=<dir>: a V8 CPU profile of the platform process, written when it exits.
    // BENCH_PLATFORM_REQUIRE=<file>: a module loaded into the platform process first, to try a
    // change (a patched prototype, say) against the same load before making it for real.
    const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`] : [];
    const preload = process.env.BENCH_PLATFORM_REQUIRE ? ['-r', process.env.BENCH_PLATFORM_REQUIRE] : [];
    const child = fork(join(__dirname, 'platform-child.ts'), [], {
      // --expose-gc: stats({ gc: true }) measures the heap that survives a full collection.
      execArgv: ['-r', '@swc-node/register', '--expose-gc', ...preload, ...profile],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      serialization: 'advanced',
    });
    return new Promise((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`platform process exited during start (${code})`));
      child.once('exit', onExit);
      child.once('message', (m: { type: 'ready'; ready: Ready } | { type: 'failed'; error: string }) => {
        child.off('exit', onExit);
        if (m.type === 'ready') resolve(new PlatformProcess(child, m.ready));
        else {
          child.kill('SIGKILL');
          reject(new Error(`platform failed to start: ${m.error}`));
        }
      });
      child.send({ type: 'start', env });
    });
  }

  /** The HTTP origin on 127.0.0.1 (the platform says localhost, which may resolve to ::1 first). */
  get url(): string {
    return this.ready.url.replace('//localhost:', '//127.0.0.1:');
  }

  get ownerUrl(): string {
    return this.ready.ownerUrl;
  }

  get appUrl(): string {
    return this.ready.appUrl;
  }

  get pid(): number {
    return this.child.pid!;
  }

  /** A real token from the embedded realm's password grant (demo users: password = username). */
  async token(username: string): Promise<string> {
    const cached = this.tokens.get(username);
    if (cached) return cached;
    const res = await fetch(`${this.ready.issuer}/protocol/openid-connect/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', client_id: 'alliance-cli', username, password: username }),
    });
    const body = (await res.json()) as { access_token?: string };
    if (!res.ok || !body.access_token) throw new Error(`token for ${username}: ${res.status} ${JSON.stringify(body)}`);
    this.tokens.set(username, body.access_token);
    return body.access_token;
  }

  /** One GraphQL call over HTTP; throws on a non-2xx status or any GraphQL error. */
  async gql<T = Record<string, any>>(username: string, tenant: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const res = await fetch(`${this.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await this.token(username)}`, 'x-tenant': tenant },
      body: JSON.stringify({ query, variables }),
    });
    const body = (await res.json()) as { data?: T; errors?: unknown[] };
    if (res.status !== 200 || body.errors?.length) throw new Error(`${username}@${tenant}: HTTP ${res.status} ${JSON.stringify(body.errors ?? body).slice(0, 800)}`);
    return body.data as T;
  }

  stats(opts: { gc?: boolean } = {}): Promise<PlatformStats> {
    return this.call({ type: 'stats', gc: opts.gc }) as Promise<PlatformStats>;
  }

  /**
   * Resolves once `role` has sent no statement for `quietMs`: requests a load generator gave up
   * waiting for (autocannon stops at its deadline) are still running on the server until then.
   */
  async waitForQuiet(role = 'alliance_app', quietMs = 500, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last = -1;
    let quietSince = Date.now();
    while (Date.now() < deadline) {
      const n = (await this.stats()).counts[role]?.statements ?? 0;
      if (n !== last) {
        last = n;
        quietSince = Date.now();
      } else if (Date.now() - quietSince >= quietMs) {
        return;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`${role} still busy after ${timeoutMs} ms`);
  }

  startCapture(): Promise<void> {
    return this.call({ type: 'startCapture' }) as Promise<void>;
  }

  stopCapture(): Promise<CapturedStatement[]> {
    return this.call({ type: 'stopCapture' }) as Promise<CapturedStatement[]>;
  }

  async close(): Promise<void> {
    if (this.exited) return;
    const exited = new Promise<void>((r) => this.child.once('exit', () => r()));
    await this.call({ type: 'close' }).catch(() => undefined);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }

  private call(req: WithoutId<Request>): Promise<unknown> {
    if (this.exited) return Promise.reject(new Error('platform process has exited'));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.child.send({ ...req, id });
    });
  }
}
