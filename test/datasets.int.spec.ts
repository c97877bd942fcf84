// Datasets, versions and items through the real API, with three tenants: iqiyi owns (carol),
// whu is granted (bob; erin is a VIEWER), casia is the stranger (alice; dave is a MEMBER).
import { randomBytes } from 'node:crypto';
import { startTestPlatform, type TestPlatform } from './harness/test-platform';
import {
  blobOf, createDataset, createVersion, downloadBlob, globalIdOf, publishedDataset, publishVersion, share, uniqueName,
  uuidOf, withOwner,
} from './harness/datasets-factory';

let tp: TestPlatform;
beforeAll(async () => {
  tp = await startTestPlatform();
});
afterAll(async () => {
  await tp?.close();
});

const MISSING_DATASET = globalIdOf('Dataset', '00000000-0000-4000-8000-000000000000');

async function errorOf(user: string, query: string, variables: Record<string, unknown> = {}, tenant?: string) {
  const res = await tp.gql(query, variables, { token: await tp.token(user), tenant });
  return res.errors?.[0];
}

async function rowCounts(datasetId: string) {
  return withOwner(tp, async (c) => (await c.query(
    `SELECT (SELECT count(*)::int FROM dataset_version WHERE dataset_id = $1) AS versions,
            (SELECT count(*)::int FROM dataset_item i JOIN dataset_version v ON v.id = i.version_id WHERE v.dataset_id = $1) AS items,
            (SELECT last_version FROM dataset WHERE id = $1) AS last_version,
            (SELECT count(*)::int FROM audit_event WHERE target_id = $1) AS audit`, [uuidOf(datasetId)])).rows[0]);
}

const CREATE_VERSION = `mutation($input: CreateDatasetVersionInput!) { createDatasetVersion(input: $input) { id version } }`;

describe('createDataset', () => {
  it('creates a dataset owned by the acting tenant, with every contract field', async () => {
    const name = uniqueName('captions');
    const data = await tp.as('carol', `mutation($input: CreateDatasetInput!) {
      createDataset(input: $input) { id name description modality license visibility createdAt owner { slug name }
        versions { totalCount edges { node { id } } } latestVersion { id } grants { id } } }`,
      { input: { name, description: '中文描述', modality: 'VIDEO', license: 'CC-BY-4.0', visibility: 'SHARED' } });
    expect(data.createDataset).toEqual({
      id: expect.any(String), name, description: '中文描述', modality: 'VIDEO', license: 'CC-BY-4.0', visibility: 'SHARED',
      createdAt: expect.any(String), owner: { slug: 'iqiyi', name: 'iQIYI' },
      versions: { totalCount: 0, edges: [] }, latestVersion: null, grants: [],
    });
  });

  it('refuses a duplicate name in one tenant with CONFLICT; another tenant may use it', async () => {
    const name = uniqueName();
    await createDataset(tp, 'carol', { name });
    const dup = await errorOf('carol', `mutation($n: String!) { createDataset(input: { name: $n, modality: TEXT, visibility: PRIVATE }) { id } }`, { n: name });
    expect(dup?.extensions?.code).toBe('CONFLICT');
    expect(dup?.message).toContain(name);
    await expect(createDataset(tp, 'bob', { name })).resolves.toBeDefined();
  });

  it('needs a MEMBER or higher, an acting tenant, and a sensible name', async () => {
    const q = `mutation($n: String!) { createDataset(input: { name: $n, modality: TEXT, visibility: PRIVATE }) { id } }`;
    expect((await errorOf('erin', q, { n: uniqueName() }))?.extensions?.code).toBe('FORBIDDEN');
    expect((await errorOf('admin', q, { n: uniqueName() }))?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await errorOf('carol', q, { n: '   ' }))?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await errorOf('carol', q, { n: 'x'.repeat(201) }))?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await errorOf('carol', q, { n: 'bad\nname' }))?.extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('versions and items', () => {
  it('numbers versions 1, 2, … per dataset, also under concurrent creates', async () => {
    const dataset = await createDataset(tp, 'carol');
    const created = await Promise.all(Array.from({ length: 6 }, (_, i) => createVersion(tp, 'carol', dataset.id, [{ text: `v${i}` }])));
    expect(created.map((v) => v.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    const other = await createDataset(tp, 'carol');
    expect((await createVersion(tp, 'carol', other.id, [{ text: 'x' }])).version).toBe(1);
    const listed = await tp.as('carol', `query($id: ID!) { node(id: $id) { ... on Dataset {
      versions(first: 4) { totalCount edges { node { version } } pageInfo { hasNextPage endCursor } } latestVersion { version } } } }`,
    { id: dataset.id });
    expect(listed.node.versions.edges.map((e: any) => e.node.version)).toEqual([1, 2, 3, 4]);
    expect(listed.node.versions.totalCount).toBe(6);
    expect(listed.node.latestVersion.version).toBe(6);
  });

  it('counts items and bytes: UTF-8 text lengths plus blob sizes', async () => {
    const blob = await blobOf(tp, 'carol', randomBytes(1000), 'image/png');
    const dataset = await createDataset(tp, 'carol');
    const version = await createVersion(tp, 'carol', dataset.id, [
      { text: '视频' }, // 6 bytes in UTF-8
      { blobId: blob, metadata: { file: 'a.png' } },
      { text: 'abc', blobId: blob },
    ]);
    expect(version).toMatchObject({ version: 1, itemCount: 3, sizeBytes: 6 + 1000 + 3 + 1000, published: false });
  });

  it('takes thousands of items in one call and pages through them with cursors, in order', async () => {
    const dataset = await createDataset(tp, 'carol', { modality: 'TEXT' });
    const items = Array.from({ length: 5000 }, (_, i) => ({ text: `caption ${i}`, metadata: { i, tags: ['a', 'b'], nested: { ok: true } } }));
    const version = await createVersion(tp, 'carol', dataset.id, items);
    expect(version.itemCount).toBe(5000);
    const seen: number[] = [];
    let after: string | null = null;
    for (let page = 0; page < 3; page++) {
      const data: any = await tp.as('carol', `query($id: ID!, $after: String) { node(id: $id) { ... on DatasetVersion {
        items(first: 100, after: $after) { totalCount edges { node { id text metadata blob { id } } } pageInfo { hasNextPage hasPreviousPage endCursor } } } } }`,
      { id: version.id, after });
      const conn = data.node.items;
      expect(conn.totalCount).toBe(5000);
      expect(conn.pageInfo.hasNextPage).toBe(true);
      expect(conn.pageInfo.hasPreviousPage).toBe(page > 0);
      for (const e of conn.edges) {
        expect(e.node.text).toBe(`caption ${e.node.metadata.i}`);
        expect(e.node.metadata).toEqual({ i: e.node.metadata.i, tags: ['a', 'b'], nested: { ok: true } });
        expect(e.node.blob).toBeNull();
        seen.push(e.node.metadata.i);
      }
      after = conn.pageInfo.endCursor;
    }
    expect(seen).toEqual(Array.from({ length: 300 }, (_, i) => i));
    const bad = await errorOf('carol', `query($id: ID!) { node(id: $id) { ... on DatasetVersion { items(first: 101) { totalCount } } } }`, { id: version.id });
    expect(bad?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('appends items to a draft; publishing freezes it: a second publish and later writes are CONFLICT', async () => {
    const dataset = await createDataset(tp, 'carol');
    const version = await createVersion(tp, 'carol', dataset.id, [{ text: 'a' }, { text: 'b' }]);
    const appended = await tp.as('carol', `mutation($id: ID!, $items: [DatasetItemInput!]!) { addDatasetItems(versionId: $id, items: $items) { itemCount } }`,
      { id: version.id, items: [{ text: 'c' }] });
    expect(appended.addDatasetItems.itemCount).toBe(3);
    const published = await tp.as('carol', `mutation($id: ID!) { publishDatasetVersion(id: $id) { published publishedAt itemCount } }`, { id: version.id });
    expect(published.publishDatasetVersion).toEqual({ published: true, publishedAt: expect.any(String), itemCount: 3 });

    const again = await errorOf('carol', `mutation($id: ID!) { publishDatasetVersion(id: $id) { id } }`, { id: version.id });
    expect(again?.extensions?.code).toBe('CONFLICT');
    expect(again?.message).toMatch(/published/);
    const write = await errorOf('carol', `mutation($id: ID!) { addDatasetItems(versionId: $id, items: [{ text: "late" }]) { id } }`, { id: version.id });
    expect(write?.extensions?.code).toBe('CONFLICT');
    const texts = await tp.as('carol', `query($id: ID!) { node(id: $id) { ... on DatasetVersion { itemCount items { edges { node { text } } } } } }`, { id: version.id });
    expect(texts.node.items.edges.map((e: any) => e.node.text)).toEqual(['a', 'b', 'c']);
    expect(texts.node.itemCount).toBe(3);
  });

  it('only the owner writes: another tenant gets FORBIDDEN on a visible dataset, NOT_FOUND on an invisible one', async () => {
    const alliance = await publishedDataset(tp, 'carol', 'ALLIANCE');
    const privateOne = await publishedDataset(tp, 'carol', 'PRIVATE');
    const forbidden = await errorOf('alice', CREATE_VERSION, { input: { datasetId: alliance.dataset.id, items: [{ text: 'x' }] } });
    expect(forbidden?.extensions?.code).toBe('FORBIDDEN');
    const hidden = await errorOf('alice', CREATE_VERSION, { input: { datasetId: privateOne.dataset.id, items: [{ text: 'x' }] } });
    const missing = await errorOf('alice', CREATE_VERSION, { input: { datasetId: MISSING_DATASET, items: [{ text: 'x' }] } });
    expect(hidden?.extensions?.code).toBe('NOT_FOUND');
    expect(hidden?.message.replace(privateOne.dataset.id, 'X')).toBe(missing?.message.replace(MISSING_DATASET, 'X'));
    const publish = await errorOf('alice', `mutation($id: ID!) { publishDatasetVersion(id: $id) { id } }`, { id: privateOne.version.id });
    expect(publish?.extensions?.code).toBe('NOT_FOUND');
    expect((await errorOf('erin', CREATE_VERSION, { input: { datasetId: alliance.dataset.id, items: [{ text: 'x' }] } }))?.extensions?.code).toBe('FORBIDDEN');
  });
});

describe('bad input leaves nothing half-written', () => {
  let datasetId: string;
  let ownBlob: string;
  let foreignBlob: string;
  beforeAll(async () => {
    datasetId = (await createDataset(tp, 'carol')).id;
    ownBlob = await blobOf(tp, 'carol', randomBytes(10));
    foreignBlob = await blobOf(tp, 'bob', randomBytes(10));
  });

  const cases: [string, () => unknown[], RegExp][] = [
    ['an empty item list', () => [], /empty/],
    ['an item with neither text nor blob', () => [{ text: 'ok' }, { metadata: { only: 'metadata' } }], /items\[1\].*neither text nor blobId/],
    ['an item with an empty text and no blob', () => [{ text: '' }], /items\[0\]/],
    ['an unknown blob id', () => [{ text: 'ok' }, { blobId: ownBlob }, { blobId: globalIdOf('Blob', '00000000-0000-4000-8000-000000000001') }], /items\[2\].*not a blob uploaded by iqiyi/],
    ["another tenant's blob", () => [{ blobId: foreignBlob }, { blobId: ownBlob }], /items\[0\].*not a blob uploaded by iqiyi/],
    ['a malformed blob id', () => [{ text: 'ok' }, { blobId: 'garbage!' }], /items\[1\]\.blobId.*not a Blob id/],
    ['an id of another type as blob id', () => [{ blobId: datasetId }], /items\[0\]\.blobId.*not a Blob id/],
    ['too many items', () => Array.from({ length: 10_001 }, () => ({ text: 'x' })), /at most 10000/],
  ];

  it.each(cases)('refuses %s with BAD_USER_INPUT naming the problem', async (_name, items, message) => {
    const before = await rowCounts(datasetId);
    const error = await errorOf('carol', CREATE_VERSION, { input: { datasetId, items: items() } });
    expect(error?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(error?.message).toMatch(message);
    expect(await rowCounts(datasetId)).toEqual(before);
  });

  it('after all those refusals the first successful version is still number 1', async () => {
    const version = await createVersion(tp, 'carol', datasetId, [{ blobId: ownBlob }]);
    expect(version.version).toBe(1);
    const after = await rowCounts(datasetId);
    expect(after).toMatchObject({ versions: 1, items: 1, last_version: 1 });
  });

  it('refuses a bad addDatasetItems call without appending any of its items', async () => {
    const version = await createVersion(tp, 'carol', datasetId, [{ text: 'keep' }]);
    const before = await rowCounts(datasetId);
    const error = await errorOf('carol', `mutation($id: ID!, $items: [DatasetItemInput!]!) { addDatasetItems(versionId: $id, items: $items) { id } }`,
      { id: version.id, items: [{ text: 'fine' }, { blobId: foreignBlob }] });
    expect(error?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(error?.message).toMatch(/items\[1\]/);
    expect(await rowCounts(datasetId)).toEqual(before);
  });
});

describe('visibility: own, ALLIANCE, and SHARED with a live grant; everything else NOT_FOUND', () => {
  type Fixture = Awaited<ReturnType<typeof publishedDataset>>;
  let privateDs: Fixture;
  let sharedGranted: Fixture;
  let sharedNotGranted: Fixture;
  let allianceDs: Fixture;
  let grantId: string;
  let draftId: string;

  beforeAll(async () => {
    privateDs = await publishedDataset(tp, 'carol', 'PRIVATE');
    sharedGranted = await publishedDataset(tp, 'carol', 'SHARED');
    sharedNotGranted = await publishedDataset(tp, 'carol', 'SHARED');
    allianceDs = await publishedDataset(tp, 'carol', 'ALLIANCE');
    grantId = (await share(tp, 'carol', sharedGranted.dataset.id, 'whu', { purpose: 'benchmarking' })).id;
    draftId = (await createVersion(tp, 'carol', sharedGranted.dataset.id, [{ text: 'draft only' }])).id;
  });

  const LIST = `query($filter: DatasetFilter) { datasets(first: 100, filter: $filter) { totalCount edges { node { id } } } }`;
  async function listed(user: string, filter: Record<string, unknown> = { owner: 'iqiyi' }): Promise<Set<string>> {
    const data = await tp.as(user, LIST, { filter });
    return new Set(data.datasets.edges.map((e: any) => e.node.id));
  }

  it('lists what each tenant may read', async () => {
    const owner = await listed('carol');
    const grantee = await listed('bob');
    const stranger = await listed('alice');
    for (const d of [privateDs, sharedGranted, sharedNotGranted, allianceDs]) expect(owner.has(d.dataset.id)).toBe(true);
    expect(grantee.has(sharedGranted.dataset.id)).toBe(true);
    expect(grantee.has(allianceDs.dataset.id)).toBe(true);
    expect(grantee.has(privateDs.dataset.id)).toBe(false);
    expect(grantee.has(sharedNotGranted.dataset.id)).toBe(false);
    expect(stranger.has(allianceDs.dataset.id)).toBe(true);
    for (const d of [privateDs, sharedGranted, sharedNotGranted]) expect(stranger.has(d.dataset.id)).toBe(false);
    // The VIEWER of the grantee tenant reads what its tenant may read.
    expect((await listed('erin')).has(sharedGranted.dataset.id)).toBe(true);
  });

  it('answers NOT_FOUND through node(id:) exactly as for a missing id, for datasets, versions and grants', async () => {
    const NODE = `query($id: ID!) { node(id: $id) { id } }`;
    const expectHidden = async (user: string, id: string, missing: string) => {
      const hidden = await errorOf(user, NODE, { id });
      const none = await errorOf(user, NODE, { id: missing });
      expect(hidden?.extensions?.code).toBe('NOT_FOUND');
      expect(hidden?.message.replace(id, 'X')).toBe(none?.message.replace(missing, 'X'));
    };
    const missingVersion = globalIdOf('DatasetVersion', '00000000-0000-4000-8000-000000000000');
    const missingGrant = globalIdOf('DatasetGrant', '00000000-0000-4000-8000-000000000000');
    for (const d of [privateDs, sharedGranted, sharedNotGranted]) {
      await expectHidden('alice', d.dataset.id, MISSING_DATASET);
      await expectHidden('alice', d.version.id, missingVersion);
    }
    await expectHidden('bob', privateDs.dataset.id, MISSING_DATASET);
    await expectHidden('bob', sharedNotGranted.version.id, missingVersion);
    await expectHidden('alice', grantId, missingGrant);
    await expectHidden('bob', grantId, missingGrant); // grants are the owner's business
    // Drafts are the owner's: even the grantee does not see them.
    await expectHidden('bob', draftId, missingVersion);
    const ok = await tp.as('bob', NODE, { id: sharedGranted.version.id });
    expect(ok.node.id).toBe(sharedGranted.version.id);
  });

  it('lets the grantee read versions, items and blobs; the latest version it sees is the published one', async () => {
    const data = await tp.as('bob', `query($id: ID!) { node(id: $id) { ... on Dataset { name owner { slug } grants { id }
      latestVersion { id version published dataset { id } items { totalCount edges { node { text metadata blob { id sha256 size contentType } } } } }
      versions { totalCount edges { node { version } } } } } }`, { id: sharedGranted.dataset.id });
    const ds = data.node;
    expect(ds.owner.slug).toBe('iqiyi');
    expect(ds.grants).toEqual([]);
    expect(ds.latestVersion).toMatchObject({ id: sharedGranted.version.id, version: 1, published: true, dataset: { id: sharedGranted.dataset.id } });
    expect(ds.versions).toEqual({ totalCount: 1, edges: [{ node: { version: 1 } }] });
    expect(ds.latestVersion.items.edges.map((e: any) => e.node.text)).toEqual(['first', null, 'third']);
    expect(ds.latestVersion.items.edges[1].node.blob).toMatchObject({ id: sharedGranted.blobId, size: 100, contentType: 'image/png' });

    const owner = await tp.as('carol', `query($id: ID!) { node(id: $id) { ... on Dataset { latestVersion { id published } versions { totalCount }
      grants { id purpose grantee { slug name } dataset { id } } } } }`, { id: sharedGranted.dataset.id });
    expect(owner.node.latestVersion).toEqual({ id: draftId, published: false });
    expect(owner.node.versions.totalCount).toBe(2);
    expect(owner.node.grants).toEqual([{ id: grantId, purpose: 'benchmarking', grantee: { slug: 'whu', name: 'Wuhan University' }, dataset: { id: sharedGranted.dataset.id } }]);
  });

  it('serves blob downloads by the same rule', async () => {
    expect((await downloadBlob(tp, 'bob', sharedGranted.blobId)).status).toBe(200);
    expect((await downloadBlob(tp, 'erin', sharedGranted.blobId)).status).toBe(200);
    expect((await downloadBlob(tp, 'alice', sharedGranted.blobId)).status).toBe(404);
    expect((await downloadBlob(tp, 'bob', sharedNotGranted.blobId)).status).toBe(404);
    expect((await downloadBlob(tp, 'bob', privateDs.blobId)).status).toBe(404);
    const allianceBlob = await downloadBlob(tp, 'alice', allianceDs.blobId);
    expect(allianceBlob.status).toBe(200);
    expect(allianceBlob.bytes).toHaveLength(100);
    const node = await errorOf('alice', `query($id: ID!) { node(id: $id) { id } }`, { id: sharedGranted.blobId });
    expect(node?.extensions?.code).toBe('NOT_FOUND');
  });

  it("shows a foreign owner's public face only: its members stay NOT_FOUND", async () => {
    const res = await tp.gql(`query($id: ID!) { node(id: $id) { ... on Dataset { owner { slug members { totalCount } } } } }`,
      { id: allianceDs.dataset.id }, { token: await tp.token('alice') });
    expect(res.data?.node).toBeNull();
    expect(res.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    expect(res.errors?.[0].path).toEqual(['node', 'owner', 'members']);
    const tenantNode = await errorOf('alice', `query($id: ID!) { node(id: $id) { id } }`,
      { id: (await tp.as('carol', `{ viewer { activeTenant { id } } }`)).viewer.activeTenant.id });
    expect(tenantNode?.extensions?.code).toBe('NOT_FOUND');
  });

  it('filters by owner, modality, visibility and search (case-insensitive, literal)', async () => {
    const name = uniqueName('Filter_100%');
    const special = await createDataset(tp, 'carol', { name, modality: 'AUDIO', visibility: 'ALLIANCE', description: '语音 Corpus' });
    const ids = async (filter: Record<string, unknown>) => listed('alice', filter);
    expect((await ids({ search: name.toUpperCase() })).has(special.id)).toBe(true);
    expect((await ids({ search: '语音 corpus' })).has(special.id)).toBe(true);
    expect((await ids({ search: 'filter_1' })).has(special.id)).toBe(true);
    expect((await ids({ search: 'filter%1' })).size).toBe(0);
    expect((await ids({ modality: 'AUDIO', owner: 'iqiyi' })).has(special.id)).toBe(true);
    expect((await ids({ modality: 'IMAGE', search: name })).size).toBe(0);
    expect((await ids({ visibility: 'SHARED' })).size).toBe(0);
    expect((await ids({ owner: 'whu', search: name })).size).toBe(0);
    expect((await ids({ owner: 'nobody' })).size).toBe(0);
  });

  it('includes the seeded demo dataset of iqiyi for every member', async () => {
    const data = await tp.as('alice', `{ datasets(filter: { search: "iqiyi-video-captions-zh" }) { edges { node { name modality visibility owner { slug }
      latestVersion { published itemCount items(first: 1) { edges { node { text metadata } } } } } } } }`);
    const demo = data.datasets.edges[0].node;
    expect(demo).toMatchObject({ name: 'iqiyi-video-captions-zh', visibility: 'ALLIANCE', owner: { slug: 'iqiyi' }, latestVersion: { published: true, itemCount: 8 } });
    expect(demo.latestVersion.items.edges[0].node.metadata).toEqual({ clip: 'iq-000101', seconds: 12.4 });
  });
});

describe('audit trail', () => {
  it('records create, version, publish and grant with actor, tenant and time; owners page through it, others see none', async () => {
    const { dataset } = await publishedDataset(tp, 'carol', 'SHARED');
    const grant = await share(tp, 'carol', dataset.id, 'whu');
    await tp.as('carol', `mutation($id: ID!) { revokeDatasetGrant(id: $id) }`, { id: grant.id });
    const page = (after: string | null) => tp.as('carol', `query($id: ID!, $after: String) { node(id: $id) { ... on Dataset {
      auditEvents(first: 3, after: $after) { totalCount edges { node { id action at actor { username } tenant { slug } details } } pageInfo { hasNextPage endCursor } } } } }`,
    { id: dataset.id, after });
    const first = (await page(null)).node.auditEvents;
    const second = (await page(first.pageInfo.endCursor)).node.auditEvents;
    expect(first.totalCount).toBe(5);
    expect(first.pageInfo.hasNextPage).toBe(true);
    expect(second.pageInfo.hasNextPage).toBe(false);
    const events = [...first.edges, ...second.edges].map((e: any) => e.node);
    expect(events.map((e: any) => e.action)).toEqual(['dataset.create', 'dataset.version.create', 'dataset.version.publish', 'dataset.grant', 'dataset.grant.revoke']);
    for (const e of events) {
      expect(e.actor).toEqual({ username: 'carol' });
      expect(e.tenant).toEqual({ slug: 'iqiyi' });
      expect(Number.isNaN(Date.parse(e.at))).toBe(false);
    }
    expect(events[3].details).toMatchObject({ grantId: grant.id, grantee: 'whu' });
    expect(new Set(events.map((e: any) => e.id)).size).toBe(5);

    const alliance = await publishedDataset(tp, 'carol', 'ALLIANCE');
    const outsider = await tp.as('alice', `query($id: ID!) { node(id: $id) { ... on Dataset { auditEvents { totalCount edges { node { id } } } } } }`,
      { id: alliance.dataset.id });
    expect(outsider.node.auditEvents).toEqual({ totalCount: 0, edges: [] });
  });
});

describe('no N+1', () => {
  it('costs the same number of database round trips for 2 datasets as for 8', async () => {
    const QUERY = `{ datasets(first: 100, filter: { owner: "whu" }) { totalCount edges { node { name owner { slug }
      latestVersion { itemCount dataset { name } items(first: 3) { totalCount edges { node { text blob { sha256 } } } } }
      versions(first: 2) { totalCount edges { node { version } } } grants { grantee { slug } }
      auditEvents(first: 2) { totalCount edges { node { action actor { username } tenant { slug } } } } } } } }`;
    const transactions = async () => {
      const spy = jest.spyOn(tp.platform.db, 'withTenant');
      try {
        const data = await tp.as('bob', QUERY);
        return { count: spy.mock.calls.length, datasets: data.datasets.totalCount };
      } finally {
        spy.mockRestore();
      }
    };
    const addDataset = async () => {
      const ds = await createDataset(tp, 'bob', { visibility: 'SHARED' });
      const blob = await blobOf(tp, 'bob', randomBytes(20));
      const v = await createVersion(tp, 'bob', ds.id, [{ text: 't', blobId: blob }, { text: 'u' }]);
      await publishVersion(tp, 'bob', v.id);
      await share(tp, 'bob', ds.id, 'casia');
    };
    for (let i = 0; i < 2; i++) await addDataset();
    const small = await transactions();
    for (let i = 0; i < 6; i++) await addDataset();
    const large = await transactions();
    expect(large.datasets).toBe(small.datasets + 6);
    expect(large.count).toBe(small.count);
  });
});
