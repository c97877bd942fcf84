// Small builders for dataset tests: each speaks the public API (GraphQL, REST blobs) as a demo
// user, so tests read as the steps a member takes. Demo tenants: casia (alice OWNER, dave
// MEMBER), whu (bob OWNER, erin VIEWER), iqiyi (carol OWNER).
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import type { TestPlatform } from './test-platform';

export interface UploadResult {
  status: number;
  body: any;
}

export async function uploadBlob(
  tp: TestPlatform, user: string, bytes: Buffer | string, contentType = 'application/octet-stream', tenant?: string,
): Promise<UploadResult> {
  const headers: Record<string, string> = { authorization: `Bearer ${await tp.token(user)}`, 'content-type': contentType };
  if (tenant) headers['x-tenant'] = tenant;
  const res = await fetch(`${tp.url}/v1/blobs`, { method: 'POST', headers, body: bytes });
  return { status: res.status, body: await res.json() };
}

/** Uploads and returns the blob id, failing on anything but 201. */
export async function blobOf(tp: TestPlatform, user: string, bytes: Buffer | string = randomBytes(64), contentType = 'image/png'): Promise<string> {
  const res = await uploadBlob(tp, user, bytes, contentType);
  if (res.status !== 201) throw new Error(`upload as ${user}: ${res.status} ${JSON.stringify(res.body)}`);
  return res.body.id;
}

export async function downloadBlob(tp: TestPlatform, user: string, id: string, tenant?: string): Promise<{ status: number; bytes: Buffer; headers: Headers }> {
  const headers: Record<string, string> = { authorization: `Bearer ${await tp.token(user)}` };
  if (tenant) headers['x-tenant'] = tenant;
  const res = await fetch(`${tp.url}/v1/blobs/${id}`, { headers });
  return { status: res.status, bytes: Buffer.from(await res.arrayBuffer()), headers: res.headers };
}

let counter = 0;
export function uniqueName(prefix = 'ds'): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${randomBytes(3).toString('hex')}`;
}

export async function createDataset(
  tp: TestPlatform, user: string, input: { name?: string; visibility?: string; modality?: string; description?: string; license?: string } = {},
): Promise<{ id: string; name: string }> {
  const data = await tp.as(user, `mutation($input: CreateDatasetInput!) { createDataset(input: $input) { id name } }`, {
    input: { name: input.name ?? uniqueName(), modality: input.modality ?? 'IMAGE', visibility: input.visibility ?? 'SHARED',
      description: input.description, license: input.license },
  });
  return data.createDataset;
}

export async function createVersion(
  tp: TestPlatform, user: string, datasetId: string, items: Record<string, unknown>[],
): Promise<{ id: string; version: number; itemCount: number; sizeBytes: number; published: boolean }> {
  const data = await tp.as(user, `mutation($input: CreateDatasetVersionInput!) {
    createDatasetVersion(input: $input) { id version itemCount sizeBytes published } }`, { input: { datasetId, items } });
  return data.createDatasetVersion;
}

export async function publishVersion(tp: TestPlatform, user: string, versionId: string): Promise<void> {
  await tp.as(user, `mutation($id: ID!) { publishDatasetVersion(id: $id) { id } }`, { id: versionId });
}

export async function share(
  tp: TestPlatform, user: string, datasetId: string, tenantSlug: string, extra: { purpose?: string; expiresAt?: string } = {},
): Promise<{ id: string }> {
  const data = await tp.as(user, `mutation($input: ShareDatasetInput!) { shareDataset(input: $input) { id } }`, {
    input: { datasetId, tenantSlug, ...extra },
  });
  return data.shareDataset;
}

/** A published SHARED dataset of `owner` with text items and one blob item. */
export async function publishedDataset(tp: TestPlatform, owner: string, visibility = 'SHARED') {
  const blobId = await blobOf(tp, owner, randomBytes(100), 'image/png');
  const dataset = await createDataset(tp, owner, { visibility });
  const version = await createVersion(tp, owner, dataset.id, [
    { text: 'first', metadata: { n: 1 } },
    { blobId, metadata: { file: 'a.png' } },
    { text: 'third' },
  ]);
  await publishVersion(tp, owner, version.id);
  return { dataset, version, blobId };
}

/** A connection as the database owner (superuser): setup and assertions beside the API. */
export async function withOwner<T>(tp: TestPlatform, work: (c: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: tp.database.ownerUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/** A transaction as the app role with the given settings, rolled back afterwards (RLS probes). */
export async function asAppRole<T>(tp: TestPlatform, settings: Record<string, string>, work: (c: Client) => Promise<T>): Promise<T> {
  const u = new URL(tp.database.ownerUrl);
  u.username = 'alliance_app';
  u.password = process.env.APP_DATABASE_PASSWORD!;
  const client = new Client({ connectionString: u.toString() });
  await client.connect();
  try {
    await client.query('BEGIN');
    for (const [k, v] of Object.entries(settings)) await client.query('SELECT set_config($1, $2, true)', [k, v]);
    return await work(client);
  } finally {
    await client.query('ROLLBACK').catch(() => undefined);
    await client.end();
  }
}

export function uuidOf(globalId: string): string {
  return Buffer.from(globalId, 'base64url').toString('utf8').split(':')[1];
}

export function globalIdOf(type: string, uuid: string): string {
  return Buffer.from(`${type}:${uuid}`, 'utf8').toString('base64url');
}
