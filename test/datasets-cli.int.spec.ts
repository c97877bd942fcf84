// `alliance-hub datasets push` against a real platform — in-process through main() for the
// cases, and once as a real child process (TypeScript compiled on the fly by @swc/core) for the
// issue's "done when": a member uploads a folder, publishes it, shares it with one member, that
// member reads it while a third cannot — through the CLI, GraphQL and REST blobs — and the audit
// trail shows every step.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { main } from '../cli/main';
import type { CliIO } from '../cli/cli-context';
import { startTestPlatform, type TestPlatform } from './harness/test-platform';
import { downloadBlob, share, uniqueName } from './harness/datasets-factory';

let tp: TestPlatform;
let workDir: string;
beforeAll(async () => {
  tp = await startTestPlatform();
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'alliance-cli-'));
});
afterAll(async () => {
  await tp?.close();
  fs.rmSync(workDir, { recursive: true, force: true });
});

function sink(): Writable & { text: () => string } {
  const chunks: string[] = [];
  const w = new Writable({ write(chunk, _enc, done) { chunks.push(String(chunk)); done(); } });
  return Object.assign(w, { text: () => chunks.join('') });
}

async function run(user: string, args: string[], env: Record<string, string> = {}) {
  const stdout = sink();
  const stderr = sink();
  const io: CliIO = {
    stdout, stderr, interactive: false,
    env: { ALLIANCE_URL: tp.url, ALLIANCE_TOKEN: await tp.token(user), ...env },
  };
  const code = await main(['node', 'alliance-hub', ...args], io);
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}

function folder(name: string, files: Record<string, Buffer | string>): string {
  const dir = path.join(workDir, name);
  for (const [rel, content] of Object.entries(files)) {
    fs.mkdirSync(path.dirname(path.join(dir, rel)), { recursive: true });
    fs.writeFileSync(path.join(dir, rel), content);
  }
  return dir;
}

const VERSION = `query($id: ID!) { node(id: $id) { ... on DatasetVersion { version published itemCount
  dataset { id name modality visibility } items(first: 100) { edges { node { text metadata blob { id contentType size } } } } } } }`;

describe('datasets push (in-process)', () => {
  it('uploads a folder as a new version of a created dataset and prints the version id', async () => {
    const dir = folder('images', {
      'cat.png': Buffer.alloc(2000, 1), 'dog.jpg': Buffer.alloc(3000, 2), 'nested/bird.png': Buffer.alloc(500, 3), '.DS_Store': 'junk',
    });
    const name = uniqueName('cli-images');
    const res = await run('carol', ['datasets', 'push', dir, '--dataset', name, '--create', '--visibility', 'SHARED', '--publish']);
    expect(res.stderr).toContain('uploaded 3 files (5500 bytes)');
    expect(res.code).toBe(0);
    const versionId = res.stdout.trim();
    const data = await tp.as('carol', VERSION, { id: versionId });
    expect(data.node).toMatchObject({ version: 1, published: true, itemCount: 3, dataset: { name, modality: 'IMAGE', visibility: 'SHARED' } });
    expect(data.node.items.edges.map((e: any) => [e.node.metadata.path, e.node.blob.contentType, e.node.blob.size])).toEqual([
      ['cat.png', 'image/png', 2000], ['dog.jpg', 'image/jpeg', 3000], ['nested/bird.png', 'image/png', 500],
    ]);
    const bytes = await downloadBlob(tp, 'carol', data.node.items.edges[1].node.blob.id);
    expect(bytes.bytes.equals(Buffer.alloc(3000, 2))).toBe(true);

    // Pushing again by name adds version 2 (a draft without --publish); identical files dedupe.
    const again = await run('carol', ['datasets', 'push', dir, '-d', name]);
    expect(again.code).toBe(0);
    const second = await tp.as('carol', VERSION, { id: again.stdout.trim() });
    expect(second.node).toMatchObject({ version: 2, published: false, itemCount: 3 });
    expect(second.node.items.edges[0].node.blob.id).toBe(data.node.items.edges[0].node.blob.id);
  });

  it('pushes a JSONL file of texts, files and metadata into a dataset named by id', async () => {
    const dir = folder('jsonl', { 'clip1.wav': Buffer.alloc(800, 9) });
    const file = path.join(dir, 'items.jsonl');
    fs.writeFileSync(file, [
      JSON.stringify({ text: '一只猫在睡觉', metadata: { lang: 'zh' } }),
      '',
      JSON.stringify({ text: 'a spoken sentence', file: 'clip1.wav' }),
    ].join('\n'));
    const dataset = (await tp.as('carol', `mutation($n: String!) { createDataset(input: { name: $n, modality: MULTIMODAL, visibility: PRIVATE }) { id } }`,
      { n: uniqueName() })).createDataset;
    const res = await run('carol', ['datasets', 'push', file, '--dataset', dataset.id]);
    expect(res.code).toBe(0);
    const data = await tp.as('carol', VERSION, { id: res.stdout.trim() });
    expect(data.node.items.edges.map((e: any) => [e.node.text, e.node.metadata, e.node.blob?.contentType ?? null])).toEqual([
      ['一只猫在睡觉', { lang: 'zh' }, null],
      ['a spoken sentence', null, 'audio/wav'],
    ]);
  });

  it('fails with one clear line and exit code 1, before uploading anything, on bad input', async () => {
    const dir = folder('bad', { 'x.png': 'x' });
    const bad = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(bad, '{"text": "ok"}\n{"metadata": {}}\n');
    const cases: [string[], RegExp, Record<string, string>?][] = [
      [['datasets', 'push', dir, '-d', 'does-not-exist'], /no dataset named "does-not-exist"; pass --create/],
      [['datasets', 'push', bad, '-d', 'whatever', '--create'], /bad\.jsonl:2: needs "text", "file" or "blobId"/],
      [['datasets', 'push', path.join(dir, 'missing'), '-d', 'x'], /no such file or folder/],
      [['datasets', 'push', dir, '-d', 'x'], /no access token/, { ALLIANCE_TOKEN: '' }],
    ];
    const rowsBefore = await tp.as('carol', `{ datasets(filter: { owner: "iqiyi" }) { totalCount } }`);
    for (const [args, message, env] of cases) {
      const res = await run('carol', args, env);
      expect(res.code).toBe(1);
      expect(res.stderr).toMatch(message);
      expect(res.stdout).toBe('');
    }
    const rowsAfter = await tp.as('carol', `{ datasets(filter: { owner: "iqiyi" }) { totalCount } }`);
    expect(rowsAfter.datasets.totalCount).toBe(rowsBefore.datasets.totalCount);
    // A VIEWER is refused by the server, and the CLI says so.
    const viewer = await run('erin', ['datasets', 'push', dir, '-d', uniqueName(), '--create']);
    expect(viewer.code).toBe(1);
    expect(viewer.stderr).toMatch(/FORBIDDEN/);
  });
});

/** The real binary: node compiling cli/main.ts with @swc/core (as jest does), flags and env as a user gives them. */
function spawnCli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const register = `
    const swc = require('@swc/core'); const fs = require('fs');
    require.extensions['.ts'] = (m, filename) => m._compile(swc.transformSync(fs.readFileSync(filename, 'utf8'), { filename, swcrc: true }).code, filename);
    require('./cli/main.ts').main(['node', 'alliance-hub', ...process.argv.slice(1)]).then((code) => { process.exitCode = code; });`;
  return new Promise((resolve) => {
    execFile(process.execPath, ['-e', register, ...args], { cwd: path.join(__dirname, '..'), env: { PATH: process.env.PATH ?? '', ...env } },
      (err, stdout, stderr) => resolve({ code: err ? (err as { code?: number }).code ?? 1 : 0, stdout, stderr }));
  });
}

describe('done when: upload a folder, publish, share with one member; it reads, a third cannot', () => {
  it('works end to end through the CLI process, GraphQL and REST blobs, with the audit trail', async () => {
    const dir = folder('e2e', { 'a.png': Buffer.alloc(1234, 7), 'b.png': Buffer.alloc(4321, 8) });
    const name = uniqueName('e2e');
    const env = { ALLIANCE_URL: tp.url, ALLIANCE_TOKEN: await tp.token('carol') };
    const pushed = await spawnCli(['datasets', 'push', dir, '--dataset', name, '--create', '--modality', 'IMAGE', '--visibility', 'SHARED', '--publish'], env);
    expect(pushed.stderr).toContain('version 1: 2 items, published');
    expect(pushed.code).toBe(0);
    const versionId = pushed.stdout.trim();
    expect(Buffer.from(versionId, 'base64url').toString()).toMatch(/^DatasetVersion:/);

    const { node: version } = await tp.as('carol', VERSION, { id: versionId });
    await share(tp, 'carol', version.dataset.id, 'whu', { purpose: 'joint evaluation' });

    const grantee = await tp.as('bob', VERSION, { id: versionId });
    expect(grantee.node.itemCount).toBe(2);
    const blobId = grantee.node.items.edges[1].node.blob.id;
    const download = await downloadBlob(tp, 'bob', blobId);
    expect(download.status).toBe(200);
    expect(download.bytes.equals(Buffer.alloc(4321, 8))).toBe(true);

    const stranger = await tp.gql(VERSION, { id: versionId }, { token: await tp.token('alice') });
    expect(stranger.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    expect((await downloadBlob(tp, 'alice', blobId)).status).toBe(404);

    // The wrong flags, as a process: a usage error from commander, non-zero exit.
    const usage = await spawnCli(['datasets', 'push', dir, '--dataset', name, '--modality', 'SMELL'], env);
    expect(usage.code).not.toBe(0);
    expect(usage.stderr).toMatch(/SMELL/);

    const audit = await tp.as('carol', `query($id: ID!) { node(id: $id) { ... on Dataset { auditEvents { edges { node { action actor { username } } } } } } }`,
      { id: version.dataset.id });
    expect(audit.node.auditEvents.edges.map((e: any) => e.node.action)).toEqual(
      ['dataset.create', 'dataset.version.create', 'dataset.version.publish', 'dataset.grant']);
    expect(audit.node.auditEvents.edges.every((e: any) => e.node.actor.username === 'carol')).toBe(true);
  });
});
