// The model registry through the real API: versions checked against their handler by ONNX
// Runtime, nothing written on refusal, numbering under concurrency, visibility and sharing
// (PRIVATE / SHARED with a live grant / ALLIANCE) on every path: lists, node(id), nested
// fields, blob downloads.
import { randomBytes } from 'node:crypto';
import { startTestPlatform, type TestPlatform } from './harness/test-platform';
import {
  CREATE_MODEL, CREATE_VERSION, codes, createModel, deploy, floatInput, INFER, scaleModel, tensorModel, upload, uniqueName,
} from './fixtures/model-factory';

let tp: TestPlatform;
beforeAll(async () => {
  tp = await startTestPlatform();
});
afterAll(async () => {
  await tp?.close();
});

async function versionRows(modelId: string): Promise<number> {
  const uuid = Buffer.from(modelId, 'base64url').toString().split(':')[1];
  const [{ n }] = await tp.platform.db.withSystem('test: count versions', (em) =>
    em.query('SELECT count(*)::int AS n FROM model_version WHERE model_id = $1', [uuid]));
  return n;
}

async function createVersion(user: string, input: Record<string, unknown>) {
  return tp.gql(CREATE_VERSION, { input }, { token: await tp.token(user) });
}

describe('createModelVersion', () => {
  it('records the signature ONNX Runtime reports (-1 for dynamic dimensions), the hash and the size', async () => {
    const model = await createModel(tp, 'dave');
    const file = scaleModel(2);
    const blobId = await upload(tp, 'dave', file);
    const res = await createVersion('dave', { modelId: model.id, blobId, handler: 'tensor' });
    expect(res.errors).toBeUndefined();
    expect(res.data!.createModelVersion).toMatchObject({
      version: 1, handler: 'tensor', sizeBytes: file.length,
      inputs: [{ name: 'x', type: 'float32', shape: [-1, 3] }], outputs: [{ name: 'y', type: 'float32', shape: [-1, 3] }],
      model: { id: model.id, name: model.name },
    });
    expect(res.data!.createModelVersion.sha256).toMatch(/^[0-9a-f]{64}$/);
  });

  it('refuses a corrupt or non-ONNX file with BAD_USER_INPUT saying why, and writes nothing', async () => {
    const model = await createModel(tp, 'dave');
    const valid = scaleModel(3);
    const truncated = valid.subarray(0, Math.floor(valid.length / 2));
    for (const bytes of [Buffer.from('this is not a model'), randomBytes(2048), truncated]) {
      const blobId = await upload(tp, 'dave', bytes);
      const res = await createVersion('dave', { modelId: model.id, blobId, handler: 'tensor' });
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
      expect(res.errors![0].message).toMatch(/not a loadable ONNX model/);
      expect(res.errors![0].message).not.toMatch(/\/tmp|\/work|node_modules/);
    }
    expect(await versionRows(model.id)).toBe(0);
    // The counter did not move either: the first good version is 1.
    const ok = await createVersion('dave', { modelId: model.id, blobId: await upload(tp, 'dave', valid), handler: 'tensor' });
    expect(ok.data!.createModelVersion.version).toBe(1);
  });

  it('refuses a signature the handler cannot serve, an unknown handler, bad config and file paths in config', async () => {
    const model = await createModel(tp, 'dave');
    const blobId = await upload(tp, 'dave', scaleModel(4));
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ handler: 'vad' }, /vad handler needs a Silero VAD v4 model/],
      [{ handler: 'ocr' }, /ocr handler needs a DB text detection model/],
      [{ handler: 'image-classification', config: { labels: ['a', 'b', 'c'] } }, /image-classification handler needs input/],
      [{ handler: 'image-classification' }, /config.labels/],
      [{ handler: 'magic' }, /unknown handler 'magic'/],
      [{ handler: 'tensor', config: [1, 2] }, /config must be a JSON object/],
      [{ handler: 'ocr', config: { keysPath: '/etc/passwd' } }, /may not set file paths \(keysPath\)/],
      [{ handler: 'ocr', config: { maxPixels: 1e12 } }, /may not set resource limits \(maxPixels\)/],
    ];
    for (const [input, message] of cases) {
      const res = await createVersion('dave', { modelId: model.id, blobId, ...input });
      expect(codes(res)).toEqual(['BAD_USER_INPUT']);
      expect(res.errors![0].message).toMatch(message);
    }
    expect(await versionRows(model.id)).toBe(0);
  });

  it('numbers concurrent versions 1, 2, 3 … without gaps or duplicates', async () => {
    const model = await createModel(tp, 'alice');
    const blobs = await Promise.all([1, 2, 3, 4, 5].map((k) => upload(tp, 'alice', scaleModel(10 + k))));
    const results = await Promise.all(blobs.map(async (blobId) => createVersion('alice', { modelId: model.id, blobId, handler: 'tensor' })));
    expect(results.map((r) => r.data!.createModelVersion.version).sort()).toEqual([1, 2, 3, 4, 5]);
    const listed = await tp.as('alice', `query($id: ID!) { node(id: $id) { ... on Model {
      versions(first: 2) { totalCount edges { node { version } } pageInfo { hasNextPage } } latestVersion { version } } } }`, { id: model.id });
    expect(listed.node.versions).toMatchObject({ totalCount: 5, edges: [{ node: { version: 1 } }, { node: { version: 2 } }], pageInfo: { hasNextPage: true } });
    expect(listed.node.latestVersion.version).toBe(5);
  });

  it("only the owner's members add versions, with the owner's own upload", async () => {
    const model = await createModel(tp, 'alice', { visibility: 'ALLIANCE' });
    const bobsBlob = await upload(tp, 'bob', scaleModel(21));
    const foreignModel = await createVersion('bob', { modelId: model.id, blobId: bobsBlob, handler: 'tensor' });
    expect(codes(foreignModel)).toEqual(['FORBIDDEN']);
    // Bob's blob is not readable by casia at all: NOT_FOUND, like a missing one.
    const foreignBlob = await createVersion('alice', { modelId: model.id, blobId: bobsBlob, handler: 'tensor' });
    expect(codes(foreignBlob)).toEqual(['NOT_FOUND']);
    const viewer = await tp.gql(CREATE_MODEL, { input: { name: uniqueName('v'), task: 't', modality: 'TENSOR', visibility: 'PRIVATE' } },
      { token: await tp.token('erin') });
    expect(codes(viewer)).toEqual(['FORBIDDEN']);
    const duplicate = await tp.gql(CREATE_MODEL, { input: { name: model.name, task: 't', modality: 'TENSOR', visibility: 'PRIVATE' } },
      { token: await tp.token('alice') });
    expect(codes(duplicate)).toEqual(['CONFLICT']);
    expect(await versionRows(model.id)).toBe(0);
  });
});

describe('visibility and sharing', () => {
  it('PRIVATE: the owner only, on every path; ALLIANCE: every member, including the file download', async () => {
    const priv = await tensorModel(tp, 'carol', 2, 'PRIVATE');
    const pub = await tensorModel(tp, 'carol', 3, 'ALLIANCE');
    const alice = await tp.token('alice');
    const list = await tp.as('alice', `{ models(first: 100, filter: { owner: "iqiyi" }) { edges { node { id owner { slug } latestVersion { version } } } } }`);
    const ids = list.models.edges.map((e: any) => e.node.id);
    expect(ids).toContain(pub.model.id);
    expect(ids).not.toContain(priv.model.id);
    for (const id of [priv.model.id, priv.version.id]) {
      expect(codes(await tp.gql(`query($id: ID!) { node(id: $id) { id } }`, { id }, { token: alice }))).toEqual(['NOT_FOUND']);
    }
    expect((await tp.as('alice', `query($id: ID!) { node(id: $id) { ... on ModelVersion { version model { name } } } }`, { id: pub.version.id })).node.version).toBe(1);
    const download = async (blobId: string) => (await fetch(`${tp.url}/v1/blobs/${blobId}`, { headers: { authorization: `Bearer ${alice}` } })).status;
    expect(await download(pub.blobId)).toBe(200);
    expect(await download(priv.blobId)).toBe(404);
    const filtered = await tp.as('carol', `{ models(first: 100, filter: { task: "scaling", modality: TENSOR }) { totalCount } }`);
    expect(filtered.models.totalCount).toBeGreaterThanOrEqual(2);
  });

  it('SHARED: visible and callable with a live grant only; revoking or expiry hides it again', async () => {
    const shared = await tensorModel(tp, 'bob', 5, 'SHARED');
    const endpoint = await deploy(tp, 'bob', shared.version.id);
    const carol = await tp.token('carol');
    const callAsCarol = () => tp.gql(INFER, { id: endpoint.id, inputs: [floatInput([[1, 1, 1]])] }, { token: carol });
    expect(codes(await callAsCarol())).toEqual(['NOT_FOUND']);

    const share = `mutation($input: ShareModelInput!) { shareModel(input: $input) { id grantee { slug } model { name } } }`;
    const grant = (await tp.as('bob', share, { input: { modelId: shared.model.id, tenantSlug: 'iqiyi', purpose: 'evaluation' } })).shareModel;
    expect(grant.grantee.slug).toBe('iqiyi');
    expect((await callAsCarol()).data!.infer.outputs[0].y.data).toEqual([5, 5, 5]);
    const grants = await tp.as('bob', `query($id: ID!) { node(id: $id) { ... on Model { grants { grantee { slug } purpose } } } }`, { id: shared.model.id });
    expect(grants.node.grants).toEqual([{ grantee: { slug: 'iqiyi' }, purpose: 'evaluation' }]);
    // Grantees see the model but not the grant list; a third tenant sees nothing.
    expect((await tp.as('carol', `query($id: ID!) { node(id: $id) { ... on Model { grants { purpose } } } }`, { id: shared.model.id })).node.grants).toEqual([]);
    expect(codes(await tp.gql(`query($id: ID!) { node(id: $id) { id } }`, { id: shared.model.id }, { token: await tp.token('alice') }))).toEqual(['NOT_FOUND']);

    expect((await tp.as('bob', `mutation($id: ID!) { revokeModelGrant(id: $id) }`, { id: grant.id })).revokeModelGrant).toBe(true);
    expect(codes(await callAsCarol())).toEqual(['NOT_FOUND']);

    // An expired grant stops working without anything running.
    await tp.as('bob', share, { input: { modelId: shared.model.id, tenantSlug: 'iqiyi', expiresAt: new Date(Date.now() + 60_000).toISOString() } });
    expect((await callAsCarol()).errors).toBeUndefined();
    await tp.platform.db.withSystem('test: let the grant expire', (em) =>
      em.query(`UPDATE model_grant SET expires_at = now() - interval '1 second' WHERE grantee_tenant_id = (SELECT id FROM tenant WHERE slug = 'iqiyi')`));
    // Moving expires_at into the past stands in for time passing; the cached endpoint would end at
    // the grant's old expiry (infer-target-cache.ts; the catalog notice of this write may still be
    // on its way), so forget it as that time would.
    tp.platform.inferTargetCache.forgetAll();
    expect(codes(await callAsCarol())).toEqual(['NOT_FOUND']);

    const notShared = await tensorModel(tp, 'bob', 6, 'PRIVATE');
    expect(codes(await tp.gql(share, { input: { modelId: notShared.model.id, tenantSlug: 'iqiyi' } }, { token: await tp.token('bob') })))
      .toEqual(['BAD_USER_INPUT']);
  });

  it('nested relations (owner, versions, latest version) resolve for a page of models', async () => {
    const created: string[] = [];
    for (let i = 0; i < 3; i++) created.push((await tensorModel(tp, 'alice', 30 + i, 'ALLIANCE')).model.id);
    const res = await tp.as('bob', `{ models(first: 100) { edges { node { id name owner { slug } latestVersion { version model { name } }
      versions(first: 3) { totalCount edges { node { version inputs { name shape } } } } } } } }`);
    const mine = res.models.edges.map((e: any) => e.node).filter((n: any) => created.includes(n.id));
    expect(mine).toHaveLength(3);
    for (const node of mine) {
      expect(node.owner.slug).toBe('casia');
      expect(node.latestVersion).toEqual({ version: 1, model: { name: node.name } });
      expect(node.versions).toEqual({ totalCount: 1, edges: [{ node: { version: 1, inputs: [{ name: 'x', shape: [-1, 3] }] } }] });
    }
  });
});
