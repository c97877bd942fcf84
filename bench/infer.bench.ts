// Synchronous inference through the platform against the engine called directly — the physical
// limit on this machine — in one run (issue 4, "Benchmark"):
//   (a) OCR images per second at concurrency 1 and 8            target: platform ≥ 0.9× direct
//   (b) VAD on 10-second clips per second at concurrency 1 and 8 target: platform ≥ 0.9× direct
//   (c) the VAD endpoint at concurrency 32, dynamic batching on (maxBatchSize 32) vs off (1),
//       each clip keeping its own recurrent state                target: ≥ 1.5×
//   (d) the latency the platform adds per request at concurrency 1 (p50 platform − p50 direct),
//       on a tiny tensor model (pure overhead) and on the 10-second VAD clip  target: < 2 ms
// Run:
//   cd /work/main && npx tsc --outDir dist/bench-infer --rootDir . --module node20 --target es2022 --types node \
//     --strict --strictPropertyInitialization false --skipLibCheck --esModuleInterop --resolveJsonModule \
//     --experimentalDecorators --emitDecoratorMetadata --useDefineForClassFields false \
//     bench/infer.bench.ts model-runtime/runtime/engine-thread.ts && node dist/bench-infer/bench/infer.bench.js
// (compiled inside the project, under the ignored dist/, because the platform finds its realm
// file relative to package.json; engine-thread.ts is named because it is loaded by path, as the
// model runtime's worker thread, not imported). BENCH_SECONDS (default 2) per side, scenario and round;
// BENCH_ROUNDS (default 5) rounds, each measuring both sides of a scenario in alternating slices
// (BENCH_SLICE_SECONDS, default 0.5, longer for slow scenarios); ratios are taken within a round
// and their median reported. Writes bench/results/infer.json.
// The platform's side is also attributed from its own /metrics (Apollo's time per operation and
// each hot-path SQL round trip). BENCH_CPU_PROF=<dir> writes the platform process's CPU profile.
//
// "platform" is everything a member's script pays: HTTP, token verification, tenant resolution,
// query cost and hourly budget, the endpoint lookup under row-level security, the quota check,
// the run (in-process runtime, the same engine), and charging (ledger entry + usage bucket).
// The platform starts on an embedded PostgreSQL in a temporary folder with the demo catalogue;
// the direct engine deploys the same model files with the same batching settings. The platform
// is a separate process (a server), the engine runs in the benchmark's own process. Closed loop:
// each of C clients sends its next request as soon as the previous one answers. Both sides get
// the same JSON inputs (base64 image / WAV), so decoding costs the same on both.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fork, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { startPlatform } from '../api/platform';
import { loadConfig } from '../core/config';
import { ModelEngine, buildOnnxModel, demoModelPaths } from '../model-runtime/engine';
import { renderText, silenceSpeechSilence, wavBytes } from '../test/fixtures/media';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 2);
/** A regular expression: only scenarios whose name matches run (e.g. 'tiny|floor'). */
const ONLY = process.env.BENCH_ONLY ? new RegExp(process.env.BENCH_ONLY) : undefined;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
/** The shortest slice of one side's measurement (see interleaved()). */
const SLICE_SECONDS = Number(process.env.BENCH_SLICE_SECONDS ?? 0.5);
const THREADS = Number(process.env.BENCH_THREADS ?? 2);
const CLIP_SECONDS = 10;
/** The pause between requests of the idle-machine latency rows: about one OCR or VAD run. */
const IDLE_MS = 70;

type Side = 'direct' | 'platform';

interface Measurement {
  scenario: string;
  side: Side;
  concurrency: number;
  itemsPerSecond: number;
  p50Ms: number;
  /** The runtime's own latency for a request (InferenceResult.latencyMs; the engine's on the direct side). */
  runtimeP50Ms: number;
  p95Ms: number;
  meanBatchSize: number;
  requests: number;
}

/** What the platform's own /metrics say its side of a measurement spent, as sums and counts. */
interface ServerTotals {
  graphqlSeconds: number;
  operations: number;
  /** The engine's own time for the batches it ran (model run, and the longest wait in the batcher). */
  engineRunSeconds: number;
  engineQueueSeconds: number;
  sql: Record<string, { seconds: number; calls: number }>;
}

async function serverTotals(url: string): Promise<ServerTotals> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const totals: ServerTotals = { graphqlSeconds: 0, operations: 0, engineRunSeconds: 0, engineQueueSeconds: 0, sql: {} };
  for (const line of text.split('\n')) {
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.startsWith('alliance_graphql_request_duration_seconds_sum{')) totals.graphqlSeconds += value;
    else if (line.startsWith('alliance_graphql_request_duration_seconds_count{')) totals.operations += value;
    else if (line.startsWith('alliance_inference_run_seconds_sum{')) totals.engineRunSeconds += value;
    else if (line.startsWith('alliance_inference_queue_seconds_sum{')) totals.engineQueueSeconds += value;
    // Round trips a request waited for, by function; those taken ahead of need as "<function> ahead".
    const sql = /^alliance_db_hot_path_seconds_(sum|count)\{(.*)\}/.exec(line);
    if (sql) {
      const fn = /function="(\w+)"/.exec(sql[2])![1];
      const entry = (totals.sql[sql[2].includes('waited="no"') ? `${fn} ahead` : fn] ??= { seconds: 0, calls: 0 });
      if (sql[1] === 'sum') entry.seconds += value;
      else entry.calls += value;
    }
  }
  return totals;
}

/** Per operation, in ms: Apollo's time for it, and each hot-path SQL function's round trips. */
function perOperation(before: ServerTotals, after: ServerTotals): Record<string, number> {
  const operations = after.operations - before.operations;
  const out: Record<string, number> = {
    graphqlMs: ((after.graphqlSeconds - before.graphqlSeconds) * 1000) / operations,
    engineRunMs: ((after.engineRunSeconds - before.engineRunSeconds) * 1000) / operations,
    engineQueueMs: ((after.engineQueueSeconds - before.engineQueueSeconds) * 1000) / operations,
  };
  for (const [fn, a] of Object.entries(after.sql)) {
    const b = before.sql[fn] ?? { seconds: 0, calls: 0 };
    out[fn] = ((a.seconds - b.seconds) * 1000) / operations;
    out[`${fn} calls`] = (a.calls - b.calls) / operations;
  }
  return out;
}

/** One request: the batch it ran in, and the runtime's own time for it where the side reports it. */
type Once = () => Promise<{ batchSize: number; runtimeMs?: number }>;

interface Run { latencies: number[]; batchSizes: number[]; runtimeMs: number[]; seconds: number }

const emptyRun = (): Run => ({ latencies: [], batchSizes: [], runtimeMs: [], seconds: 0 });

/**
 * C clients, each sending its next request as soon as the previous one answers (or `idleMs` after
 * it: the machine then idles between requests, as it does while a model runs), for `seconds`.
 */
async function closedLoop(concurrency: number, seconds: number, once: Once, into?: Run, idleMs = 0): Promise<Run> {
  const run = into ?? emptyRun();
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      const t = performance.now();
      const { batchSize, runtimeMs } = await once();
      run.latencies.push(performance.now() - t);
      run.batchSizes.push(batchSize);
      if (runtimeMs !== undefined) run.runtimeMs.push(runtimeMs);
      if (idleMs) await new Promise((resolve) => setTimeout(resolve, idleMs));
    }
  }));
  run.seconds += (performance.now() - started) / 1000;
  return run;
}

function summarise(run: Run) {
  const latencies = [...run.latencies].sort((a, b) => a - b);
  const runtimeMs = [...run.runtimeMs].sort((a, b) => a - b);
  return {
    itemsPerSecond: latencies.length / run.seconds,
    p50Ms: latencies[Math.floor(latencies.length * 0.5)],
    runtimeP50Ms: runtimeMs.length ? runtimeMs[Math.floor(runtimeMs.length * 0.5)] : NaN,
    p95Ms: latencies[Math.floor(latencies.length * 0.95)],
    meanBatchSize: run.batchSizes.reduce((a, b) => a + b, 0) / run.batchSizes.length,
    requests: latencies.length,
  };
}

/**
 * Both sides of a pair for `seconds` each, in alternating slices (ABBA…): this machine's speed
 * changes for seconds at a time (the same engine alone runs a 10-second clip in 80 ms or in
 * 130 ms, by turns), and a side measured in one stretch could land wholly in a slow one. A slice
 * is at least SLICE_SECONDS and at least 4 requests' time at the slower side's warm-up p50, so
 * the requests still in flight at its end (a closed loop's drain) stay a small part of it.
 */
async function interleaved(concurrency: number, seconds: number, sides: Array<[Side, Once]>, warmupP50Ms: number, idleMs = 0) {
  const slice = Math.max(SLICE_SECONDS, (4 * (warmupP50Ms + idleMs)) / 1000);
  const slices = Math.max(1, Math.round(seconds / slice));
  const runs = new Map<Side, Run>(sides.map(([side]) => [side, emptyRun()]));
  for (let i = 0; i < slices; i++) {
    for (const [side, once] of i % 2 ? [...sides].reverse() : sides) await closedLoop(concurrency, slice, once, runs.get(side), idleMs);
  }
  return runs;
}

/** The tiny model of (d): y = x · 2, x float32 [N, 3]. */
function tinyModel(): Uint8Array {
  return buildOnnxModel({
    inputs: [{ name: 'x', type: 'float32', shape: ['N', 3] }],
    outputs: [{ name: 'y', type: 'float32', shape: ['N', 3] }],
    initializers: [{ name: 'k', dims: [1], values: [2] }],
    nodes: [{ opType: 'Mul', inputs: ['x', 'k'], outputs: ['y'] }],
  });
}

interface PlatformAddress {
  url: string;
  issuer: string;
  /** A bare node:http server in the platform's process answering what `{ __typename }` answers. */
  bareUrl: string;
}

class Client {
  private readonly tokens = new Map<string, { token: Promise<string>; at: number }>();
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });
  constructor(private readonly platform: PlatformAddress) {}

  /** A token per user, renewed every minute (the realm's tokens live a few minutes; a run is longer). */
  token(user: string): Promise<string> {
    const cached = this.tokens.get(user);
    if (cached && performance.now() - cached.at < 60_000) return cached.token;
    const token = fetch(`${this.platform.issuer}/protocol/openid-connect/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ grant_type: 'password', client_id: 'alliance-cli', username: user, password: user }),
    }).then(async (res) => ((await res.json()) as { access_token: string }).access_token);
    this.tokens.set(user, { token, at: performance.now() });
    return token;
  }

  gql(user: string, query: string, variables: Record<string, unknown> = {}): Promise<any> {
    return this.post(user, JSON.stringify({ query, variables }));
  }

  /**
   * A request whose JSON body is built once by the caller, as load generators send theirs, over
   * node:http with kept-alive connections (lighter than fetch: the client shares the cores).
   */
  async post(user: string, body: string | Buffer): Promise<any> {
    const token = await this.token(user);
    const answer = JSON.parse(await this.send(token, body)) as { data?: any; errors?: unknown[] };
    if (answer.errors) throw new Error(JSON.stringify(answer.errors));
    return answer.data;
  }

  private send(token: string, body: string | Buffer, retried = false): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      const req = http.request(`${this.platform.url}/graphql`, {
        method: 'POST',
        agent: this.agent,
        headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), authorization: `Bearer ${token}` },
      }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (chunk: Buffer) => chunks.push(chunk));
        res.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
        res.on('error', reject);
      });
      req.on('error', (error: NodeJS.ErrnoException) => {
        // A kept-alive socket the server closed for idleness just as it was reused: send again
        // once on a fresh one (the pattern node:http documents for reusedSocket).
        if (!retried && req.reusedSocket && error.code === 'ECONNRESET') resolve(this.send(token, body, true));
        else reject(error);
      });
      req.end(body);
    });
  }

  async upload(user: string, bytes: Uint8Array): Promise<string> {
    const res = await fetch(`${this.platform.url}/v1/blobs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${await this.token(user)}`, 'content-type': 'application/octet-stream' },
      body: Buffer.from(bytes),
    });
    return ((await res.json()) as { id: string }).id;
  }
}

const INFER = `mutation Infer($id: ID!, $inputs: [JSON!]!) { infer(endpointId: $id, inputs: $inputs) { outputs batchSize computeUnits latencyMs } }`;

/**
 * The platform runs in a child process, as a server does: the benchmark's HTTP client (JSON of
 * 10-second WAVs, undici) must not share the server's JavaScript thread, which the handlers'
 * pre- and post-processing also run on. The direct engine runs in the parent.
 */
async function platformChild(): Promise<void> {
  const dataDir = mkdtempSync(join(tmpdir(), 'alliance-hub-bench-'));
  const config = loadConfig({
    NODE_ENV: 'development', PORT: '0', HOST: '127.0.0.1', DATA_DIR: dataDir, LOG_LEVEL: 'warn',
    DEMO_MODELS: 'true', ONNX_INTRA_OP_THREADS: String(THREADS), INFER_MAX_QUEUE: '4096',
    // BENCH_INFERENCE_THREAD=false runs the engine on the server's own thread, to tell the
    // thread hand-off's share from the rest.
    INFERENCE_THREAD: process.env.BENCH_INFERENCE_THREAD ?? 'true',
    // The hourly query budget would stop a benchmark after a few thousand calls.
    RATE_LIMIT_POINTS_PER_HOUR: '1000000000',
  });
  const platform = await startPlatform(config, { seedDemo: true });
  // The floor of any HTTP API on this machine: the same client, the same loopback, the same
  // process, and nothing but reading the body and writing a fixed JSON answer.
  const bare = http.createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      res.setHeader('content-type', 'application/json');
      res.end('{"data":{"__typename":"Query"}}');
    });
  });
  await new Promise<void>((resolve) => bare.listen(0, '127.0.0.1', resolve));
  process.send!({ url: platform.url, issuer: platform.issuer, bareUrl: `http://127.0.0.1:${(bare.address() as AddressInfo).port}` });
  process.on('message', async () => {
    bare.close();
    await platform.close();
    rmSync(dataDir, { recursive: true, force: true });
    process.exit(0);
  });
}

function startChild(): Promise<{ child: ChildProcess; address: PlatformAddress }> {
  // BENCH_CPU_PROF=<dir>: the platform process writes a V8 CPU profile there when it exits.
  const profile = process.env.BENCH_CPU_PROF
    ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_CPU_PROF}`, `--cpu-prof-interval=${process.env.BENCH_CPU_PROF_INTERVAL_US ?? 1000}`] : [];
  const child = fork(__filename, [], { env: { ...process.env, INFER_BENCH_CHILD: '1' }, execArgv: [...process.execArgv, ...profile] });
  return new Promise((resolve, reject) => {
    child.once('message', (address) => resolve({ child, address: address as PlatformAddress }));
    child.once('exit', (code) => reject(new Error(`the platform process exited with ${code}`)));
  });
}

async function main(): Promise<void> {
  const loadBefore = loadavg();
  console.log(`infer bench: ${availableParallelism()} cores, intraOpNumThreads ${THREADS}, ${SECONDS} s per side and round, ${ROUNDS} rounds, `
    + `load average ${loadBefore.map((l) => l.toFixed(2)).join(' ')}`);
  const { child, address } = await startChild();
  const client = new Client(address);
  try {
    // The caller: bob of whu, calling casia's ALLIANCE demo endpoints, with a budget that lasts.
    await client.gql('admin', `mutation { setQuota(input: { tenantSlug: "whu", budgetUnits: 1000000000, guaranteedDevices: 1, borrowLimitDevices: 2 }) { budgetUnits } }`);
    const listed = await client.gql('alice', `{ endpoints(first: 50) { edges { node { id name modelVersion { id } } } } }`);
    const byName = Object.fromEntries(listed.endpoints.edges.map((e: any) => [e.node.name, e.node]));
    const deploy = async (modelVersionId: string, name: string, maxBatchSize: number, maxQueueDelayMs: number) =>
      (await client.gql('alice', `mutation($input: DeployEndpointInput!) { deployEndpoint(input: $input) { id status failureReason } }`,
        { input: { modelVersionId, name, maxBatchSize, maxQueueDelayMs } })).deployEndpoint;
    const vadOff = await deploy(byName['silero-vad'].modelVersion.id, 'silero-vad-unbatched', 1, 0);
    const tinyModelRow = (await client.gql('alice', `mutation { createModel(input: { name: "bench-tiny", task: "scaling", modality: TENSOR, visibility: ALLIANCE }) { id } }`)).createModel;
    const tinyVersion = (await client.gql('alice', `mutation($input: CreateModelVersionInput!) { createModelVersion(input: $input) { id } }`,
      { input: { modelId: tinyModelRow.id, blobId: await client.upload('alice', tinyModel()), handler: 'tensor' } })).createModelVersion;
    const tiny = await deploy(tinyVersion.id, 'bench-tiny', 8, 0);
    for (const e of [vadOff, tiny]) if (e.status !== 'READY') throw new Error(`deployment failed: ${e.failureReason}`);

    // The engine called directly, with the demo endpoints' settings (resolvers/models/demo-models.ts).
    // The platform's engine settings: the same threads, and no spinning (ONNX_INTRA_OP_SPINNING's default).
    const engine = new ModelEngine({ intraOpNumThreads: THREADS, intraOpSpinning: false });
    const paths = demoModelPaths();
    await engine.deploy('ocr', { modelPath: paths.ocrDetection, handler: 'ocr', maxBatchSize: 4, maxQueueDelayMs: 0, maxQueueSize: 4096 });
    await engine.deploy('vad', { modelPath: paths.vad, handler: 'vad', maxBatchSize: 32, maxQueueDelayMs: 2, maxQueueSize: 4096 });
    await engine.deploy('vad-off', { modelPath: paths.vad, handler: 'vad', maxBatchSize: 1, maxQueueDelayMs: 0, maxQueueSize: 4096 });
    await engine.deploy('tiny', { modelBytes: tinyModel(), handler: 'tensor', maxBatchSize: 8, maxQueueDelayMs: 0, maxQueueSize: 4096 });

    const png = await renderText(['识别中文文本', '电话 12345678', '模型推理服务平台']);
    const ocrInput = { imageBase64: png.toString('base64') };
    const vadWav = wavBytes(silenceSpeechSilence(3, CLIP_SECONDS - 6, 3, 16_000), 16_000);
    const vadInput = { audioBase64: vadWav.toString('base64') };
    // The same clip uploaded once as a blob and named by id (the contract's other input form for
    // media): no 430 KB of JSON per call. Informational beside (b), which sends the clip inline.
    const vadBlobInput = { blobId: await client.upload('bob', vadWav) };
    const tinyInput = { x: { type: 'float32', dims: [1, 3], data: [1, 2, 3] } };

    const sanity = await client.gql('bob', INFER, { id: byName['paddleocr-ch'].id, inputs: [ocrInput] });
    console.log(`  ocr sanity: ${sanity.infer.outputs[0].lines.map((l: { text: string }) => l.text).join(' | ')}`);
    const vadSanity = await client.gql('bob', INFER, { id: byName['silero-vad'].id, inputs: [vadInput] });
    console.log(`  vad sanity: ${JSON.stringify(vadSanity.infer.outputs[0].segments)}`);

    const direct = (key: string, input: unknown): Once => async () => {
      const { batchSize, latencyMs } = await engine.infer(key, [input]);
      return { batchSize, runtimeMs: latencyMs };
    };
    // The request body is serialised and UTF-8-encoded once per scenario: encoding a 10-second
    // clip's 430 KB of JSON on every call (≈ 2 ms here) would load the benchmark's client, which
    // shares the two cores with the server, for work that is no part of the platform (the direct
    // side reuses its input too).
    const viaPlatform = (endpointId: string, input: unknown): Once => {
      const body = Buffer.from(JSON.stringify({ query: INFER, variables: { id: endpointId, inputs: [input] } }));
      return async () => {
        const { infer } = await client.post('bob', body);
        return { batchSize: infer.batchSize, runtimeMs: infer.latencyMs };
      };
    };
    const floorOnce: Once = async () => {
      await client.gql('bob', '{ __typename }');
      return { batchSize: 1 };
    };
    const bareOnce: Once = async () => {
      const res = await fetch(address.bareUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query: '{ __typename }' }) });
      await res.json();
      return { batchSize: 1 };
    };

    /** idleMs: each client waits this long between requests (latency rows only; their rates mean nothing). */
    interface Pair { scenario: string; concurrency: number; direct?: Once; platform: Once; idleMs?: number }
    const pairs: Pair[] = [
      ...[1, 8].map((c) => ({ scenario: `ocr c${c}`, concurrency: c, direct: direct('ocr', ocrInput), platform: viaPlatform(byName['paddleocr-ch'].id, ocrInput) })),
      ...[1, 8].map((c) => ({ scenario: `vad 10s c${c}`, concurrency: c, direct: direct('vad', vadInput), platform: viaPlatform(byName['silero-vad'].id, vadInput) })),
      ...[1, 8].map((c) => ({ scenario: `vad 10s by blobId c${c}`, concurrency: c, direct: direct('vad', vadInput), platform: viaPlatform(byName['silero-vad'].id, vadBlobInput) })),
      { scenario: 'vad 10s c32 batching on', concurrency: 32, direct: direct('vad', vadInput), platform: viaPlatform(byName['silero-vad'].id, vadInput) },
      { scenario: 'vad 10s c32 batching off', concurrency: 32, direct: direct('vad-off', vadInput), platform: viaPlatform(vadOff.id, vadInput) },
      { scenario: 'tiny tensor c1', concurrency: 1, direct: direct('tiny', tinyInput), platform: viaPlatform(tiny.id, tinyInput) },
      // The platform's floor for any operation (HTTP, token, tenant, query cost and budget), to
      // tell what `infer` itself adds from what every GraphQL call pays.
      { scenario: 'graphql { __typename } c1', concurrency: 1, platform: floorOnce },
      { scenario: 'bare node:http c1', concurrency: 1, platform: bareOnce },
      // The same two with the machine idle between requests, as it is while OCR or VAD runs at
      // c1 (70 ms): a thread woken on an idle vCPU of this VM (guest halt-polling off) and cold
      // caches make every hop dearer, so these are what (a) and (b) at c1 pay per request.
      { scenario: `tiny tensor c1, ${IDLE_MS} ms apart`, concurrency: 1, direct: direct('tiny', tinyInput), platform: viaPlatform(tiny.id, tinyInput), idleMs: IDLE_MS },
      { scenario: `bare node:http c1, ${IDLE_MS} ms apart`, concurrency: 1, platform: bareOnce, idleMs: IDLE_MS },
    ].filter((pair) => !ONLY || ONLY.test(pair.scenario));

    // The machine is shared and its speed drifts, over minutes and for seconds at a time. Each
    // round measures both sides of a pair in alternating slices (interleaved()), and every ratio
    // is taken within a round, then the median over rounds is reported.
    const samples = new Map<string, Array<{ direct: Measurement; platform: Measurement }>>();
    /** Server-side means per operation of the platform's side, per scenario and round. */
    const server = new Map<string, Record<string, number>[]>();
    for (let round = 1; round <= ROUNDS; round++) {
      console.log(`round ${round}/${ROUNDS} (load ${loadavg()[0].toFixed(2)})`);
      for (const pair of pairs) {
        const measured: Partial<Record<Side, Measurement>> = {};
        const order: Side[] = round % 2 ? ['direct', 'platform'] : ['platform', 'direct'];
        const sides = order.flatMap((side): Array<[Side, Once]> => (pair[side] ? [[side, pair[side]!]] : []));
        let warmupP50Ms = 0;
        for (const [, once] of sides) warmupP50Ms = Math.max(warmupP50Ms, summarise(await closedLoop(pair.concurrency, Math.min(1, SECONDS / 4), once)).p50Ms);
        // Only the platform's side reaches the server, so its /metrics between these two reads
        // are that side's alone.
        const before = sides.some(([side]) => side === 'platform') && !pair.scenario.startsWith('bare') ? await serverTotals(address.url) : undefined;
        const runs = await interleaved(pair.concurrency, SECONDS, sides, warmupP50Ms, pair.idleMs);
        if (before) server.set(pair.scenario, [...(server.get(pair.scenario) ?? []), perOperation(before, await serverTotals(address.url))]);
        for (const side of order) {
          const run = runs.get(side);
          measured[side] = run
            ? { scenario: pair.scenario, side, concurrency: pair.concurrency, ...summarise(run) }
            : { scenario: pair.scenario, side, concurrency: pair.concurrency, itemsPerSecond: NaN, p50Ms: 0, runtimeP50Ms: NaN, p95Ms: 0, meanBatchSize: NaN, requests: 0 };
        }
        const d = measured.direct!;
        const p = measured.platform!;
        process.stdout.write(`  ${pair.scenario.padEnd(28)} direct ${d.itemsPerSecond.toFixed(1).padStart(8)}/s p50 ${d.p50Ms.toFixed(2).padStart(8)} ms`
          + ` | platform ${p.itemsPerSecond.toFixed(1).padStart(7)}/s p50 ${p.p50Ms.toFixed(2).padStart(8)} ms\n`);
        samples.set(pair.scenario, [...(samples.get(pair.scenario) ?? []), { direct: d, platform: p }]);
      }
    }
    await engine.close();

    const median = (values: number[]) => [...values].sort((x, y) => x - y)[Math.floor(values.length / 2)];
    const rows = pairs.map(({ scenario }) => {
      const ms = samples.get(scenario)!;
      return {
        scenario,
        directPerSecond: median(ms.map((m) => m.direct.itemsPerSecond)),
        platformPerSecond: median(ms.map((m) => m.platform.itemsPerSecond)),
        ratio: median(ms.map((m) => m.platform.itemsPerSecond / m.direct.itemsPerSecond)),
        directP50Ms: median(ms.map((m) => m.direct.p50Ms)),
        platformP50Ms: median(ms.map((m) => m.platform.p50Ms)),
        addedP50Ms: median(ms.map((m) => m.platform.p50Ms - m.direct.p50Ms)),
        directRuntimeP50Ms: median(ms.map((m) => m.direct.runtimeP50Ms)),
        platformRuntimeP50Ms: median(ms.map((m) => m.platform.runtimeP50Ms)),
        directMeanBatch: median(ms.map((m) => m.direct.meanBatchSize)),
        platformMeanBatch: median(ms.map((m) => m.platform.meanBatchSize)),
      };
    });
    // Scenarios left out by BENCH_ONLY read as NaN.
    const missing = { ratio: NaN, addedP50Ms: NaN, platformP50Ms: NaN };
    const row = (scenario: string) => rows.find((r) => r.scenario === scenario) ?? missing;
    console.log('\n| scenario | direct /s | platform /s | platform ÷ direct | direct p50 ms | platform p50 ms | added p50 ms | mean batch direct / platform |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    for (const r of rows) {
      if (r.scenario.startsWith('graphql') || r.scenario.startsWith('bare')) continue;
      console.log(`| ${r.scenario} | ${r.directPerSecond.toFixed(1)} | ${r.platformPerSecond.toFixed(1)} | ${r.ratio.toFixed(2)} | `
        + `${r.directP50Ms.toFixed(2)} | ${r.platformP50Ms.toFixed(2)} | ${r.addedP50Ms.toFixed(2)} | ${r.directMeanBatch.toFixed(1)} / ${r.platformMeanBatch.toFixed(1)} |`);
    }
    // Where the platform's time goes, from its own /metrics: means per operation, medians over
    // rounds. Apollo's time is from the operation's start to its response (no HTTP, no body
    // parsing); each SQL function is a single round trip an operation waits for when memory
    // cannot answer — a rate-limit lease, an endpoint lookup (overlapping the lease), a quota
    // hold growing, a `{ blobId }` input's blob — shown as its wait per operation and its calls
    // per 100 operations. Leases and holds topped up ahead of need are waited for by no
    // operation: they are left out here (the JSON has them as "<function> ahead").
    const fns = ['app_rate_limit_lease', 'app_infer_endpoint', 'app_quota_hold_take', 'app_readable_blob'];
    // Beside them, the runtime's own latency per request (p50, decoding to answer) on each side:
    // when the platform's exceeds the direct engine's, the model itself ran slower in the server
    // (sharing its two cores), which no request-path work explains.
    console.log('\n| scenario (platform side, server means per operation) | runtime p50 ms platform / direct | Apollo ms | engine run + batcher wait ms | rate-limit lease ms (calls/100 ops) | endpoint lookup ms (calls/100) | quota hold take ms (calls/100) | blob lookup ms (calls/100) |');
    console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
    const serverRows = Object.fromEntries([...server].map(([scenario, list]) => {
      const m = (key: string) => median(list.map((r) => r[key] ?? 0));
      return [scenario, { apolloMs: m('graphqlMs'), engineMs: m('engineRunMs') + m('engineQueueMs'), ...Object.fromEntries(fns.flatMap((fn) => [[fn, m(fn)], [`${fn} calls`, m(`${fn} calls`)], [`${fn} ahead calls`, m(`${fn} ahead calls`)]])) }];
    }));
    for (const [scenario, r] of Object.entries(serverRows)) {
      const cell = (fn: string) => `${(r as Record<string, number>)[fn].toFixed(2)} (${((r as Record<string, number>)[`${fn} calls`] * 100).toFixed(1)})`;
      const runtime = rows.find((x) => x.scenario === scenario);
      const runtimeCell = runtime && !Number.isNaN(runtime.platformRuntimeP50Ms)
        ? `${runtime.platformRuntimeP50Ms.toFixed(2)} / ${runtime.directRuntimeP50Ms.toFixed(2)}` : '—';
      console.log(`| ${scenario} | ${runtimeCell} | ${r.apolloMs.toFixed(2)} | ${r.engineMs.toFixed(2)} | ${fns.map(cell).join(' | ')} |`);
    }
    const on = samples.get('vad 10s c32 batching on');
    const off = samples.get('vad 10s c32 batching off');
    const gain = (side: Side) => (on && off ? median(on.map((m, i) => m[side].itemsPerSecond / off[i][side].itemsPerSecond)) : NaN);
    const floor = row('graphql { __typename } c1').platformP50Ms;
    const bare = row('bare node:http c1').platformP50Ms;
    const summary = {
      ocrRatioC1: row('ocr c1').ratio,
      ocrRatioC8: row('ocr c8').ratio,
      vadRatioC1: row('vad 10s c1').ratio,
      vadRatioC8: row('vad 10s c8').ratio,
      vadByBlobRatioC1: row('vad 10s by blobId c1').ratio,
      vadByBlobRatioC8: row('vad 10s by blobId c8').ratio,
      vadBatchingGainPlatformC32: gain('platform'),
      vadBatchingGainDirectC32: gain('direct'),
      addedLatencyP50MsTiny: row('tiny tensor c1').addedP50Ms,
      addedLatencyP50MsVad10s: row('vad 10s c1').addedP50Ms,
      graphqlFloorP50Ms: floor,
      bareHttpP50Ms: bare,
      inferOverFloorP50MsTiny: row('tiny tensor c1').addedP50Ms - floor,
      addedOverBareHttpP50MsTiny: row('tiny tensor c1').addedP50Ms - bare,
      addedLatencyP50MsTinyIdle: row(`tiny tensor c1, ${IDLE_MS} ms apart`).addedP50Ms,
      bareHttpP50MsIdle: row(`bare node:http c1, ${IDLE_MS} ms apart`).platformP50Ms,
    };
    console.log(`\n(a) OCR platform ÷ direct: c1 ${summary.ocrRatioC1.toFixed(2)}×, c8 ${summary.ocrRatioC8.toFixed(2)}× (target ≥ 0.9)`);
    console.log(`(b) VAD 10 s platform ÷ direct: c1 ${summary.vadRatioC1.toFixed(2)}×, c8 ${summary.vadRatioC8.toFixed(2)}× (target ≥ 0.9); `
      + `the clip uploaded once and named by blobId: c1 ${summary.vadByBlobRatioC1.toFixed(2)}×, c8 ${summary.vadByBlobRatioC8.toFixed(2)}×`);
    console.log(`(c) VAD c32 batching on ÷ off: platform ${summary.vadBatchingGainPlatformC32.toFixed(2)}×, direct ${summary.vadBatchingGainDirectC32.toFixed(2)}× (target ≥ 1.5)`);
    console.log(`(d) platform added latency, p50 at c1: tiny model ${summary.addedLatencyP50MsTiny.toFixed(2)} ms, VAD 10 s ${summary.addedLatencyP50MsVad10s.toFixed(2)} ms`
      + ` (target < 2 ms). Of the tiny model's: a bare node:http round trip from this client is ${bare.toFixed(2)} ms,`
      + ` any GraphQL call ({ __typename }) ${floor.toFixed(2)} ms, infer's own path ${summary.inferOverFloorP50MsTiny.toFixed(2)} ms.`
      + ` With the machine idle ${IDLE_MS} ms between requests, as at (a) and (b) c1: the tiny model adds ${summary.addedLatencyP50MsTinyIdle.toFixed(2)} ms,`
      + ` of which a bare node:http round trip is ${summary.bareHttpP50MsIdle.toFixed(2)} ms`);

    const target = join(process.cwd(), 'bench', 'results');
    mkdirSync(target, { recursive: true });
    const json = {
      when: new Date().toISOString(), cores: availableParallelism(), intraOpNumThreads: THREADS, secondsPerScenario: SECONDS, rounds: ROUNDS,
      // A shared machine: other processes' load makes absolute numbers move; ratios of interleaved rounds less so.
      loadAverageBefore: loadBefore, loadAverageAfter: loadavg(),
      clipSeconds: CLIP_SECONDS, ocrImage: { lines: 3, bytes: png.length }, summary, rows, server: serverRows, samples: Object.fromEntries(samples),
    };
    writeFileSync(join(target, 'infer.json'), JSON.stringify(json, null, 2));
    console.log(`\n${JSON.stringify(summary, null, 2)}\nwrote ${join(target, 'infer.json')}`);
  } finally {
    child.send('stop');
    await new Promise((resolve) => child.once('exit', resolve));
  }
}

(process.env.INFER_BENCH_CHILD ? platformChild() : main()).then(() => {
  if (!process.env.INFER_BENCH_CHILD) process.exit(0);
}, (error) => {
  console.error(error);
  process.exit(1);
});
