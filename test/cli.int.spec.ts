// The everyday CLI against a running platform, in-process through main(argv, io): login (token
// stored 0600 and used, renewed, forgotten), tenants, models push (upload + model + version),
// endpoints deploy/list, infer, usage tables (and who used my assets), datasets list — each
// with --json for scripts and one-line errors.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { scaleModel } from '../model-runtime/engine/__fixtures__/tiny-models';
import type { CliIO } from '../cli/cli-context';
import { main } from '../cli/main';
import { startTestPlatform, type TestPlatform } from './harness/test-platform';

let tp: TestPlatform;
let home: string;
let modelFile: string;

beforeAll(async () => {
  tp = await startTestPlatform({ env: { BILLING_WEIGHTS: 'cpu=5000,ascend-910b=20,h200=40' } });
  home = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-cli-home-'));
  modelFile = path.join(home, 'scale.onnx');
  fs.writeFileSync(modelFile, scaleModel(4));
});
afterAll(async () => {
  await tp?.close();
  fs.rmSync(home, { recursive: true, force: true });
});

function sink(): Writable & { text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({ write(chunk, _enc, done) { chunks.push(String(chunk)); done(); } });
  return Object.assign(w, { text: () => chunks.join('') });
}

/** Runs the CLI; `as` a demo user passes their token in ALLIANCE_TOKEN, `home` uses the stored login. */
async function run(args: string[], opts: { as?: string; home?: string; env?: Record<string, string> } = {}) {
  const stdout = sink();
  const stderr = sink();
  const env: Record<string, string> = { ALLIANCE_URL: tp.url, ...opts.env };
  if (opts.as) env.ALLIANCE_TOKEN = await tp.token(opts.as);
  if (opts.home) env.HOME = opts.home;
  const io: CliIO = { stdout, stderr, interactive: false, env };
  const code = await main(['node', 'alliance-hub', ...args], io);
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

const credentials = () => path.join(home, '.config', 'alliance-hub', 'credentials.json');

describe('login', () => {
  it('stores the token readable by the user only, and other commands use it', async () => {
    const res = await run(['login', '--username', 'alice', '--password', 'alice'], { home });
    expect(res).toMatchObject({ code: 0 });
    expect(res.stdout).toMatch(/signed in to .* as alice; tenants: casia \(OWNER\)/);
    const stat = fs.statSync(credentials());
    expect(stat.mode & 0o777).toBe(0o600);
    expect(fs.statSync(path.dirname(credentials())).mode & 0o077).toBe(0);
    const stored = JSON.parse(fs.readFileSync(credentials(), 'utf8'))[new URL(tp.url).origin];
    expect(stored).toMatchObject({ username: 'alice', clientId: 'alliance-cli', accessToken: expect.any(String), refreshToken: expect.any(String) });

    const tenants = await run(['tenants', '--json'], { home });
    expect(tenants.code).toBe(0);
    expect(JSON.parse(tenants.stdout)).toEqual([expect.objectContaining({ slug: 'casia', role: 'OWNER', acting: true })]);
  });

  it('renews a stored token about to expire with its refresh token', async () => {
    const file = credentials();
    const all = JSON.parse(fs.readFileSync(file, 'utf8'));
    const origin = new URL(tp.url).origin;
    const before = all[origin].accessToken;
    all[origin].expiresAt = Date.now() + 5_000;
    fs.writeFileSync(file, JSON.stringify(all), { mode: 0o600 });
    // Tokens carry second-resolution times: make sure the renewed one differs.
    await new Promise((r) => setTimeout(r, 1_100));
    const res = await run(['tenants'], { home });
    expect(res.code).toBe(0);
    expect(res.stdout).toMatch(/\*\s+casia\s+CAS Institute of Automation\s+OWNER/);
    const after = JSON.parse(fs.readFileSync(file, 'utf8'))[origin];
    expect(after.accessToken).not.toBe(before);
    expect(after.expiresAt).toBeGreaterThan(Date.now() + 60_000);
    expect(fs.statSync(file).mode & 0o777).toBe(0o600);
  });

  it('answers a wrong password, an expired session and no session in one line each', async () => {
    const other = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-cli-other-'));
    try {
      const wrong = await run(['login', '-u', 'bob', '-p', 'nope'], { home: other });
      expect(wrong.code).toBe(1);
      expect(wrong.stderr).toMatch(/^alliance-hub: sign-in refused: .+\n$/);
      expect(fs.existsSync(path.join(other, '.config', 'alliance-hub', 'credentials.json'))).toBe(false);

      const none = await run(['tenants'], { home: other });
      expect(none.code).toBe(1);
      expect(none.stderr).toMatch(/^alliance-hub: no access token: run `alliance-hub login`/);

      await run(['login', '-u', 'bob', '-p', 'bob'], { home: other });
      const file = path.join(other, '.config', 'alliance-hub', 'credentials.json');
      const all = JSON.parse(fs.readFileSync(file, 'utf8'));
      const origin = new URL(tp.url).origin;
      Object.assign(all[origin], { expiresAt: Date.now() - 1, refreshExpiresAt: Date.now() - 1 });
      fs.writeFileSync(file, JSON.stringify(all), { mode: 0o600 });
      const expired = await run(['tenants'], { home: other });
      expect(expired.code).toBe(1);
      expect(expired.stderr).toMatch(/^alliance-hub: the sign-in of bob at .* has expired: run `alliance-hub login` again\n$/);

      const out = await run(['logout'], { home: other });
      expect(out.stdout).toMatch(/signed out/);
      expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({});
    } finally {
      fs.rmSync(other, { recursive: true, force: true });
    }
  });
});

describe('models, endpoints, infer', () => {
  let versionId: string;

  it('pushes an ONNX file: upload with progress, a new model, version 1; again: version 2', async () => {
    const res = await run(['models', 'push', modelFile, '--name', 'cli-scale', '--handler', 'tensor', '--visibility', 'ALLIANCE'], { home });
    expect(res.code).toBe(0);
    expect(res.stderr).toContain(`scale.onnx: uploaded ${fs.statSync(modelFile).size} of ${fs.statSync(modelFile).size} bytes`);
    expect(res.stderr).toContain('created model "cli-scale" (ALLIANCE) in casia');
    expect(res.stderr).toMatch(/cli-scale version 1 \(tensor\): x float32\[.*\] → y float32/);
    versionId = res.stdout.trim();
    const again = await run(['models', 'push', modelFile, '-n', 'cli-scale', '-H', 'tensor', '--json'], { home });
    expect(again.code).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ version: 2 });
    const list = await run(['models', 'list', '--owner', 'casia'], { home });
    expect(list.stdout).toMatch(/cli-scale\s+casia\s+ALLIANCE\s+tensor\s+2\s+tensor/);
    const bad = await run(['models', 'push', path.join(home, 'missing.onnx'), '-n', 'x', '-H', 'tensor'], { home });
    expect(bad).toMatchObject({ code: 1, stderr: expect.stringMatching(/^alliance-hub: .*missing\.onnx: no such file\n$/) });
    const notOnnx = path.join(home, 'not-a-model.onnx');
    fs.writeFileSync(notOnnx, 'hello');
    const refused = await run(['models', 'push', notOnnx, '-n', 'cli-broken', '-H', 'tensor'], { home });
    expect(refused).toMatchObject({ code: 1, stderr: expect.stringMatching(/^alliance-hub: .*not-a-model\.onnx does not look like an ONNX model.*\n$/) });
    // Nothing was uploaded or created for it.
    expect((await run(['models', 'list', '--json'], { home })).stdout).not.toContain('cli-broken');
    // A file that passes the local check but not the server's: the server's reason, in one line.
    fs.writeFileSync(notOnnx, Buffer.from([0x08, 0x07, 0x12, 0x03, 0x61, 0x62]));
    const rejected = await run(['models', 'push', notOnnx, '-n', 'cli-broken', '-H', 'tensor'], { home });
    expect(rejected.code).toBe(1);
    expect(rejected.stderr.trim().split('\n').pop()).toMatch(/^alliance-hub: BAD_USER_INPUT: .+; model "cli-broken" was created without a version/);
  });

  it('deploys the model as an endpoint and lists it', async () => {
    const res = await run(['endpoints', 'deploy', '--model', 'cli-scale', '--version', '1', '--name', 'cli-scale-v1', '--max-batch-size', '4'], { home });
    expect(res.code).toBe(0);
    expect(res.stderr).toMatch(/cli-scale-v1: READY on cpu \(cli-scale v1, tensor\)/);
    const list = await run(['endpoints', 'list', '--json'], { home });
    const mine = JSON.parse(list.stdout).find((e: any) => e.name === 'cli-scale-v1');
    expect(mine).toMatchObject({ id: res.stdout.trim(), status: 'READY', maxBatchSize: 4, modelVersion: { version: 1 } });
    const table = await run(['endpoints', 'list'], { home });
    expect(table.stdout).toMatch(/cli-scale-v1\s+casia\s+READY\s+casia\/cli-scale v1\s+tensor\s+cpu\s+4/);
    expect(versionId).toBeTruthy();
  });

  it('runs inference from --input JSON and @file, and bob (whu) calls the ALLIANCE endpoint too', async () => {
    const input = JSON.stringify({ x: { type: 'float32', dims: [1, 3], data: [1, 2, 3] } });
    const res = await run(['infer', 'cli-scale-v1', '--input', input], { home });
    expect(res.code).toBe(0);
    expect(JSON.parse(res.stdout.trim())).toMatchObject({ y: { dims: [1, 3], data: [4, 8, 12] } });
    expect(res.stderr).toMatch(/1 input on cli-scale-v1: [\d.]+ device-seconds, [\d.]+ compute units/);
    const file = path.join(home, 'inputs.jsonl');
    fs.writeFileSync(file, [input, JSON.stringify({ x: { type: 'float32', dims: [1, 3], data: [0, 0, 1] } })].join('\n'));
    const many = await run(['infer', 'cli-scale-v1', '--input', `@${file}`, '--json'], { home });
    expect(JSON.parse(many.stdout).outputs.map((o: any) => o.y.data)).toEqual([[4, 8, 12], [0, 0, 4]]);
    const bob = await run(['infer', 'casia/cli-scale-v1', '-i', input], { as: 'bob' });
    expect(bob.code).toBe(0);
    const broken = await run(['infer', 'cli-scale-v1', '--input', '{not json'], { home });
    expect(broken).toMatchObject({ code: 1, stderr: expect.stringMatching(/^alliance-hub: --input '\{not json' is not valid JSON: .+\n$/) });
    const unknown = await run(['infer', 'no-such-endpoint', '--input', input], { home });
    expect(unknown.stderr).toBe('alliance-hub: no endpoint "no-such-endpoint" is visible to this tenant (see: alliance-hub endpoints list)\n');
  });
});

describe('usage and datasets', () => {
  it('prints usage by model and by day as tables with a total, and as JSON', async () => {
    const byModel = await run(['usage', '--by', 'model'], { home });
    expect(byModel.code).toBe(0);
    const lines = byModel.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^MODEL\s+COMPUTE UNITS\s+DEVICE SECONDS\s+JOBS\s+REQUESTS\s+ID$/);
    expect(lines.some((l) => /^cli-scale\s+[\d.]+\s+[\d.]+\s+0\s+2\s+\S+$/.test(l))).toBe(true);
    expect(lines[lines.length - 1]).toMatch(/^TOTAL\s+[\d.]+\s+[\d.]+\s+0\s+2$/);
    const json = await run(['usage', '--by', 'day', '--json'], { home });
    const days = JSON.parse(json.stdout);
    expect(days).toEqual([expect.objectContaining({ key: new Date().toISOString().slice(0, 10), requests: 2 })]);
    const [ledger] = await tp.platform.db.withSystem('test', (em) => em.query(
      `SELECT coalesce(sum(units_milli), 0)::bigint AS milli FROM ledger_entry e JOIN tenant t ON t.id = e.tenant_id WHERE t.slug = 'casia' AND kind = 'CAPTURE'`));
    expect(Math.round(days[0].computeUnits * 1000)).toBe(Number(ledger.milli));
    const today = new Date().toISOString().slice(0, 10);
    const window = await run(['usage', '--by', 'user', '--from', today, '--to', `${today}T23:59:59Z`], { home });
    expect(window.stdout).toMatch(/^alice\s+/m);
  });

  it("shows who used my assets, and refuses a bad window in one line", async () => {
    const assets = await run(['usage', '--assets'], { home });
    expect(assets.code).toBe(0);
    expect(assets.stdout).toMatch(/^CONSUMER\s+KIND\s+ASSET\s+JOBS\s+ITEMS\s+REQUESTS\s+COMPUTE UNITS\n/);
    expect(assets.stdout).toMatch(/^whu\s+Model\s+cli-scale\s+0\s+1\s+1\s+[\d.]+$/m);
    const none = await run(['usage', '--assets', '--json'], { as: 'carol' });
    expect(JSON.parse(none.stdout)).toEqual([]);
    const backwards = await run(['usage', '--from', '2026-03-01', '--to', '2026-02-01'], { home });
    expect(backwards).toMatchObject({ code: 1, stderr: expect.stringMatching(/^alliance-hub: --from .* must be before --to .*\n$/) });
    const tooLong = await run(['usage', '--from', '2024-01-01', '--to', '2026-01-01'], { home });
    expect(tooLong).toMatchObject({ code: 1, stderr: expect.stringMatching(/^alliance-hub: BAD_USER_INPUT: the window may span at most 366 days/) });
    const wrongBy = await run(['usage', '--by', 'week'], { home });
    expect(wrongBy.code).not.toBe(0);
    expect(wrongBy.stderr).toMatch(/argument 'week' is invalid/);
  });

  it('lists datasets the tenant may read', async () => {
    const res = await run(['datasets', 'list'], { as: 'bob' });
    expect(res.code).toBe(0);
    expect(res.stdout.split('\n')[0]).toMatch(/^NAME\s+OWNER\s+VISIBILITY\s+MODALITY\s+VERSION\s+ITEMS\s+ID$/);
    expect(res.stdout).toMatch(/\s+iqiyi\s+ALLIANCE\s+/);
    const json = await run(['datasets', 'list', '--owner', 'iqiyi', '--json'], { as: 'bob' });
    expect(JSON.parse(json.stdout).every((d: any) => d.owner.slug === 'iqiyi')).toBe(true);
  });
});
