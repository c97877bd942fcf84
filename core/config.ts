// One typed view of the environment, validated once at start. Every bad value is reported with
// its variable name and what would be accepted, all at once, so an operator fixes them in one go.
import os from 'node:os';
import path from 'node:path';

export type RunMode = 'all-in-one' | 'api' | 'worker';

export interface Config {
  mode: RunMode;
  env: 'development' | 'production' | 'test';
  port: number;
  host: string;
  /** Owner connection (migrations). Unset: an embedded PostgreSQL under dataDir. */
  databaseUrl?: string;
  /** Role-restricted connections used at run time; derived from databaseUrl when unset. */
  appDatabaseUrl?: string;
  systemDatabaseUrl?: string;
  /** Passwords for the derived app/system roles; generated and kept in dataDir when unset. */
  appDatabasePassword?: string;
  systemDatabasePassword?: string;
  dataDir: string;
  embeddedPostgresPort: number;
  /** Unset: the embedded development realm served by this process (its own origin). */
  keycloakUrl?: string;
  keycloakRealm: string;
  keycloakAudience: string;
  /** Minimum seconds between JWKS refetches triggered by an unknown key id. */
  jwksCooldownSec: number;
  /** How long a verified token is remembered (never past its exp); 0 verifies every request. */
  tokenCacheSec: number;
  publicUrl?: string;
  logLevel: string;
  /** Max bytes of one blob upload (POST /v1/blobs). */
  blobMaxBytes: number;
  /** Max bytes of a JSON request body (GraphQL). */
  bodyLimitBytes: number;
  shutdownGraceMs: number;
  /** Compute units per device-second by accelerator kind (Slurm TRESBillingWeights). */
  billingWeights: Record<string, number>;
  jobs: JobsConfig;
  /** Query limits, rate limits and production hardening: every knob of api/graphql/limits. */
  limits: LimitsConfig;
  inference: InferenceConfig;
}

/** Models, endpoints and synchronous inference (model-runtime/runtime). */
export interface InferenceConfig {
  /** Seed and deploy the demo models (paddleocr-ch, silero-vad) in all-in-one mode; off by default in tests. */
  demoModels: boolean;
  /** ONNX Runtime execution providers in preference order; unavailable ones fall back to cpu. */
  executionProviders: string[];
  /** Intra-op threads per session; 0 lets ONNX Runtime choose. */
  intraOpThreads: number;
  /**
   * Whether ONNX Runtime's intra-op threads spin while waiting for work (ONNX_INTRA_OP_SPINNING,
   * default false). Spinning shaves latency off a machine with cores to spare; here the engine
   * shares its cores with the API thread, PostgreSQL and clients, and spinning threads take CPU
   * they need (measured: VAD at c8 through the platform 0.79× → 0.89× of the engine alone).
   */
  intraOpSpinning: boolean;
  /** Loaded sessions kept at most (least recently used evicted when idle). */
  maxSessions: number;
  /** Queued items per endpoint beyond which `infer` answers RATE_LIMITED (the engine's OVERLOADED). */
  maxQueueSize: number;
  /** Inputs per `infer` request. */
  maxInputs: number;
  /**
   * A prepaid hold's lease (QUOTA_HOLD_TTL_MS): renewed while its process settles; a crashed
   * process's hold is released this long after its last renewal (tenants/quota-holds.ts).
   */
  quotaHoldTtlMs: number;
  /** Run the engine on a worker thread (default), not on the API's own event loop. */
  thread: boolean;
  /** Split mode's hop from API processes to workers (model-runtime/worker/inference-server.ts). */
  split: SplitInferenceConfig;
}

export interface SplitInferenceConfig {
  /** Where a worker process serves inference to API processes (INFERENCE_LISTEN, default 127.0.0.1:0 = any free port). */
  listenHost: string;
  listenPort: number;
  /** The URL a worker advertises (INFERENCE_ADVERTISE_URL); unset: derived from the listen address and the bound port. */
  advertiseUrl?: string;
  /** Shared by API processes and workers; unset: generated once into DATA_DIR/inference.secret. */
  secret?: string;
  /** An API process waits this long for a worker's answer to infer, undeploy or stats. */
  forwardTimeoutMs: number;
  /** Largest encoded call (inputs as JSON, resolved blobs as base64) or answer on the hop. */
  maxRequestBytes: number;
}

export interface LimitsConfig {
  /** Field nesting depth (Relay connections spend two levels per hop: edges, node). */
  maxDepth: number;
  maxAliases: number;
  maxDirectives: number;
  /** Lexical tokens per document: bounds parser CPU and memory before anything else runs. */
  maxTokens: number;
  /** Characters of the query text (variables count toward bodyLimitBytes instead). */
  maxQueryChars: number;
  /** Largest computed cost of one operation (api/graphql/limits/query-cost.ts). */
  maxCost: number;
  /** Cost of each root mutation field, on top of what it selects. */
  mutationCost: number;
  /** Hourly budget of a tenant (or of a user acting without one) unless an admin set another. */
  rateLimitPointsPerHour: number;
  /** A WebSocket whose unsent data passes this many bytes is closed as a slow consumer. */
  wsMaxBufferedBytes: number;
  /** Operations one WebSocket may have running at once (subscriptions included). */
  wsMaxOperations: number;
  /** Time allowed to receive a whole /graphql request (slow-loris defence); answered 408. */
  requestTimeoutMs: number;
  /** On outside production; GRAPHQL_INTROSPECTION=true|false overrides. */
  introspection: boolean;
  /** "Did you mean …" hints name schema fields even with introspection off: hidden in production. */
  hideSuggestions: boolean;
}

export interface JobsConfig {
  /** Scheduler pass interval; passes also run on every submit, finish and heartbeat change. */
  schedulerTickMs: number;
  /** A dispatched shard whose worker stops renewing it for this long is re-run elsewhere. */
  leaseSeconds: number;
  /** A device that missed heartbeats this long is taken out of the cluster. */
  deviceTimeoutSeconds: number;
  heartbeatSeconds: number;
  /** Fair-share usage halves after this long (Slurm PriorityDecayHalfLife). */
  fairShareHalfLifeSeconds: number;
  /** Target device time of one shard; a job is cut into shards of about this size. */
  shardTargetSeconds: number;
  maxShardItems: number;
  /** Reservation = estimate × margin, so measured cost rarely needs a top-up. */
  reserveMargin: number;
  /** This process's worker: node name, accelerator kind and slots (all-in-one and worker mode). */
  workerNode: string;
  workerKind: string;
  workerSlots: number;
}

type Env = Record<string, string | undefined>;

class ConfigErrors {
  readonly problems: string[] = [];
  add(name: string, value: string, expected: string): void {
    this.problems.push(`${name}=${JSON.stringify(value)}: expected ${expected}`);
  }
}

function int(env: Env, name: string, fallback: number, errors: ConfigErrors, min = 0, max = 2 ** 31): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) {
    errors.add(name, raw, `an integer from ${min} to ${max}`);
    return fallback;
  }
  return n;
}

function number(env: Env, name: string, fallback: number, errors: ConfigErrors, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) {
    errors.add(name, raw, `a number from ${min} to ${max}`);
    return fallback;
  }
  return n;
}

/** "cpu=1,h200=40" → { cpu: 1, h200: 40 }. */
function weights(env: Env, name: string, fallback: string, errors: ConfigErrors): Record<string, number> {
  const raw = env[name] || fallback;
  const out: Record<string, number> = {};
  for (const part of raw.split(',').map((p) => p.trim()).filter(Boolean)) {
    const [kind, value] = part.split('=');
    const w = Number(value);
    if (!kind || !/^[a-z0-9][a-z0-9._-]*$/.test(kind) || !Number.isFinite(w) || w <= 0) {
      errors.add(name, raw, 'comma-separated kind=weight pairs with positive weights, e.g. cpu=1,h200=40');
      return Object.fromEntries(fallback.split(',').map((p) => [p.split('=')[0], Number(p.split('=')[1])]));
    }
    out[kind] = w;
  }
  return out;
}

function url(env: Env, name: string, errors: ConfigErrors, protocols: string[]): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  try {
    const parsed = new URL(raw);
    if (!protocols.includes(parsed.protocol)) throw new Error('protocol');
    return raw.replace(/\/+$/, '');
  } catch {
    errors.add(name, raw, `a URL starting with ${protocols.map((p) => `${p}//`).join(' or ')}`);
    return undefined;
  }
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T, errors: ConfigErrors): T {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  if ((allowed as readonly string[]).includes(raw)) return raw as T;
  errors.add(name, raw, `one of ${allowed.join(', ')}`);
  return fallback;
}

/** "host:port", ":port" or "[v6]:port" → { listenHost, listenPort }. */
function listenAddress(env: Env, name: string, fallback: string, errors: ConfigErrors): { listenHost: string; listenPort: number } {
  const raw = env[name] || fallback;
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:[\]\s]*)):(\d{1,5})$/.exec(raw);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    errors.add(name, raw, 'host:port (e.g. 127.0.0.1:7070, 0.0.0.0:7070, [::]:7070, or port 0 for any free port)');
    return { listenHost: '127.0.0.1', listenPort: 0 };
  }
  return { listenHost: match[1] ?? (match[2] || '0.0.0.0'), listenPort: port };
}

function secretValue(env: Env, name: string, errors: ConfigErrors): string | undefined {
  const raw = env[name];
  if (raw === undefined || raw === '') return undefined;
  if (raw.length < 16 || /\s/.test(raw)) {
    errors.problems.push(`${name}: expected at least 16 characters without spaces (the value is not shown)`);
    return undefined;
  }
  return raw;
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n  ${problems.join('\n  ')}`);
  }
}

export function loadConfig(env: Env = process.env, argvMode?: string): Config {
  const errors = new ConfigErrors();
  const pg = ['postgres:', 'postgresql:'];
  const http = ['http:', 'https:'];
  const mode = oneOf<RunMode>({ MODE: argvMode ?? env.MODE }, 'MODE', ['all-in-one', 'api', 'worker'], 'all-in-one', errors);
  const nodeEnv = oneOf(env, 'NODE_ENV', ['development', 'production', 'test'] as const, 'development', errors);
  const config: Config = {
    mode,
    env: nodeEnv,
    port: int(env, 'PORT', 4000, errors, 0, 65535),
    host: env.HOST || '0.0.0.0',
    databaseUrl: url(env, 'DATABASE_URL', errors, pg),
    appDatabaseUrl: url(env, 'APP_DATABASE_URL', errors, pg),
    systemDatabaseUrl: url(env, 'SYSTEM_DATABASE_URL', errors, pg),
    appDatabasePassword: env.APP_DATABASE_PASSWORD || undefined,
    systemDatabasePassword: env.SYSTEM_DATABASE_PASSWORD || undefined,
    dataDir: path.resolve(env.DATA_DIR || '.data'),
    embeddedPostgresPort: int(env, 'EMBEDDED_PG_PORT', 0, errors, 0, 65535),
    keycloakUrl: url(env, 'KEYCLOAK_URL', errors, http),
    keycloakRealm: env.KEYCLOAK_REALM || 'alliance',
    keycloakAudience: env.KEYCLOAK_AUDIENCE || 'alliance-api',
    jwksCooldownSec: int(env, 'JWKS_COOLDOWN_SEC', 10, errors, 0, 3600),
    tokenCacheSec: int(env, 'TOKEN_CACHE_SEC', 60, errors, 0, 3600),
    publicUrl: url(env, 'PUBLIC_URL', errors, http),
    logLevel: oneOf(env, 'LOG_LEVEL', ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const,
      nodeEnv === 'test' ? 'silent' : 'info', errors),
    blobMaxBytes: int(env, 'BLOB_MAX_BYTES', 1024 ** 3, errors, 1),
    bodyLimitBytes: int(env, 'BODY_LIMIT_BYTES', 2 * 1024 ** 2, errors, 1024),
    shutdownGraceMs: int(env, 'SHUTDOWN_GRACE_MS', 10_000, errors, 0),
    billingWeights: weights(env, 'BILLING_WEIGHTS', 'cpu=1,ascend-910b=20,h200=40', errors),
    jobs: {
      schedulerTickMs: int(env, 'SCHEDULER_TICK_MS', 1000, errors, 50, 60_000),
      leaseSeconds: int(env, 'SHARD_LEASE_SECONDS', 30, errors, 1, 600),
      deviceTimeoutSeconds: int(env, 'DEVICE_TIMEOUT_SECONDS', 20, errors, 1, 3600),
      heartbeatSeconds: int(env, 'HEARTBEAT_SECONDS', 5, errors, 1, 600),
      fairShareHalfLifeSeconds: int(env, 'FAIR_SHARE_HALF_LIFE_SECONDS', 3600, errors, 1, 365 * 86400),
      shardTargetSeconds: number(env, 'SHARD_TARGET_SECONDS', 2, errors, 0.001, 3600),
      maxShardItems: int(env, 'MAX_SHARD_ITEMS', 256, errors, 1, 100_000),
      reserveMargin: number(env, 'RESERVE_MARGIN', 1.5, errors, 1, 100),
      workerNode: env.WORKER_NODE || os.hostname(),
      workerKind: env.WORKER_KIND || 'cpu',
      workerSlots: int(env, 'WORKER_SLOTS', 2, errors, 0, 1024),
    },
    inference: {
      demoModels: oneOf(env, 'DEMO_MODELS', ['true', 'false'] as const, nodeEnv === 'test' ? 'false' : 'true', errors) === 'true',
      executionProviders: (env.ONNX_EXECUTION_PROVIDERS || 'cpu').split(',').map((p) => p.trim()).filter(Boolean),
      intraOpThreads: int(env, 'ONNX_INTRA_OP_THREADS', 0, errors, 0, 256),
      intraOpSpinning: oneOf(env, 'ONNX_INTRA_OP_SPINNING', ['true', 'false'] as const, 'false', errors) === 'true',
      maxSessions: int(env, 'MODEL_MAX_SESSIONS', 8, errors, 1, 1024),
      maxQueueSize: int(env, 'INFER_MAX_QUEUE', 256, errors, 1, 1_000_000),
      maxInputs: int(env, 'INFER_MAX_INPUTS', 64, errors, 1, 10_000),
      quotaHoldTtlMs: int(env, 'QUOTA_HOLD_TTL_MS', 60_000, errors, 1000, 3_600_000),
      thread: oneOf(env, 'INFERENCE_THREAD', ['true', 'false'] as const, 'true', errors) === 'true',
      split: {
        ...listenAddress(env, 'INFERENCE_LISTEN', '127.0.0.1:0', errors),
        advertiseUrl: url(env, 'INFERENCE_ADVERTISE_URL', errors, http),
        secret: secretValue(env, 'INFERENCE_SECRET', errors),
        forwardTimeoutMs: int(env, 'INFERENCE_FORWARD_TIMEOUT_MS', 60_000, errors, 100, 3_600_000),
        maxRequestBytes: int(env, 'INFERENCE_MAX_REQUEST_BYTES', 256 * 1024 ** 2, errors, 64 * 1024, 2 * 1024 ** 3),
      },
    },
    limits: {
      maxDepth: int(env, 'GRAPHQL_MAX_DEPTH', 15, errors, 1, 1000),
      maxAliases: int(env, 'GRAPHQL_MAX_ALIASES', 15, errors, 0, 1000),
      maxDirectives: int(env, 'GRAPHQL_MAX_DIRECTIVES', 50, errors, 0, 1000),
      maxTokens: int(env, 'GRAPHQL_MAX_TOKENS', 2000, errors, 10, 1_000_000),
      maxQueryChars: int(env, 'GRAPHQL_MAX_QUERY_CHARS', 20_000, errors, 100, 10_000_000),
      maxCost: int(env, 'GRAPHQL_MAX_COST', 10_000, errors, 1),
      mutationCost: int(env, 'GRAPHQL_MUTATION_COST', 10, errors, 0, 1_000_000),
      rateLimitPointsPerHour: int(env, 'RATE_LIMIT_POINTS_PER_HOUR', 100_000, errors, 1),
      wsMaxBufferedBytes: int(env, 'WS_MAX_BUFFERED_BYTES', 4 * 1024 ** 2, errors, 1024),
      wsMaxOperations: int(env, 'WS_MAX_OPERATIONS', 100, errors, 1, 100_000),
      requestTimeoutMs: int(env, 'REQUEST_TIMEOUT_MS', 30_000, errors, 100, 3_600_000),
      introspection: oneOf(env, 'GRAPHQL_INTROSPECTION', ['true', 'false'] as const,
        nodeEnv === 'production' ? 'false' : 'true', errors) === 'true',
      hideSuggestions: nodeEnv === 'production',
    },
  };
  if (mode !== 'all-in-one' && !config.databaseUrl && !config.appDatabaseUrl) {
    errors.problems.push(`MODE=${mode} needs DATABASE_URL (split mode shares one external PostgreSQL)`);
  }
  if (mode !== 'all-in-one' && !config.keycloakUrl) {
    errors.problems.push(`MODE=${mode} needs KEYCLOAK_URL (the embedded realm only runs in all-in-one mode)`);
  }
  if (config.keycloakRealm && !/^[A-Za-z0-9_-]+$/.test(config.keycloakRealm)) {
    errors.add('KEYCLOAK_REALM', config.keycloakRealm, 'letters, digits, - and _');
  }
  if (errors.problems.length > 0) throw new ConfigError(errors.problems);
  return config;
}
