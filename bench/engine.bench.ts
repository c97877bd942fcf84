// Model engine throughput: raw onnxruntime session.run against the engine (DynamicBatcher,
// handlers, session pool) for PP-OCRv4 Chinese OCR and Silero VAD, measured in the same run.
// Run:
//   cd /work/main && npx tsc --outDir /tmp/ahb-engine --module node20 --target es2022 --types node --skipLibCheck --esModuleInterop bench/engine.bench.ts \
//     && NODE_PATH=$PWD/node_modules node /tmp/ahb-engine/bench/engine.bench.js
// BENCH_SECONDS (default 3) per scenario and round, BENCH_ROUNDS (default 3) interleaved rounds
// whose median is reported. Writes bench/results/engine.json.
//
// "raw" is the floor: pre-built input tensors, session.run only (OCR: detection + one
// recognition run over the image's crops; VAD: the clip's 512-sample windows one by one). The
// engine rows include everything a request costs: base64/WAV/PNG decoding, pre- and
// post-processing, queueing and batching. Closed loop: each of C clients sends its next request
// as soon as the previous one answers.
//
// "staggered" VAD rows add a random think time (uniform 0–BENCH_THINK_MS, default 10 ms, seeded)
// before each request, so arrivals spread out as concurrent HTTP clients' do. The same run
// measures continuous batching (clips join a running batch between windows, the default) against
// whole-request batches (`continuous: false`), which there split into alternating partial batches.
// Engine VAD rows also count clips per session.run, a measure of batching that the machine's load
// does not disturb; the continuous / whole ratios are taken within each round and their median
// printed and written under `continuousGain`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { Handler, ModelEngine, VadHandler, VadHandlerConfig, demoModelPaths, defaultOcrAssets } from '../model-runtime/engine';
import { decodeImage } from '../model-runtime/engine/media-input';
import { detectBoxes, detectionInput, DEFAULT_DETECTION } from '../model-runtime/engine/ocr-detection';
import { recognitionInput, REC_HEIGHT, textCrop } from '../model-runtime/engine/ocr-recognition';
import { silenceSpeechSilence, wavBytes } from '../model-runtime/engine/__fixtures__/synthetic-speech';
import { renderText } from '../model-runtime/engine/__fixtures__/rendered-text';

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const THREADS = 2;
const CLIP_SECONDS = 4;
const THINK_MS = Number(process.env.BENCH_THINK_MS ?? 10);

interface Measurement {
  scenario: string;
  model: 'ocr' | 'vad';
  mode: 'raw' | 'engine';
  concurrency: number;
  batching?: 'on' | 'off';
  /** VAD with batching on: clips join running batches between windows, or batches are whole requests. */
  continuous?: boolean;
  /** Upper bound of each client's uniform random pause before a request (staggered arrivals). */
  thinkMs?: number;
  itemsPerSecond: number;
  p50Ms: number;
  p95Ms: number;
  meanBatchSize?: number;
  /** Engine VAD rows: clips per session.run, how well batching works, undisturbed by the machine's load (unlike items/s). */
  clipsPerRun?: number;
  ratioToRaw?: number;
}

const vadSteps = { runs: 0, clips: 0 };

/** The vad handler, counting its steps: whole batches (runBatch) and continuous runs both take them here. */
function countingVad(config: unknown): Handler {
  const handler = new VadHandler(config as VadHandlerConfig);
  const { step } = handler.stepwise;
  handler.stepwise.step = (run, clips) => {
    vadSteps.runs += 1;
    vadSteps.clips += clips.length;
    return step(run, clips);
  };
  return handler;
}

/** Seeded, so the on and off rows see the same pauses. */
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state * 1664525 + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

async function closedLoop(concurrency: number, seconds: number, once: () => Promise<number | void>, thinkMs = 0) {
  const latencies: number[] = [];
  const batchSizes: number[] = [];
  const started = performance.now();
  const deadline = started + seconds * 1000;
  await Promise.all(
    Array.from({ length: concurrency }, async (_, client) => {
      const pause = random(client + 1);
      while (performance.now() < deadline) {
        if (thinkMs > 0) await new Promise((resolve) => setTimeout(resolve, pause() * thinkMs));
        const t = performance.now();
        const batchSize = await once();
        latencies.push(performance.now() - t);
        if (typeof batchSize === 'number') batchSizes.push(batchSize);
      }
    }),
  );
  const elapsed = (performance.now() - started) / 1000;
  latencies.sort((a, b) => a - b);
  return {
    itemsPerSecond: latencies.length / elapsed,
    p50Ms: latencies[Math.floor(latencies.length * 0.5)],
    p95Ms: latencies[Math.floor(latencies.length * 0.95)],
    meanBatchSize: batchSizes.length ? batchSizes.reduce((a, b) => a + b, 0) / batchSizes.length : undefined,
  };
}

async function measure(
  base: Omit<Measurement, 'itemsPerSecond' | 'p50Ms' | 'p95Ms' | 'meanBatchSize' | 'clipsPerRun'>,
  once: () => Promise<number | void>,
): Promise<Measurement> {
  await closedLoop(base.concurrency, Math.min(1, SECONDS / 4), once, base.thinkMs);
  const before = { ...vadSteps };
  const result: Measurement = { ...base, ...(await closedLoop(base.concurrency, SECONDS, once, base.thinkMs)) };
  if (vadSteps.runs > before.runs) result.clipsPerRun = (vadSteps.clips - before.clips) / (vadSteps.runs - before.runs);
  process.stdout.write(`  ${base.scenario.padEnd(40)} ${result.itemsPerSecond.toFixed(1).padStart(8)} items/s\n`);
  return result;
}

async function rawSession(path: string): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(path, {
    executionProviders: ['cpu'], graphOptimizationLevel: 'all', intraOpNumThreads: THREADS,
    interOpNumThreads: 1, executionMode: 'sequential',
  });
}

async function rawOcr(png: Buffer): Promise<() => Promise<void>> {
  const assets = defaultOcrAssets();
  const [det, rec] = await Promise.all([rawSession(assets.detModelPath), rawSession(assets.recModelPath)]);
  const image = await decodeImage(png, 40_000_000);
  const detIn = await detectionInput(image, DEFAULT_DETECTION.limitSideLen);
  const detFeeds = { x: new ort.Tensor('float32', detIn.data, [1, 3, detIn.height, detIn.width]) };
  const probability = Object.values(await det.run(detFeeds))[0].data as Float32Array;
  const crops = detectBoxes(probability, detIn.width, detIn.height, image.width, image.height, DEFAULT_DETECTION).map(textCrop);
  const recIn = recognitionInput(crops.map(() => image), crops);
  const recFeeds = { x: new ort.Tensor('float32', recIn.data, [crops.length, 3, REC_HEIGHT, recIn.width]) };
  return async () => {
    await det.run(detFeeds);
    await rec.run(recFeeds);
  };
}

async function rawVad(samples: Float32Array): Promise<() => Promise<void>> {
  const session = await rawSession(demoModelPaths().vad);
  const sr = new ort.Tensor('int64', BigInt64Array.from([16000n]), []);
  const windows = Math.ceil(samples.length / 512);
  return async () => {
    let h: ort.Tensor = new ort.Tensor('float32', new Float32Array(128), [2, 1, 64]);
    let c: ort.Tensor = new ort.Tensor('float32', new Float32Array(128), [2, 1, 64]);
    for (let w = 0; w < windows; w++) {
      const chunk = new Float32Array(512);
      chunk.set(samples.subarray(w * 512, (w + 1) * 512));
      const out = await session.run({ input: new ort.Tensor('float32', chunk, [1, 512]), sr, h, c });
      h = out.hn;
      c = out.cn;
    }
  };
}

async function main(): Promise<void> {
  console.log(`engine bench: ${availableParallelism()} cores, intraOpNumThreads ${THREADS}, ${SECONDS} s per scenario, ${ROUNDS} rounds`);
  const png = await renderText(['识别中文文本', '电话 12345678', '模型推理服务平台']);
  const imageBase64 = png.toString('base64');
  const clip = silenceSpeechSilence(1, CLIP_SECONDS - 2, 1, 16_000);
  const audioBase64 = Buffer.from(wavBytes(clip, 16_000)).toString('base64');

  const engine = new ModelEngine({ intraOpNumThreads: THREADS, handlers: { vad: countingVad } });
  const paths = demoModelPaths();
  await engine.deploy('ocr', { modelPath: paths.ocrDetection, handler: 'ocr', maxBatchSize: 8, maxQueueDelayMs: 2, maxQueueSize: 1024 });
  await engine.deploy('vad', { modelPath: paths.vad, handler: 'vad', maxBatchSize: 32, maxQueueDelayMs: 2, maxQueueSize: 1024 });
  await engine.deploy('vad-whole', { modelPath: paths.vad, handler: 'vad', maxBatchSize: 32, maxQueueDelayMs: 2, maxQueueSize: 1024, continuous: false });
  await engine.deploy('vad-unbatched', { modelPath: paths.vad, handler: 'vad', maxBatchSize: 1, maxQueueDelayMs: 0, maxQueueSize: 1024 });
  const check = (await engine.infer('ocr', [{ imageBase64 }])).outputs[0] as { lines: Array<{ text: string }> };
  console.log(`  ocr sanity: ${check.lines.map((l) => l.text).join(' | ')}`);

  const ocrRaw = await rawOcr(png);
  const vadRaw = await rawVad(clip);
  const ocrEngine = async () => (await engine.infer('ocr', [{ imageBase64 }])).batchSize;
  const vadEngine = async () => (await engine.infer('vad', [{ audioBase64 }])).batchSize;
  const vadWhole = async () => (await engine.infer('vad-whole', [{ audioBase64 }])).batchSize;
  const vadUnbatched = async () => (await engine.infer('vad-unbatched', [{ audioBase64 }])).batchSize;

  type Base = Omit<Measurement, 'itemsPerSecond' | 'p50Ms' | 'p95Ms' | 'meanBatchSize' | 'clipsPerRun'>;
  const scenarios: Array<{ base: Base; once: () => Promise<number | void> }> = [];
  for (const concurrency of [1, 8]) {
    scenarios.push({ base: { scenario: `ocr raw c${concurrency}`, model: 'ocr', mode: 'raw', concurrency }, once: ocrRaw });
    scenarios.push({ base: { scenario: `ocr engine c${concurrency}`, model: 'ocr', mode: 'engine', concurrency, batching: 'on' }, once: ocrEngine });
  }
  // Continuous and whole rows side by side, so each pair sees the same background load.
  for (const concurrency of [1, 8, 32]) {
    scenarios.push({ base: { scenario: `vad raw c${concurrency}`, model: 'vad', mode: 'raw', concurrency }, once: vadRaw });
    scenarios.push({ base: { scenario: `vad engine c${concurrency}`, model: 'vad', mode: 'engine', concurrency, batching: 'on', continuous: true }, once: vadEngine });
    if (concurrency > 1) {
      scenarios.push({ base: { scenario: `vad engine c${concurrency} whole`, model: 'vad', mode: 'engine', concurrency, batching: 'on', continuous: false }, once: vadWhole });
    }
  }
  scenarios.push({ base: { scenario: 'vad engine c32 batching off', model: 'vad', mode: 'engine', concurrency: 32, batching: 'off' }, once: vadUnbatched });
  for (const concurrency of [8, 32]) {
    const staggered = { model: 'vad', concurrency, thinkMs: THINK_MS } as const;
    scenarios.push({ base: { ...staggered, scenario: `vad raw c${concurrency} staggered`, mode: 'raw' }, once: vadRaw });
    scenarios.push({ base: { ...staggered, scenario: `vad engine c${concurrency} staggered`, mode: 'engine', batching: 'on', continuous: true }, once: vadEngine });
    scenarios.push({ base: { ...staggered, scenario: `vad engine c${concurrency} staggered whole`, mode: 'engine', batching: 'on', continuous: false }, once: vadWhole });
  }

  // Rounds interleave all scenarios so raw and engine rows see the same background load on a
  // shared machine; each row reports its median round.
  const rounds: Measurement[][] = scenarios.map(() => []);
  for (let round = 1; round <= ROUNDS; round++) {
    console.log(`round ${round}/${ROUNDS}`);
    for (const [i, { base, once }] of scenarios.entries()) rounds[i].push(await measure(base, once));
  }
  const results = rounds.map((measured) => [...measured].sort((a, b) => a.itemsPerSecond - b.itemsPerSecond)[Math.floor(measured.length / 2)]);
  await engine.close();

  for (const r of results) {
    const raw = results.find((b) => b.mode === 'raw' && b.model === r.model && b.concurrency === r.concurrency && b.thinkMs === r.thinkMs);
    r.ratioToRaw = raw ? r.itemsPerSecond / raw.itemsPerSecond : undefined;
  }

  console.log('\n| scenario | items/s | p50 ms | p95 ms | mean batch | clips per run | × raw (same concurrency) |');
  console.log('| --- | ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const r of results) {
    console.log(`| ${r.scenario} | ${r.itemsPerSecond.toFixed(1)} | ${r.p50Ms.toFixed(1)} | ${r.p95Ms.toFixed(1)} | ${r.meanBatchSize?.toFixed(1) ?? '—'} | ${r.clipsPerRun?.toFixed(1) ?? '—'} | ${r.ratioToRaw?.toFixed(2)} |`);
  }
  const on = results.find((r) => r.scenario === 'vad engine c32')!;
  const off = results.find((r) => r.scenario === 'vad engine c32 batching off')!;
  console.log(`\nVAD at concurrency 32: batching on / off = ${(on.itemsPerSecond / off.itemsPerSecond).toFixed(2)}×`);
  // Continuous / whole ratios are taken within each round (adjacent rows) and their median reported.
  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const continuousGain = [undefined, THINK_MS].flatMap((thinkMs) => [8, 32].map((concurrency) => {
    const rowOf = (continuous: boolean) => scenarios.findIndex(({ base }) => base.thinkMs === thinkMs && base.continuous === continuous && base.concurrency === concurrency);
    const [continuous, whole] = [rounds[rowOf(true)], rounds[rowOf(false)]];
    const itemsPerSecond = median(continuous.map((c, round) => c.itemsPerSecond / whole[round].itemsPerSecond));
    const clipsPerRun = median(continuous.map((c, round) => c.clipsPerRun! / whole[round].clipsPerRun!));
    const arrivals = thinkMs === undefined ? 'back to back' : `staggered (think 0–${thinkMs} ms)`;
    console.log(`VAD ${arrivals} at concurrency ${concurrency}: continuous / whole batches = ${itemsPerSecond.toFixed(2)}× items/s,`
      + ` ${clipsPerRun.toFixed(2)}× clips per run`);
    return { concurrency, thinkMs: thinkMs ?? 0, itemsPerSecond, clipsPerRun };
  }));

  // Compiled to a temporary folder, so results go beside the sources in the working directory.
  const target = join(process.cwd(), 'bench', 'results');
  mkdirSync(target, { recursive: true });
  writeFileSync(join(target, 'engine.json'), JSON.stringify({
    when: new Date().toISOString(), cores: availableParallelism(), intraOpNumThreads: THREADS, secondsPerScenario: SECONDS, rounds: ROUNDS,
    clipSeconds: CLIP_SECONDS, thinkMs: THINK_MS, ocrImage: { lines: 3, bytes: png.length }, results, continuousGain,
  }, null, 2));
  console.log(`wrote ${join(target, 'engine.json')}`);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
