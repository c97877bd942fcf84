// Sharing between members: grants with purpose and expiry, revocation, gated access requests,
// and the row-level security that enforces who reads what even where a query has no WHERE.
// iqiyi owns (carol), whu is the grantee (bob, erin VIEWER), casia the stranger (alice, dave).
import { randomBytes } from 'node:crypto';
import { startTestPlatform, type TestPlatform } from './harness/test-platform';
import {
  asAppRole, blobOf, createDataset, createVersion, downloadBlob, globalIdOf, publishedDataset, share, uuidOf, withOwner,
} from './harness/datasets-factory';

let tp: TestPlatform;
let tenants: Record<string, string>;
beforeAll(async () => {
  tp = await startTestPlatform();
  tenants = await withOwner(tp, async (c) => Object.fromEntries((await c.query('SELECT slug, id FROM tenant')).rows.map((r) => [r.slug, r.id])));
  // dave joins iqiyi as a MEMBER: a member of the owning tenant who may not share or decide.
  await tp.token('dave');
  await tp.as('carol', `mutation { addMember(tenantSlug: "iqiyi", username: "dave", role: MEMBER) { role } }`);
});
afterAll(async () => {
  await tp?.close();
});

async function errorOf(user: string, query: string, variables: Record<string, unknown> = {}, tenant?: string) {
  const res = await tp.gql(query, variables, { token: await tp.token(user), tenant });
  return res.errors?.[0];
}

const SHARE = `mutation($input: ShareDatasetInput!) { shareDataset(input: $input) { id purpose expiresAt createdAt grantee { slug } dataset { id } } }`;
const REQUEST = `mutation($id: ID!, $reason: String!) { requestDatasetAccess(datasetId: $id, reason: $reason) {
  id status reason note decidedAt requester { slug } dataset { id name owner { slug } latestVersion { id } versions { totalCount } } } }`;
const DECIDE = `mutation($id: ID!, $approve: Boolean!, $note: String, $expiresAt: DateTime) {
  decideAccessRequest(id: $id, approve: $approve, note: $note, expiresAt: $expiresAt) { id status note decidedAt } }`;

async function canRead(user: string, datasetId: string, tenant?: string): Promise<boolean> {
  const res = await tp.gql(`query($id: ID!) { node(id: $id) { ... on Dataset { latestVersion { items { totalCount } } } } }`,
    { id: datasetId }, { token: await tp.token(user), tenant });
  if (res.errors?.length) {
    expect(res.errors[0].extensions?.code).toBe('NOT_FOUND');
    return false;
  }
  return true;
}

describe('shareDataset and revokeDatasetGrant', () => {
  it('grants a tenant read access with a purpose; revoking takes it away everywhere', async () => {
    const { dataset, blobId } = await publishedDataset(tp, 'carol');
    expect(await canRead('bob', dataset.id)).toBe(false);
    const granted = (await tp.as('carol', SHARE, { input: { datasetId: dataset.id, tenantSlug: 'whu', purpose: 'ASR evaluation' } })).shareDataset;
    expect(granted).toMatchObject({ purpose: 'ASR evaluation', expiresAt: null, grantee: { slug: 'whu' }, dataset: { id: dataset.id } });
    expect(await canRead('bob', dataset.id)).toBe(true);
    expect(await canRead('alice', dataset.id)).toBe(false);
    expect((await downloadBlob(tp, 'bob', blobId)).status).toBe(200);

    // The stranger cannot revoke it, nor can a MEMBER of the owner.
    expect((await errorOf('alice', `mutation($id: ID!) { revokeDatasetGrant(id: $id) }`, { id: granted.id }))?.extensions?.code).toBe('NOT_FOUND');
    expect((await errorOf('dave', `mutation($id: ID!) { revokeDatasetGrant(id: $id) }`, { id: granted.id }, 'iqiyi'))?.extensions?.code).toBe('FORBIDDEN');
    expect((await tp.as('carol', `mutation($id: ID!) { revokeDatasetGrant(id: $id) }`, { id: granted.id })).revokeDatasetGrant).toBe(true);
    expect(await canRead('bob', dataset.id)).toBe(false);
    expect((await downloadBlob(tp, 'bob', blobId)).status).toBe(404);
    const listed = await tp.as('bob', `query($s: String) { datasets(filter: { search: $s }) { totalCount } }`, { s: dataset.name });
    expect(listed.datasets.totalCount).toBe(0);
    expect((await errorOf('carol', `mutation($id: ID!) { revokeDatasetGrant(id: $id) }`, { id: granted.id }))?.extensions?.code).toBe('NOT_FOUND');
  });

  it('refuses bad shares with the contract codes', async () => {
    const { dataset } = await publishedDataset(tp, 'carol');
    const privateDs = await createDataset(tp, 'carol', { visibility: 'PRIVATE' });
    const allianceDs = await createDataset(tp, 'carol', { visibility: 'ALLIANCE' });
    const code = async (user: string, input: Record<string, unknown>, tenant?: string) => (await errorOf(user, SHARE, { input }, tenant))?.extensions?.code;
    expect(await code('carol', { datasetId: dataset.id, tenantSlug: 'iqiyi' })).toBe('BAD_USER_INPUT');
    expect(await code('carol', { datasetId: dataset.id, tenantSlug: 'no-such-tenant' })).toBe('NOT_FOUND');
    expect(await code('carol', { datasetId: privateDs.id, tenantSlug: 'whu' })).toBe('BAD_USER_INPUT');
    expect(await code('carol', { datasetId: allianceDs.id, tenantSlug: 'whu' })).toBe('BAD_USER_INPUT');
    expect(await code('carol', { datasetId: dataset.id, tenantSlug: 'whu', expiresAt: new Date(Date.now() - 60_000).toISOString() })).toBe('BAD_USER_INPUT');
    expect(await code('carol', { datasetId: dataset.id, tenantSlug: 'whu', purpose: 'x'.repeat(501) })).toBe('BAD_USER_INPUT');
    expect(await code('dave', { datasetId: dataset.id, tenantSlug: 'whu' }, 'iqiyi')).toBe('FORBIDDEN');
    expect(await code('alice', { datasetId: dataset.id, tenantSlug: 'whu' })).toBe('NOT_FOUND');
    expect(await code('alice', { datasetId: allianceDs.id, tenantSlug: 'whu' })).toBe('FORBIDDEN');
    // Nothing was granted by any of these.
    const grants = await withOwner(tp, async (c) => (await c.query('SELECT count(*)::int AS n FROM dataset_grant WHERE dataset_id = ANY($1)',
      [[dataset.id, privateDs.id, allianceDs.id].map(uuidOf)])).rows[0].n);
    expect(grants).toBe(0);
  });

  it('renews on a second share instead of duplicating the grant', async () => {
    const { dataset } = await publishedDataset(tp, 'carol');
    const first = await share(tp, 'carol', dataset.id, 'whu', { purpose: 'one' });
    const second = await share(tp, 'carol', dataset.id, 'whu', { purpose: 'two' });
    expect(second.id).toBe(first.id);
    const grants = await tp.as('carol', `query($id: ID!) { node(id: $id) { ... on Dataset { grants { id purpose } } } }`, { id: dataset.id });
    expect(grants.node.grants).toEqual([{ id: first.id, purpose: 'two' }]);
  });
});

describe('grant expiry', () => {
  it('stops working once expires_at passes, with no job running', async () => {
    const { dataset, blobId, version } = await publishedDataset(tp, 'carol');
    const expiresAt = new Date(Date.now() + 1500);
    await share(tp, 'carol', dataset.id, 'whu', { expiresAt: expiresAt.toISOString() });
    expect(await canRead('bob', dataset.id)).toBe(true);
    expect((await downloadBlob(tp, 'bob', blobId)).status).toBe(200);
    // Wait until the expiry is in the past; what is asserted is the state afterwards, not a duration.
    while (Date.now() <= expiresAt.getTime() + 200) await new Promise((r) => setTimeout(r, 100));
    expect(await canRead('bob', dataset.id)).toBe(false);
    expect((await downloadBlob(tp, 'bob', blobId)).status).toBe(404);
    expect((await errorOf('bob', `query($id: ID!) { node(id: $id) { id } }`, { id: version.id }))?.extensions?.code).toBe('NOT_FOUND');
    // The owner still sees the grant, with its expiry; sharing again revives it.
    const grants = await tp.as('carol', `query($id: ID!) { node(id: $id) { ... on Dataset { grants { expiresAt } } } }`, { id: dataset.id });
    expect(Date.parse(grants.node.grants[0].expiresAt)).toBe(expiresAt.getTime());
    await share(tp, 'carol', dataset.id, 'whu');
    expect(await canRead('bob', dataset.id)).toBe(true);
  });

  it('also when expires_at is moved into the past in the database', async () => {
    const { dataset } = await publishedDataset(tp, 'carol');
    const grant = await share(tp, 'carol', dataset.id, 'whu', { expiresAt: new Date(Date.now() + 3_600_000).toISOString() });
    expect(await canRead('bob', dataset.id)).toBe(true);
    await withOwner(tp, (c) => c.query(`UPDATE dataset_grant SET expires_at = now() - interval '1 second' WHERE id = $1`, [uuidOf(grant.id)]));
    expect(await canRead('bob', dataset.id)).toBe(false);
  });
});

describe('access requests', () => {
  it('lets a stranger ask, be rejected, ask again, be approved and then read', async () => {
    const { dataset, blobId } = await publishedDataset(tp, 'carol');
    const reason = 'training a Chinese video captioning baseline';
    const asked = (await tp.as('alice', REQUEST, { id: dataset.id, reason })).requestDatasetAccess;
    // The requester sees what it asked for (the dataset's metadata), not its content.
    expect(asked).toMatchObject({ status: 'PENDING', reason, note: null, decidedAt: null, requester: { slug: 'casia' },
      dataset: { id: dataset.id, name: dataset.name, owner: { slug: 'iqiyi' }, latestVersion: null, versions: { totalCount: 0 } } });
    expect(await canRead('alice', dataset.id)).toBe(false);
    expect((await downloadBlob(tp, 'alice', blobId)).status).toBe(404);

    const again = await errorOf('alice', REQUEST, { id: dataset.id, reason: 'please' });
    expect(again?.extensions?.code).toBe('CONFLICT');
    expect(again?.message).toMatch(/pending/);

    // Who may decide: only OWNER/ADMIN of the owning tenant.
    expect((await errorOf('alice', DECIDE, { id: asked.id, approve: true }))?.extensions?.code).toBe('FORBIDDEN');
    expect((await errorOf('bob', DECIDE, { id: asked.id, approve: true }))?.extensions?.code).toBe('NOT_FOUND');
    expect((await errorOf('dave', DECIDE, { id: asked.id, approve: true }, 'iqiyi'))?.extensions?.code).toBe('FORBIDDEN');

    const incoming = await tp.as('carol', `{ accessRequests(status: PENDING) { totalCount edges { node { id requester { slug } dataset { id } } } } }`);
    expect(incoming.accessRequests.edges.map((e: any) => e.node)).toContainEqual({ id: asked.id, requester: { slug: 'casia' }, dataset: { id: dataset.id } });

    const rejected = (await tp.as('carol', DECIDE, { id: asked.id, approve: false, note: 'not for commercial use' })).decideAccessRequest;
    expect(rejected).toMatchObject({ status: 'REJECTED', note: 'not for commercial use', decidedAt: expect.any(String) });
    expect((await errorOf('carol', DECIDE, { id: asked.id, approve: true }))?.extensions?.code).toBe('CONFLICT');
    expect(await canRead('alice', dataset.id)).toBe(false);

    const second = (await tp.as('alice', REQUEST, { id: dataset.id, reason: 'academic use only, promised' })).requestDatasetAccess;
    expect(second.id).not.toBe(asked.id);
    expect(second.status).toBe('PENDING');
    const approved = (await tp.as('carol', DECIDE, { id: second.id, approve: true, note: 'ok' })).decideAccessRequest;
    expect(approved.status).toBe('APPROVED');
    expect(await canRead('alice', dataset.id)).toBe(true);
    expect(await canRead('dave', dataset.id, 'casia')).toBe(true);
    expect((await downloadBlob(tp, 'alice', blobId)).status).toBe(200);

    const outgoing = await tp.as('alice', `{ accessRequests(direction: OUTGOING) { edges { node { id status } } } }`);
    expect(outgoing.accessRequests.edges.map((e: any) => e.node)).toEqual(
      expect.arrayContaining([{ id: asked.id, status: 'REJECTED' }, { id: second.id, status: 'APPROVED' }]));
    const grants = await tp.as('carol', `query($id: ID!) { node(id: $id) { ... on Dataset { grants { grantee { slug } purpose } } } }`, { id: dataset.id });
    expect(grants.node.grants).toEqual([{ grantee: { slug: 'casia' }, purpose: 'access request: academic use only, promised' }]);

    // Every step is in the owner's audit trail, with actor and acting tenant.
    const audit = await tp.as('carol', `query($id: ID!) { node(id: $id) { ... on Dataset { auditEvents(first: 100) { edges { node { action actor { username } tenant { slug } } } } } } }`, { id: dataset.id });
    expect(audit.node.auditEvents.edges.map((e: any) => [e.node.action, e.node.actor.username, e.node.tenant.slug])).toEqual([
      ['dataset.create', 'carol', 'iqiyi'],
      ['dataset.version.create', 'carol', 'iqiyi'],
      ['dataset.version.publish', 'carol', 'iqiyi'],
      ['dataset.access.request', 'alice', 'casia'],
      ['dataset.access.reject', 'carol', 'iqiyi'],
      ['dataset.access.request', 'alice', 'casia'],
      ['dataset.access.approve', 'carol', 'iqiyi'],
    ]);
  });

  it('approval can set an expiry; a grantee asks again to renew, and approval renews the one grant', async () => {
    const { dataset } = await publishedDataset(tp, 'carol');
    const asked = (await tp.as('bob', REQUEST, { id: dataset.id, reason: 'a term project' })).requestDatasetAccess;
    const expiresAt = new Date(Date.now() + 86_400_000).toISOString();
    await tp.as('carol', DECIDE, { id: asked.id, approve: true, expiresAt });
    const GRANTS = `query($id: ID!) { node(id: $id) { ... on Dataset { grants { id expiresAt grantee { slug } } } } }`;
    const first = (await tp.as('carol', GRANTS, { id: dataset.id })).node.grants;
    expect(first).toEqual([{ id: expect.any(String), expiresAt, grantee: { slug: 'whu' } }]);

    const renewal = (await tp.as('bob', REQUEST, { id: dataset.id, reason: 'the project runs one more term' })).requestDatasetAccess;
    expect(renewal.status).toBe('PENDING');
    expect(renewal.dataset.latestVersion).not.toBeNull(); // the grantee still reads it meanwhile
    expect((await errorOf('bob', REQUEST, { id: dataset.id, reason: 'again' }))?.extensions?.code).toBe('CONFLICT');
    const later = new Date(Date.now() + 2 * 86_400_000).toISOString();
    await tp.as('carol', DECIDE, { id: renewal.id, approve: true, expiresAt: later });
    expect((await tp.as('carol', GRANTS, { id: dataset.id })).node.grants).toEqual([{ id: first[0].id, expiresAt: later, grantee: { slug: 'whu' } }]);
  });

  it('refuses requests that make no sense, and hides PRIVATE datasets like missing ones', async () => {
    const privateDs = await publishedDataset(tp, 'carol', 'PRIVATE');
    const allianceDs = await publishedDataset(tp, 'carol', 'ALLIANCE');
    const shared = await publishedDataset(tp, 'carol', 'SHARED');
    const missing = globalIdOf('Dataset', '00000000-0000-4000-8000-000000000000');
    const hidden = await errorOf('alice', REQUEST, { id: privateDs.dataset.id, reason: 'r' });
    const none = await errorOf('alice', REQUEST, { id: missing, reason: 'r' });
    expect(hidden?.extensions?.code).toBe('NOT_FOUND');
    expect(hidden?.message.replace(privateDs.dataset.id, 'X')).toBe(none?.message.replace(missing, 'X'));
    expect((await errorOf('alice', REQUEST, { id: allianceDs.dataset.id, reason: 'r' }))?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await errorOf('carol', REQUEST, { id: shared.dataset.id, reason: 'r' }))?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await errorOf('alice', REQUEST, { id: shared.dataset.id, reason: '   ' }))?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await errorOf('erin', REQUEST, { id: shared.dataset.id, reason: 'r' }))?.extensions?.code).toBe('FORBIDDEN');
    expect((await errorOf('alice', DECIDE, { id: globalIdOf('AccessRequest', '00000000-0000-4000-8000-000000000000'), approve: true }))?.extensions?.code).toBe('NOT_FOUND');
    const count = await withOwner(tp, async (c) => (await c.query('SELECT count(*)::int AS n FROM access_request WHERE dataset_id = ANY($1)',
      [[privateDs, allianceDs, shared].map((d) => uuidOf(d.dataset.id))])).rows[0].n);
    expect(count).toBe(0);
  });

  it('lets concurrent requests create one PENDING request only', async () => {
    const { dataset } = await publishedDataset(tp, 'carol');
    const token = await tp.token('bob');
    const results = await Promise.all(Array.from({ length: 5 }, () => tp.gql(REQUEST, { id: dataset.id, reason: 'race' }, { token })));
    expect(results.filter((r) => !r.errors).length).toBe(1);
    expect(results.filter((r) => r.errors?.[0].extensions?.code === 'CONFLICT').length).toBe(4);
  });
});

describe('row-level security decides, without any WHERE clause', () => {
  let sharedGranted: Awaited<ReturnType<typeof publishedDataset>>;
  let sharedHidden: Awaited<ReturnType<typeof publishedDataset>>;
  let privateDs: Awaited<ReturnType<typeof publishedDataset>>;
  let draft: string;

  beforeAll(async () => {
    sharedGranted = await publishedDataset(tp, 'carol', 'SHARED');
    sharedHidden = await publishedDataset(tp, 'carol', 'SHARED');
    privateDs = await publishedDataset(tp, 'carol', 'PRIVATE');
    await share(tp, 'carol', sharedGranted.dataset.id, 'whu');
    draft = (await createVersion(tp, 'carol', sharedGranted.dataset.id, [{ text: 'draft' }])).id;
  });

  async function seenBy(slug: string) {
    return asAppRole(tp, { 'app.tenant_id': tenants[slug], 'app.user_id': '' }, async (c) => {
      const ids = async (sql: string) => new Set((await c.query(sql)).rows.map((r) => r.id as string));
      return {
        datasets: await ids('SELECT id FROM dataset'),
        versions: await ids('SELECT id FROM dataset_version'),
        itemVersions: await ids('SELECT DISTINCT version_id AS id FROM dataset_item'),
        blobs: await ids('SELECT id FROM blob'),
        grants: await ids('SELECT id FROM dataset_grant'),
        grantDatasets: await ids('SELECT DISTINCT dataset_id AS id FROM dataset_grant'),
      };
    });
  }

  it('the stranger sees no SHARED-not-granted or PRIVATE rows at all', async () => {
    const seen = await seenBy('casia');
    for (const d of [sharedGranted, sharedHidden, privateDs]) {
      expect(seen.datasets.has(uuidOf(d.dataset.id))).toBe(false);
      expect(seen.versions.has(uuidOf(d.version.id))).toBe(false);
      expect(seen.itemVersions.has(uuidOf(d.version.id))).toBe(false);
      expect(seen.blobs.has(uuidOf(d.blobId))).toBe(false);
    }
    expect(seen.grantDatasets.has(uuidOf(sharedGranted.dataset.id))).toBe(false);
  });

  it('the grantee sees the granted dataset, its published versions, items and blobs — not drafts, not grant rows', async () => {
    const seen = await seenBy('whu');
    expect(seen.datasets.has(uuidOf(sharedGranted.dataset.id))).toBe(true);
    expect(seen.versions.has(uuidOf(sharedGranted.version.id))).toBe(true);
    expect(seen.itemVersions.has(uuidOf(sharedGranted.version.id))).toBe(true);
    expect(seen.blobs.has(uuidOf(sharedGranted.blobId))).toBe(true);
    expect(seen.versions.has(uuidOf(draft))).toBe(false);
    expect(seen.itemVersions.has(uuidOf(draft))).toBe(false);
    expect(seen.grants.size).toBe(0);
    expect(seen.datasets.has(uuidOf(sharedHidden.dataset.id))).toBe(false);
    expect(seen.datasets.has(uuidOf(privateDs.dataset.id))).toBe(false);
  });

  it('an expired grant shows nothing to the grantee', async () => {
    const { dataset, version } = await publishedDataset(tp, 'carol', 'SHARED');
    const grant = await share(tp, 'carol', dataset.id, 'whu');
    expect((await seenBy('whu')).versions.has(uuidOf(version.id))).toBe(true);
    await withOwner(tp, (c) => c.query(`UPDATE dataset_grant SET expires_at = now() - interval '1 second' WHERE id = $1`, [uuidOf(grant.id)]));
    const seen = await seenBy('whu');
    expect(seen.datasets.has(uuidOf(dataset.id))).toBe(false);
    expect(seen.versions.has(uuidOf(version.id))).toBe(false);
  });

  it('the app role cannot write around the rules', async () => {
    const iqiyi = { 'app.tenant_id': tenants.iqiyi };
    const foreignBlob = uuidOf(await blobOf(tp, 'bob', randomBytes(8)));
    // Into a published version: refused by the item policy, even for the owner.
    await expect(asAppRole(tp, iqiyi, (c) => c.query(
      `INSERT INTO dataset_item (version_id, tenant_id, ordinal, text) VALUES ($1, $2, 99, 'late')`,
      [uuidOf(sharedGranted.version.id), tenants.iqiyi]))).rejects.toThrow(/row-level security/);
    // A published version's counters cannot change.
    await expect(asAppRole(tp, iqiyi, (c) => c.query(`UPDATE dataset_version SET item_count = 0 WHERE id = $1`,
      [uuidOf(sharedGranted.version.id)]))).rejects.toThrow(/immutable/);
    // Another tenant's blob cannot be referenced (composite foreign key).
    await expect(asAppRole(tp, iqiyi, (c) => c.query(
      `INSERT INTO dataset_item (version_id, tenant_id, ordinal, blob_id) VALUES ($1, $2, 5, $3)`,
      [uuidOf(draft), tenants.iqiyi, foreignBlob]))).rejects.toThrow(/foreign key/);
    // The stranger cannot grant itself access to someone else's dataset.
    await expect(asAppRole(tp, { 'app.tenant_id': tenants.casia }, (c) => c.query(
      `INSERT INTO dataset_grant (dataset_id, tenant_id, grantee_tenant_id) VALUES ($1, $2, $3)`,
      [uuidOf(sharedHidden.dataset.id), tenants.iqiyi, tenants.casia]))).rejects.toThrow(/row-level security/);
    // Nor ask for a PRIVATE one by going around the service.
    await expect(asAppRole(tp, { 'app.tenant_id': tenants.casia }, (c) => c.query(
      `INSERT INTO access_request (dataset_id, tenant_id, requester_tenant_id, reason) VALUES ($1, $2, $3, 'x')`,
      [uuidOf(privateDs.dataset.id), tenants.iqiyi, tenants.casia]))).rejects.toThrow(/row-level security/);
  });

  it('every new table has RLS enabled and forced', async () => {
    const rows = await withOwner(tp, async (c) => (await c.query(`SELECT relname FROM pg_class
      WHERE relname IN ('blob','dataset','dataset_version','dataset_item','dataset_grant','access_request')
        AND relrowsecurity AND relforcerowsecurity ORDER BY relname`)).rows.map((r) => r.relname));
    expect(rows).toEqual(['access_request', 'blob', 'dataset', 'dataset_grant', 'dataset_item', 'dataset_version']);
  });
});
