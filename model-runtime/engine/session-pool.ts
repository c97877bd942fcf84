import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { InferenceSession } from 'onnxruntime-node';
import { InvalidModelError, errorMessage } from './engine-errors';
import { RuntimeOptions } from './execution-providers';
import { createSession } from './inspect-model';
import { ModelSignature, signatureOf } from './tensor-spec';

export interface SessionPoolOptions extends RuntimeOptions {
  /** Loaded sessions kept at most (default 8). */
  maxSessions?: number;
  /** Approximate memory budget; a model's file size stands in for its session's footprint. */
  maxBytes?: number;
}

export type ModelSource = { bytes: Uint8Array } | { path: string };

/** Per-model session settings over the pool's own; a model with other settings is another session. */
export interface SessionSettings {
  intraOpNumThreads?: number;
}

/** Runs on every (re)load before the session serves traffic; a throw fails the load. */
export type Warmup = (session: InferenceSession) => Promise<void>;

export interface ModelRegistration {
  readonly key: string;
  readonly signature: ModelSignature;
  /** Drops this registration; the session is freed when the last one goes. */
  release(): Promise<void>;
}

export interface SessionLease {
  readonly session: InferenceSession;
  release(): void;
}

export interface SessionPoolStats {
  loads: number;
  reloads: number;
  evictions: number;
  hits: number;
  loadedSessions: number;
  loadedBytes: number;
  registeredModels: number;
}

interface Entry {
  key: string;
  source: ModelSource;
  sizeBytes: number;
  signature?: ModelSignature;
  session?: InferenceSession;
  loading?: Promise<InferenceSession>;
  everLoaded: boolean;
  leases: number;
  lastUsed: number;
  registrations: number;
  warmups: Set<Warmup>;
  settings: SessionSettings;
}

export function modelKey(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * ONNX Runtime sessions keyed by model content, created once and reused by every endpoint that
 * serves the same file. Bounded by count and an approximate byte budget with least-recently-used
 * eviction; an evicted model stays registered and is reloaded (and warmed) on its next use.
 * A session leased to a running batch is never evicted, so the bounds are soft: when every
 * session is busy the pool overshoots rather than deadlocking, and trims on release.
 */
export class SessionPool {
  private readonly entries = new Map<string, Entry>();
  private readonly counters = { loads: 0, reloads: 0, evictions: 0, hits: 0 };
  private clock = 0;

  constructor(private readonly options: SessionPoolOptions = {}) {}

  /** Registers a model and loads it now, so a bad file is refused at deploy time. */
  async register(source: ModelSource, warmup?: Warmup, settings: SessionSettings = {}): Promise<ModelRegistration> {
    const bytes = 'bytes' in source ? source.bytes : await readModelFile(source.path);
    const key = settings.intraOpNumThreads ? `${modelKey(bytes)}:threads=${settings.intraOpNumThreads}` : modelKey(bytes);
    let entry = this.entries.get(key);
    if (!entry) {
      entry = {
        key,
        // A file-backed model is re-read on reload instead of being held in memory.
        source: 'bytes' in source ? { bytes } : source,
        sizeBytes: bytes.length,
        everLoaded: false,
        leases: 0,
        lastUsed: 0,
        registrations: 0,
        warmups: new Set(),
        settings,
      };
      this.entries.set(key, entry);
    }
    entry.registrations += 1;
    const registered = entry;
    let warmed = false;
    const ownWarmup: Warmup | undefined = warmup && (async (session) => {
      await warmup(session);
      warmed = true;
    });
    if (ownWarmup) registered.warmups.add(ownWarmup);
    let released = false;
    const release = async () => {
      if (released) return;
      released = true;
      if (ownWarmup) registered.warmups.delete(ownWarmup);
      registered.registrations -= 1;
      if (registered.registrations === 0) await this.forget(registered);
    };
    try {
      const lease = await this.acquire(key);
      try {
        // The model was already loaded for another endpoint: warm it through this one's handler too.
        if (ownWarmup && !warmed) await runWarmup(ownWarmup, lease.session);
      } finally {
        lease.release();
      }
    } catch (error) {
      await release();
      throw error;
    }
    return { key, signature: registered.signature!, release };
  }

  async acquire(key: string): Promise<SessionLease> {
    const entry = this.entries.get(key);
    if (!entry) throw new Error(`session pool: model ${key} is not registered`);
    entry.leases += 1;
    entry.lastUsed = ++this.clock;
    try {
      let session = entry.session;
      if (session) this.counters.hits += 1;
      else {
        entry.loading ??= this.load(entry).finally(() => {
          entry.loading = undefined;
        });
        session = await entry.loading;
      }
      let released = false;
      return {
        session,
        release: () => {
          if (released) return;
          released = true;
          entry.leases -= 1;
          entry.lastUsed = ++this.clock;
          this.trim();
        },
      };
    } catch (error) {
      entry.leases -= 1;
      throw error;
    }
  }

  stats(): SessionPoolStats {
    const loaded = [...this.entries.values()].filter((e) => e.session);
    return {
      ...this.counters,
      loadedSessions: loaded.length,
      loadedBytes: loaded.reduce((sum, e) => sum + e.sizeBytes, 0),
      registeredModels: this.entries.size,
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.entries.values()].map((entry) => this.forget(entry)));
  }

  private async load(entry: Entry): Promise<InferenceSession> {
    this.trim(entry.sizeBytes);
    const bytes = 'bytes' in entry.source ? entry.source.bytes : await readModelFile(entry.source.path);
    const session = await createSession(bytes, { ...this.options, ...entry.settings });
    try {
      // A copy: a warmup registered while this one runs is run by its own registration.
      for (const warmup of [...entry.warmups]) await runWarmup(warmup, session);
    } catch (error) {
      await session.release();
      throw error;
    }
    entry.signature = signatureOf(session);
    entry.session = session;
    this.counters.loads += 1;
    if (entry.everLoaded) this.counters.reloads += 1;
    entry.everLoaded = true;
    this.trim();
    return session;
  }

  /** Evicts idle sessions, least recently used first, until the bounds hold (with room for `incoming` bytes). */
  private trim(incomingBytes?: number): void {
    const maxSessions = this.options.maxSessions ?? 8;
    const maxBytes = this.options.maxBytes ?? Number.POSITIVE_INFINITY;
    const extraCount = incomingBytes === undefined ? 0 : 1;
    const extraBytes = incomingBytes ?? 0;
    const idle = [...this.entries.values()]
      .filter((e) => e.session && e.leases === 0)
      .sort((a, b) => a.lastUsed - b.lastUsed);
    for (const victim of idle) {
      const { loadedSessions, loadedBytes } = this.stats();
      if (loadedSessions + extraCount <= maxSessions && loadedBytes + extraBytes <= maxBytes) return;
      const session = victim.session!;
      victim.session = undefined;
      this.counters.evictions += 1;
      void session.release();
    }
  }

  private async forget(entry: Entry): Promise<void> {
    if (this.entries.get(entry.key) !== entry) return;
    this.entries.delete(entry.key);
    const session = entry.session ?? (await entry.loading?.catch(() => undefined));
    entry.session = undefined;
    await session?.release();
  }
}

async function runWarmup(warmup: Warmup, session: InferenceSession): Promise<void> {
  try {
    await warmup(session);
  } catch (error) {
    if (error instanceof InvalidModelError) throw error;
    throw new InvalidModelError(`the model failed its warm-up run: ${errorMessage(error)}`);
  }
}

async function readModelFile(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    throw new InvalidModelError(`the model file cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}
