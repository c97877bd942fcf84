// Split mode's sync `infer` with real processes: one API process (`api/main.ts api`, preloaded
// with a guard that fails on any load of onnxruntime) and two worker processes (`… worker`),
// beside the test platform that provides the database, the realm and the demo catalogue, and
// answers as all-in-one mode does. Calls through the API process run on a worker, answer what
// all-in-one answers (outputs and errors alike), deployments and stops reach the workers, and a
// worker killed with SIGKILL costs nothing but a failover — or, with none left, a clear
// RATE_LIMITED "retry shortly". Replicas: an endpoint is held by at most maxReplicas workers,
// and a lost replica is loaded again by the next worker in line.
//
// The workers are shared by the tests; the one that kills them runs last.
import path from 'node:path';
import { scaleModel } from '../model-runtime/engine/__fixtures__/tiny-models';
import { workersInLine } from '../model-runtime/runtime/replica-placement';
import { CREATE_VERSION, INFER, STOP, codes, createModel, deploy, tensorModel, upload } from './fixtures/model-factory';
import { silenceSpeechSilence, wavBytes } from './fixtures/media';
import { deployTensorEndpoint, tensorItem } from './harness/model-factory';
import { counter, kill, spawnPlatform, type PlatformChild } from './harness/platform-processes';
import { startTestPlatform, type ApiClient, type TestPlatform } from './harness/test-platform';
import { until } from './harness/wait';

jest.setTimeout(60_000);

const SPLIT = { HEARTBEAT_SECONDS: '1', DEVICE_TIMEOUT_SECONDS: '3', WORKER_SLOTS: '0' };

let tp: TestPlatform;
let api: PlatformChild;
let workers: PlatformChild[];
let viaApi: ApiClient;
let vad: string;

const uuidOf = (globalId: string) => Buffer.from(globalId, 'base64url').toString().split(':')[1];
const sql = <T = any>(query: string, params: unknown[] = []) =>
  tp.platform.db.withSystem('test: inspect', (em) => em.query(query, params)) as Promise<T[]>;
/** Endpoint ids each live worker advertises, by worker node. */
const advertised = async () => Object.fromEntries((await sql<{ node: string; endpoints: string[] }>(
  `SELECT node, endpoints::text[] AS endpoints FROM inference_worker WHERE last_heartbeat_at > now() - interval '3 seconds'`))
  .map((r) => [r.node, r.endpoints]));
/** Calls of silero-vad the workers' own runtimes counted. */
const servedByWorkers = async () => {
  let sum = 0;
  for (const w of workers.filter((p) => p.child.exitCode === null && p.child.signalCode === null)) {
    sum += await counter(w.url, 'alliance_inference_requests_total', 'endpoint="casia/silero-vad-pair"');
  }
  return sum;
};
const speech = () => wavBytes(silenceSpeechSilence(0.5, 1, 0.5, 16_000), 16_000);

beforeAll(async () => {
  tp = await startTestPlatform({ env: { DEMO_MODELS: 'true', WORKER_SLOTS: '0' } });
  const list = await tp.as('alice', `{ endpoints(first: 10) { edges { node { id name modelVersion { id } } } } }`);
  const demo = Object.fromEntries(list.endpoints.edges.map((e: any) => [e.node.name, e.node]));
  // Silero VAD on both workers (two replicas); the demo endpoints themselves (one replica each)
  // are stopped, which spares the workers loading them.
  vad = (await deploy(tp, 'alice', demo['silero-vad'].modelVersion.id, { name: 'silero-vad-pair', maxReplicas: 2 })).id;
  for (const name of ['silero-vad', 'paddleocr-ch']) await tp.as('alice', STOP, { id: demo[name].id });
  [api, ...workers] = await Promise.all([
    spawnPlatform(tp, 'api', SPLIT, { preload: [path.join(__dirname, 'harness/no-onnxruntime.js')] }),
    spawnPlatform(tp, 'worker', { ...SPLIT, WORKER_NODE: 'split-w1' }),
    spawnPlatform(tp, 'worker', { ...SPLIT, WORKER_NODE: 'split-w2' }),
  ]);
  viaApi = tp.at(api.url);
  // Workers load READY endpoints before they join the directory.
  await until('both workers serving silero-vad', async () => {
    const rows = await advertised();
    return rows['split-w1']?.includes(uuidOf(vad)) && rows['split-w2']?.includes(uuidOf(vad));
  }, 30_000);
});
afterAll(async () => {
  await Promise.all([api, ...(workers ?? [])].filter(Boolean).map(kill));
  await tp?.close();
});

it('infer through the API process runs on a worker and answers what all-in-one answers; the API process never loads onnxruntime', async () => {
  const wav = speech();
  const inputs = [{ audioBase64: wav.toString('base64') }];
  const before = await servedByWorkers();
  const split = await viaApi.as('carol', INFER, { id: vad, inputs });
  const allInOne = await tp.as('carol', INFER, { id: vad, inputs });
  expect(split.infer.outputs).toEqual(allInOne.infer.outputs);
  expect(split.infer.outputs[0].segments).toHaveLength(1);
  expect(split.infer.deviceSeconds).toBeGreaterThan(0);
  expect(split.infer.computeUnits).toBeGreaterThan(0);
  expect(await servedByWorkers()).toBe(before + 1);

  // A blob the API resolved to bytes crosses the hop as bytes.
  const blobId = await upload(viaApi, 'carol', wav, 'audio/wav');
  const fromBlob = await viaApi.as('carol', INFER, { id: vad, inputs: [{ blobId }] });
  expect(fromBlob.infer.outputs).toEqual(allInOne.infer.outputs);
  expect(await servedByWorkers()).toBe(before + 2);

  // Calls are metered where they are charged, in the API process; the guard preloaded there
  // throws on any load of onnxruntime, so a call that ran in that process would have failed.
  expect(await counter(api.url, 'alliance_inference_requests_total', 'endpoint="casia/silero-vad-pair"')).toBe(2);
  expect(api.child.exitCode).toBeNull();
});

it('a bad input answers BAD_USER_INPUT with the message all-in-one gives, naming the same input', async () => {
  const inputs = [{ audioBase64: speech().toString('base64') }, { audioBase64: '%%% not base64 %%%' }];
  const token = await tp.token('carol');
  const split = await viaApi.gql(INFER, { id: vad, inputs }, { token });
  const allInOne = await tp.gql(INFER, { id: vad, inputs }, { token });
  expect(codes(split)).toEqual(['BAD_USER_INPUT']);
  expect(split.errors![0].message).toBe(allInOne.errors![0].message);
  expect(split.errors![0].message).toMatch(/inputs\[1\]/);
  expect(split.errors![0].extensions).toEqual(allInOne.errors![0].extensions);
});

it('models registered and endpoints deployed and stopped through the API process reach the workers; another tenant gets NOT_FOUND', async () => {
  // createModelVersion inspects the file on a worker; deployEndpoint loads it on both (two replicas).
  const { endpointId } = await deployTensorEndpoint(viaApi, 'alice', 'casia', 'split-scale', scaleModel(3), { maxReplicas: 2 });
  const id = uuidOf(endpointId);
  expect(await advertised()).toMatchObject({ 'split-w1': expect.arrayContaining([id]), 'split-w2': expect.arrayContaining([id]) });

  const own = await viaApi.as('alice', INFER, { id: endpointId, inputs: [tensorItem([1, 2, 3])] });
  expect(own.infer.outputs[0].y).toMatchObject({ dims: [1, 3], data: [3, 6, 9] });
  const stranger = await viaApi.gql(INFER, { id: endpointId, inputs: [tensorItem([1, 2, 3])] }, { token: await viaApi.token('bob') });
  expect(codes(stranger)).toEqual(['NOT_FOUND']);
  const wrongShape = await viaApi.gql(INFER, { id: endpointId, inputs: [tensorItem([1, 2, 3]), { x: { type: 'float32', dims: [1, 2], data: [1, 2] } }] },
    { token: await viaApi.token('alice') });
  expect(codes(wrongShape)).toEqual(['BAD_USER_INPUT']);
  expect(wrongShape.errors![0].message).toMatch(/inputs\[1\].*dims \[1,2\]/);

  // A file that is no model is refused by the worker's ONNX Runtime, in all-in-one's words.
  const notAModel = { modelId: (await createModel(viaApi, 'alice')).id, blobId: await upload(viaApi, 'alice', 'not an onnx file'), handler: 'tensor' };
  const refused = await viaApi.gql(CREATE_VERSION, { input: notAModel }, { token: await viaApi.token('alice') });
  const refusedInProcess = await tp.gql(CREATE_VERSION, { input: notAModel }, { token: await tp.token('alice') });
  expect(codes(refused)).toEqual(['BAD_USER_INPUT']);
  expect(refused.errors![0].message).toBe(refusedInProcess.errors![0].message);

  // More replicas at least than there are workers: FAILED, saying what is missing.
  const { version: lonely } = await tensorModel(viaApi, 'alice', 4);
  const short = await deploy(viaApi, 'alice', lonely.id, { minReplicas: 3, maxReplicas: 3 });
  expect(short).toMatchObject({ status: 'FAILED',
    failureReason: "it asks for at least 3 replicas, but 2 workers serving accelerator 'cpu' are running; start more or lower minReplicas, and deploy again" });

  await viaApi.as('alice', STOP, { id: endpointId });
  const rows = await advertised();
  expect(rows['split-w1']).not.toContain(id);
  expect(rows['split-w2']).not.toContain(id);
  const stopped = await viaApi.gql(INFER, { id: endpointId, inputs: [tensorItem([1, 2, 3])] }, { token: await viaApi.token('alice') });
  expect(codes(stopped)).toEqual(['CONFLICT']);
});

it('a worker that joins loads what it is now in line for and the workers it replaces let go; when it dies, they take it back', async () => {
  // Eight single-replica endpoints: with three workers, each is likely to move for some of them.
  const spread: string[] = [];
  for (let i = 0; i < 8; i++) spread.push(uuidOf((await deployTensorEndpoint(viaApi, 'alice', 'casia', `split-spread-${i}`, scaleModel(2))).endpointId));
  const replicas = new Map([...spread.map((e) => [e, 1] as const), [uuidOf(vad), 2]]);
  /** True when exactly `nodes` are live and every endpoint is held by exactly the workers in line for it. */
  const placedInLine = async (nodes: string[]) => {
    const rows = await sql<{ id: string; node: string; endpoints: string[] }>(
      `SELECT id, node, endpoints::text[] AS endpoints FROM inference_worker WHERE last_heartbeat_at > now() - interval '3 seconds'`);
    if (rows.map((r) => r.node).sort().join() !== [...nodes].sort().join()) return false;
    return [...replicas].every(([endpoint, max]) =>
      workersInLine(endpoint, max, rows).map((r) => r.node).sort().join() === rows.filter((r) => r.endpoints.includes(endpoint)).map((r) => r.node).sort().join());
  };
  await until('each endpoint on the workers in line among two', () => placedInLine(['split-w1', 'split-w2']), 10_000);
  const third = await spawnPlatform(tp, 'worker', { ...SPLIT, WORKER_NODE: 'split-w3' });
  try {
    await until('each endpoint on the workers in line among three', () => placedInLine(['split-w1', 'split-w2', 'split-w3']), 30_000);
  } finally {
    await kill(third);
  }
  await until('each endpoint back on the workers in line among two', () => placedInLine(['split-w1', 'split-w2']), 30_000);
  for (const e of spread) await viaApi.as('alice', STOP, { id: Buffer.from(`Endpoint:${e}`).toString('base64url') });
});

it('a SIGKILLed worker: calls move to the other one, its single replicas are loaded again there; with none left, RATE_LIMITED "retry shortly" — never a hang or a stack', async () => {
  const { version } = await tensorModel(viaApi, 'alice', 5); // registered while workers live, deployed when none do
  const inputs = [{ audioBase64: speech().toString('base64') }];
  const token = await viaApi.token('carol');

  // One replica (the default): one worker holds it, and still only one after both have reconciled.
  const deployedAt = Date.now();
  const single = await deployTensorEndpoint(viaApi, 'alice', 'casia', 'split-single', scaleModel(7));
  const holders = async () => Object.entries(await advertised()).filter(([, held]) => held.includes(uuidOf(single.endpointId))).map(([node]) => node);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, deployedAt + 2_500 - Date.now())));
  const [holder, ...others] = await holders();
  expect(others).toEqual([]);
  const holderIndex = holder === 'split-w1' ? 0 : 1;
  const survivor = holderIndex === 0 ? 'split-w2' : 'split-w1';

  await kill(workers[holderIndex]);
  for (let i = 0; i < 4; i++) {
    const res = await viaApi.gql(INFER, { id: vad, inputs }, { token });
    expect(res.errors).toBeUndefined();
    expect(res.data!.infer.outputs[0].segments).toHaveLength(1);
  }
  // Once the dead worker's heartbeat lapses, the survivor is next in line and loads it.
  await until('the survivor holds the single replica', async () => (await holders()).join() === survivor, 20_000);
  const moved = await viaApi.as('alice', INFER, { id: single.endpointId, inputs: [tensorItem([1, 2, 3])] });
  expect(moved.infer.outputs[0].y.data).toEqual([7, 14, 21]);

  await kill(workers[1 - holderIndex]);
  const none = await viaApi.gql(INFER, { id: vad, inputs }, { token });
  expect(codes(none)).toEqual(['RATE_LIMITED']);
  expect(none.errors![0].message).toBe("no worker serving 'cpu' is reachable; retry shortly");
  expect(none.errors![0].extensions).toEqual({ code: 'RATE_LIMITED' });

  // Once their heartbeats lapse the workers leave the directory: the same answer, from it alone.
  await until('no live worker in the directory', async () => Object.keys(await advertised()).length === 0, 10_000);
  const gone = await viaApi.gql(INFER, { id: vad, inputs }, { token });
  expect(codes(gone)).toEqual(['RATE_LIMITED']);
  expect(gone.errors![0].message).toBe("no worker serving 'cpu' is reachable; retry shortly");
  // A deployment with nobody to load it fails with a reason that says what to start.
  const failed = await deploy(viaApi, 'alice', version.id);
  expect(failed).toMatchObject({ status: 'FAILED', failureReason: expect.stringMatching(/no worker serving accelerator 'cpu' is running/) });
  expect(api.child.exitCode).toBeNull();
});
