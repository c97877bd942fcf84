// Each API process caches who belongs to which tenant (tenants/identity.ts). A change must reach
// every process: at once in the process that made it, through the database's change notice in
// the others, and after a lost LISTEN connection by forgetting everything.
import { Client } from 'pg';
import { changeWhileListenerIsCut } from './harness/listener-cut';
import { startSecondPlatform } from './harness/second-platform';
import { startTestPlatform, type TestPlatform } from './harness/test-platform';
import { until } from './harness/wait';

let tp: TestPlatform;
let tp2: TestPlatform;
let owner: Client;

beforeAll(async () => {
  tp = await startTestPlatform();
  tp2 = await startSecondPlatform(tp);
  owner = new Client({ connectionString: tp.database.ownerUrl });
  await owner.connect();
});
afterAll(async () => {
  await owner?.end();
  await tp2?.close();
  await tp?.close();
});

async function membershipsOf(client: TestPlatform, username: string): Promise<string[]> {
  const data = await client.as(username, `{ viewer { memberships { role tenant { slug } } } }`);
  return data.viewer.memberships.map((m: { role: string; tenant: { slug: string } }) => `${m.tenant.slug}:${m.role}`);
}

/** Reads the user's memberships on both processes, so both have them cached. */
async function warm(username: string, expected: string[]): Promise<void> {
  expect(await membershipsOf(tp, username)).toEqual(expected);
  expect(await membershipsOf(tp2, username)).toEqual(expected);
}

it('a removed member loses the tenant at once where it was removed, and on every other process shortly', async () => {
  await warm('dave', ['casia:MEMBER']);
  await tp.as('alice', `mutation { removeMember(tenantSlug: "casia", username: "dave") }`);

  // The process that removed it: the very next request.
  const refused = await tp.gql(`{ datasets(first: 1) { totalCount } }`, {}, { token: await tp.token('dave'), tenant: 'casia' });
  expect(refused.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  expect(await membershipsOf(tp, 'dave')).toEqual([]);
  // The other process: through the notice, without a restart.
  await until('the second process to forget dave\'s membership', async () => (await membershipsOf(tp2, 'dave')).length === 0, 10_000);
  const refusedThere = await tp2.gql(`{ datasets(first: 1) { totalCount } }`, {}, { token: await tp2.token('dave'), tenant: 'casia' });
  expect(refusedThere.errors?.[0].extensions?.code).toBe('FORBIDDEN');
  // Nobody else's memberships moved.
  await warm('bob', ['whu:OWNER']);

  // And back, added on the other process this time.
  await tp2.as('alice', `mutation { addMember(tenantSlug: "casia", username: "dave", role: MEMBER) { role } }`);
  expect(await membershipsOf(tp2, 'dave')).toEqual(['casia:MEMBER']);
  await until('the first process to see dave again', async () => (await membershipsOf(tp, 'dave')).length === 1, 10_000);
});

it('a change made in the database itself reaches every process', async () => {
  await warm('erin', ['whu:VIEWER']);
  await owner.query(`UPDATE membership SET role = 'MEMBER' WHERE user_id = (SELECT id FROM app_user WHERE username = 'erin')`);
  try {
    for (const client of [tp, tp2]) {
      await until('the new role', async () => (await membershipsOf(client, 'erin'))[0] === 'whu:MEMBER', 10_000);
    }
  } finally {
    await owner.query(`UPDATE membership SET role = 'VIEWER' WHERE user_id = (SELECT id FROM app_user WHERE username = 'erin')`);
  }
  for (const client of [tp, tp2]) {
    await until('the old role back', async () => (await membershipsOf(client, 'erin'))[0] === 'whu:VIEWER', 10_000);
  }
});

it('a change whose notice was lost with the LISTEN connection is seen once the connection is back', async () => {
  await warm('carol', ['iqiyi:OWNER']);
  try {
    // The first process's LISTEN connection is cut while the membership changes: it misses the notice.
    await changeWhileListenerIsCut(tp, owner, () =>
      owner.query(`UPDATE membership SET role = 'ADMIN' WHERE user_id = (SELECT id FROM app_user WHERE username = 'carol')`));
    await until('the first process to see the new role', async () => (await membershipsOf(tp, 'carol'))[0] === 'iqiyi:ADMIN', 10_000);
  } finally {
    await owner.query(`UPDATE membership SET role = 'OWNER' WHERE user_id = (SELECT id FROM app_user WHERE username = 'carol')`);
  }
});
