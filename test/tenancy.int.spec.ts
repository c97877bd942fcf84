// Tenancy through the real HTTP API: demo seed, tenant choice, roles, cross-tenant NOT_FOUND.
import { startTestPlatform, type TestPlatform } from './harness/test-platform';

let tp: TestPlatform;
beforeAll(async () => {
  tp = await startTestPlatform();
});
afterAll(async () => {
  await tp?.close();
});

const VIEWER = `{ viewer { username isAllianceAdmin memberships { role tenant { slug } } activeTenant { slug } } }`;

describe('demo seed', () => {
  it.each([
    ['admin', true, []],
    ['alice', false, [['OWNER', 'casia']]],
    ['dave', false, [['MEMBER', 'casia']]],
    ['bob', false, [['OWNER', 'whu']]],
    ['erin', false, [['VIEWER', 'whu']]],
    ['carol', false, [['OWNER', 'iqiyi']]],
  ])('%s gets a token from the dev realm and sees its memberships', async (username, isAdmin, memberships) => {
    const data = await tp.as(username, VIEWER);
    expect(data.viewer.username).toBe(username);
    expect(data.viewer.isAllianceAdmin).toBe(isAdmin);
    expect(data.viewer.memberships.map((m: any) => [m.role, m.tenant.slug])).toEqual(memberships);
    expect(data.viewer.activeTenant?.slug ?? null).toBe((memberships as string[][])[0]?.[1] ?? null);
  });
});

describe('tenant visibility', () => {
  it('lists only the tenants a member belongs to; an admin sees all', async () => {
    const alice = await tp.as('alice', `{ tenants { totalCount edges { node { slug } } } }`);
    expect(alice.tenants.edges.map((e: any) => e.node.slug)).toEqual(['casia']);
    expect(alice.tenants.totalCount).toBe(1);
    const admin = await tp.as('admin', `{ tenants { totalCount edges { node { slug } } } }`);
    expect(admin.tenants.edges.map((e: any) => e.node.slug).sort()).toEqual(['casia', 'iqiyi', 'whu']);
  });

  it("answers NOT_FOUND for another tenant by slug, by node id, and for its members", async () => {
    const whuId = (await tp.as('bob', `{ tenant(slug: "whu") { id } }`)).tenant.id;
    const alice = await tp.token('alice');
    const bySlug = await tp.gql(`{ tenant(slug: "whu") { id members { totalCount } } }`, {}, { token: alice });
    expect(bySlug.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    expect(bySlug.data?.tenant).toBeNull();
    const byNode = await tp.gql(`query($id: ID!) { node(id: $id) { id ... on Tenant { slug } } }`, { id: whuId }, { token: alice });
    expect(byNode.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    // The same answer as for an id that never existed.
    const missing = Buffer.from('Tenant:00000000-0000-4000-8000-000000000000').toString('base64url');
    const byMissing = await tp.gql(`query($id: ID!) { node(id: $id) { id } }`, { id: missing }, { token: alice });
    expect(byMissing.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    expect(byMissing.errors?.[0].message.replace(missing, 'X')).toBe(byNode.errors?.[0].message.replace(whuId, 'X'));
  });

  it('rejects a malformed id with BAD_USER_INPUT', async () => {
    const res = await tp.gql(`{ node(id: "not-an-id!") { id } }`, {}, { token: await tp.token('alice') });
    expect(res.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('paginates with cursors and refuses first outside 1..100', async () => {
    const admin = await tp.token('admin');
    const page1 = await tp.gql(`{ tenants(first: 2) { edges { cursor node { slug } } pageInfo { hasNextPage endCursor } } }`, {}, { token: admin });
    expect(page1.data!.tenants.edges).toHaveLength(2);
    expect(page1.data!.tenants.pageInfo.hasNextPage).toBe(true);
    const page2 = await tp.gql(`query($after: String) { tenants(first: 2, after: $after) { edges { node { slug } } pageInfo { hasNextPage hasPreviousPage } } }`,
      { after: page1.data!.tenants.pageInfo.endCursor }, { token: admin });
    expect(page2.data!.tenants.edges).toHaveLength(1);
    expect(page2.data!.tenants.pageInfo).toEqual({ hasNextPage: false, hasPreviousPage: true });
    const all = [...page1.data!.tenants.edges, ...page2.data!.tenants.edges].map((e: any) => e.node.slug);
    expect(new Set(all).size).toBe(3);
    for (const first of [0, 101, -1]) {
      const res = await tp.gql(`query($first: Int) { tenants(first: $first) { totalCount } }`, { first }, { token: admin });
      expect(res.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
    }
    const badCursor = await tp.gql(`{ tenants(after: "garbage") { totalCount } }`, {}, { token: admin });
    expect(badCursor.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('tenant administration', () => {
  const CREATE = `mutation($input: CreateTenantInput!) { createTenant(input: $input) { id slug name } }`;

  it('only alliance admins create tenants', async () => {
    const denied = await tp.gql(CREATE, { input: { slug: 'hust', name: 'HUST' } }, { token: await tp.token('alice') });
    expect(denied.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const created = await tp.as('admin', CREATE, { input: { slug: 'hust', name: 'Huazhong University of Science and Technology' } });
    expect(created.createTenant.slug).toBe('hust');
    const dup = await tp.gql(CREATE, { input: { slug: 'hust', name: 'again' } }, { token: await tp.token('admin') });
    expect(dup.errors?.[0].extensions?.code).toBe('CONFLICT');
    const bad = await tp.gql(CREATE, { input: { slug: 'Bad Slug!', name: 'x' } }, { token: await tp.token('admin') });
    expect(bad.errors?.[0].extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('a VIEWER cannot add members; an OWNER can, and the new member sees the tenant', async () => {
    const ADD = `mutation($t: String!, $u: String!, $r: TenantRole!) { addMember(tenantSlug: $t, username: $u, role: $r) { role user { username } tenant { slug } } }`;
    await tp.token('dave'); // dave has signed in (users appear on first sign-in)
    const denied = await tp.gql(ADD, { t: 'whu', u: 'dave', r: 'MEMBER' }, { token: await tp.token('erin') });
    expect(denied.errors?.[0].extensions?.code).toBe('FORBIDDEN');
    const foreign = await tp.gql(ADD, { t: 'whu', u: 'dave', r: 'MEMBER' }, { token: await tp.token('alice') });
    expect(foreign.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    const added = await tp.as('bob', ADD, { t: 'whu', u: 'dave', r: 'MEMBER' });
    expect(added.addMember).toEqual({ role: 'MEMBER', user: { username: 'dave' }, tenant: { slug: 'whu' } });
    // dave now has two tenants: without X-Tenant, tenant-scoped fields must ask him to choose.
    const members = `{ tenant(slug: "whu") { members { totalCount edges { node { role user { username } } } } } }`;
    const chosen = await tp.as('dave', members, {}, 'whu');
    expect(chosen.tenant.members.edges.map((e: any) => e.node.user.username).sort()).toEqual(['bob', 'dave', 'erin']);
    const viewer = await tp.as('dave', `{ viewer { activeTenant { slug } memberships { tenant { slug } } } }`);
    expect(viewer.viewer.activeTenant).toBeNull();
    expect(viewer.viewer.memberships.map((m: any) => m.tenant.slug).sort()).toEqual(['casia', 'whu']);
    const notMine = await tp.gql(`{ viewer { username } }`, {}, { token: await tp.token('dave'), tenant: 'iqiyi' });
    expect(notMine.status).toBe(403);
    expect(notMine.errors?.[0].extensions?.code).toBe('FORBIDDEN');

    const removed = await tp.as('bob', `mutation { removeMember(tenantSlug: "whu", username: "dave") }`);
    expect(removed.removeMember).toBe(true);
    const gone = await tp.gql(members, {}, { token: await tp.token('dave') });
    expect(gone.errors?.[0].extensions?.code).toBe('NOT_FOUND');
  });

  it('refuses to remove or demote the last OWNER', async () => {
    const res = await tp.gql(`mutation { removeMember(tenantSlug: "iqiyi", username: "carol") }`, {}, { token: await tp.token('carol') });
    expect(res.errors?.[0].extensions?.code).toBe('CONFLICT');
    const demote = await tp.gql(`mutation { addMember(tenantSlug: "iqiyi", username: "carol", role: MEMBER) { role } }`, {}, { token: await tp.token('carol') });
    expect(demote.errors?.[0].extensions?.code).toBe('CONFLICT');
  });

  it('answers NOT_FOUND for a user who never signed in', async () => {
    const res = await tp.gql(`mutation { addMember(tenantSlug: "casia", username: "nobody", role: MEMBER) { role } }`, {}, { token: await tp.token('alice') });
    expect(res.errors?.[0].extensions?.code).toBe('NOT_FOUND');
    expect(res.errors?.[0].message).toMatch(/signing in once/);
  });
});
