// `alliance-hub jobs submit --watch` and `alliance-hub quota` against a real platform: the watch
// follows the live subscription to the end and prints the final charge; errors are one line.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import type { CliIO } from '../cli/cli-context';
import { main } from '../cli/main';
import { scaleModel } from '../model-runtime/engine/__fixtures__/tiny-models';
import { deployTensorEndpoint, tensorItem } from './harness/model-factory';
import { startTestPlatform, type TestPlatform } from './harness/test-platform';

let tp: TestPlatform;
let dir: string;
beforeAll(async () => {
  tp = await startTestPlatform({ env: { WORKER_SLOTS: '2', SCHEDULER_TICK_MS: '200', MAX_SHARD_ITEMS: '3' } });
  await deployTensorEndpoint(tp, 'alice', 'casia', 'cli-scale', scaleModel(10));
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-jobs-cli-'));
});
afterAll(async () => {
  await tp?.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

function sink(): Writable & { text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({ write(chunk, _enc, done) { chunks.push(String(chunk)); done(); } });
  return Object.assign(w, { text: () => chunks.join('') });
}

async function run(user: string, args: string[]) {
  const stdout = sink();
  const stderr = sink();
  const io: CliIO = { stdout, stderr, interactive: false, env: { ALLIANCE_URL: tp.url, ALLIANCE_TOKEN: await tp.token(user) } };
  const code = await main(['node', 'alliance-hub', ...args], io);
  return { code, out: stdout.text(), err: stderr.text() };
}

it('submits a job from a JSONL file, watches it live to the end, and prints the charge', async () => {
  const file = path.join(dir, 'inputs.jsonl');
  fs.writeFileSync(file, Array.from({ length: 7 }, (_, i) => JSON.stringify(tensorItem([i, 0, 1]))).join('\n') + '\n');
  const dry = await run('alice', ['jobs', 'submit', '--endpoint', 'cli-scale', '--inputs', file, '--dry-run']);
  expect(dry.code).toBe(0);
  expect(dry.out).toMatch(/^7 items, .* admissible/);

  const res = await run('alice', ['jobs', 'submit', '--endpoint', 'cli-scale', '--inputs', file, '--watch']);
  expect(res.err).toMatch(/SUBMITTED/);
  expect(res.err).toMatch(/\[\d+\] SUCCEEDED SUCCEEDED 7\/7/);
  expect(res.code).toBe(0);
  expect(res.out).toMatch(/SUCCEEDED: 7 done, 0 failed of 7; charged [\d.]+ compute units/);

  const list = await run('alice', ['jobs', 'list', '--json']);
  const jobs = JSON.parse(list.out);
  expect(jobs.some((j: any) => j.status === 'SUCCEEDED' && j.progress.total === 7)).toBe(true);
});

it('prints the quota as a table and as JSON', async () => {
  const table = await run('alice', ['quota']);
  expect(table.code).toBe(0);
  expect(table.out).toMatch(/^TENANT\s+PERIOD\s+BUDGET/);
  expect(table.out).toMatch(/casia\s+\d{4}-\d{2}\s+10000/);
  const json = JSON.parse((await run('bob', ['quota', '--json'])).out);
  expect(json).toMatchObject({ budgetUnits: 5000, tenant: { slug: 'whu' } });
});

it('answers bad input with one clear line and a non-zero exit', async () => {
  const missing = await run('alice', ['jobs', 'submit', '--endpoint', 'no-such-endpoint', '--inputs', '/nope.jsonl']);
  expect(missing.code).toBe(1);
  expect(missing.err).toMatch(/^alliance-hub: .*(no such file|no endpoint)/);
  const foreign = await run('bob', ['jobs', 'submit', '--endpoint', 'cli-scale', '--inputs', path.join(dir, 'inputs.jsonl')]);
  expect(foreign.code).toBe(1);
  expect(foreign.err).toMatch(/no endpoint named "cli-scale" is visible/);
  expect(foreign.err.split('\n').filter(Boolean)).toHaveLength(1);
});
