// Usage facts for property tests, written straight into the tables as system work: jobs, their
// shards (some finished, some not; some of cancelled jobs stopped early), the ledger's CAPTURE
// entries of those shards (plus RESERVE/RELEASE noise that usage must ignore), and synchronous
// inference minute buckets with their `usage:` captures — all consistent with each other the way
// tenants/job-accounting.ts and resolvers/endpoints/usage-meter.ts write them, but at times the
// test chooses (across days, around window edges). The oracles below recompute `usage` and
// `usageOfMyAssets` from these facts in plain TypeScript, independently of the SQL.
import { randomBytes, randomUUID } from 'node:crypto';
import type { EntityManager } from 'typeorm';

export interface World {
  tenants: Record<'casia' | 'whu' | 'iqiyi', string>;
  users: Record<'alice' | 'dave' | 'bob' | 'carol', string>;
  models: { id: string; owner: string; name: string }[];
  endpoints: { id: string; tenant: string; modelId: string; modelOwner: string }[];
  datasets: { id: string; owner: string; versionId: string; name: string }[];
}

export interface JobFact {
  id: string;
  tenantId: string;
  userId: string | null;
  endpointId: string;
  modelId: string;
  datasetId: string | null;
  datasetVersionId: string | null;
  status: 'SUCCEEDED' | 'CANCELLED';
  createdAt: Date;
  finishedAt: Date;
  shards: ShardFact[];
}

export interface ShardFact {
  id: string;
  index: number;
  itemFrom: number;
  itemTo: number;
  status: 'DONE' | 'CANCELLED' | 'PENDING';
  finishedAt: Date | null;
  deviceSeconds: number;
  chargedMilli: number;
  /** When its CAPTURE entry was posted (a few ms after the shard's transaction started). */
  capturedAt: Date | null;
  /** Results written: all items, or the first few of a shard that stopped early. */
  results: number;
}

export interface InferenceFact {
  tenantId: string;
  userId: string | null;
  endpointId: string;
  modelId: string;
  ownerTenantId: string;
  bucketStart: Date;
  requests: number;
  items: number;
  deviceMs: number;
  unitsMilli: number;
  capturedAt: Date;
}

export interface Facts {
  jobs: JobFact[];
  inference: InferenceFact[];
}

const HOUR = 3_600_000;
const MINUTE = 60_000;

/** Models, endpoints and datasets of casia and whu, some used across tenants. */
export async function createUsageWorld(em: EntityManager): Promise<World> {
  const ids = async (sql: string): Promise<Record<string, string>> =>
    Object.fromEntries((await em.query(sql)).map((r: { k: string; id: string }) => [r.k, r.id]));
  const tenants = await ids(`SELECT slug AS k, id FROM tenant WHERE slug IN ('casia', 'whu', 'iqiyi')`) as World['tenants'];
  const users = await ids(`SELECT username AS k, id FROM app_user WHERE username IN ('alice', 'dave', 'bob', 'carol')`) as World['users'];
  const blobOf = async (tenant: string) => (await em.query(
    `INSERT INTO blob (tenant_id, sha256, size, content_type) VALUES ($1, $2, 1, 'application/octet-stream') RETURNING id`,
    [tenant, randomBytes(32).toString('hex')]))[0].id as string;
  const models: World['models'] = [];
  const versions = new Map<string, string>();
  for (const [owner, name, visibility] of [[tenants.casia, 'facts-m1', 'ALLIANCE'], [tenants.casia, 'facts-m2', 'PRIVATE'], [tenants.whu, 'facts-m3', 'ALLIANCE']]) {
    const [model] = await em.query(`INSERT INTO model (tenant_id, name, task, modality, visibility, last_version)
      VALUES ($1, $2, 'tensor-transform', 'TENSOR', $3, 1) RETURNING id`, [owner, name, visibility]);
    const blob = await blobOf(owner);
    const [version] = await em.query(`INSERT INTO model_version (model_id, tenant_id, version, blob_id, sha256, size_bytes, handler, inputs, outputs)
      SELECT $1, $2, 1, id, sha256, 1, 'tensor', '[]', '[]' FROM blob WHERE id = $3 RETURNING id`, [model.id, owner, blob]);
    models.push({ id: model.id, owner, name });
    versions.set(model.id, version.id);
  }
  const endpoints: World['endpoints'] = [];
  const deploy: [string, number, string][] = [
    [tenants.casia, 0, 'facts-e1'], [tenants.casia, 1, 'facts-e2'], [tenants.whu, 2, 'facts-e3'],
    [tenants.whu, 0, 'facts-e4'], [tenants.casia, 2, 'facts-e5'],
  ];
  for (const [tenant, m, name] of deploy) {
    const model = models[m];
    const [e] = await em.query(`INSERT INTO endpoint (tenant_id, name, model_id, model_version_id, status)
      VALUES ($1, $2, $3, $4, 'READY') RETURNING id`, [tenant, name, model.id, versions.get(model.id)]);
    endpoints.push({ id: e.id, tenant, modelId: model.id, modelOwner: model.owner });
  }
  const datasets: World['datasets'] = [];
  for (const [owner, name] of [[tenants.casia, 'facts-d1'], [tenants.whu, 'facts-d2']]) {
    const [d] = await em.query(`INSERT INTO dataset (tenant_id, name, modality, visibility, last_version)
      VALUES ($1, $2, 'TEXT', 'ALLIANCE', 1) RETURNING id`, [owner, name]);
    const [v] = await em.query(`INSERT INTO dataset_version (dataset_id, tenant_id, version, item_count, published_at)
      VALUES ($1, $2, 1, 40, now()) RETURNING id`, [d.id, owner]);
    datasets.push({ id: d.id, owner, versionId: v.id, name });
  }
  return { tenants, users, models, endpoints, datasets };
}

export function generateFacts(world: World, random: () => number, opts: { start: Date; days: number; jobs: number; inferenceRows: number }): Facts {
  const pick = <T>(xs: T[]): T => xs[Math.floor(random() * xs.length)];
  const between = (lo: number, hi: number) => lo + random() * (hi - lo);
  const { tenants, users } = world;
  const usersOf: Record<string, (string | null)[]> = {
    [tenants.casia]: [users.alice, users.dave, null],
    [tenants.whu]: [users.bob],
  };
  const spanMs = opts.days * 24 * HOUR;
  const jobs: JobFact[] = [];
  for (let i = 0; i < opts.jobs; i++) {
    const tenantId = pick([tenants.casia, tenants.whu]);
    const endpoint = pick(world.endpoints.filter((e) => e.tenant === tenantId));
    const dataset = random() < 0.6 ? pick(world.datasets) : null;
    const createdAt = new Date(opts.start.getTime() + Math.floor(random() * spanMs));
    const status = random() < 0.15 ? 'CANCELLED' : 'SUCCEEDED';
    const shards: ShardFact[] = [];
    let item = 0;
    let at = createdAt.getTime();
    const count = 1 + Math.floor(random() * 4);
    for (let s = 0; s < count; s++) {
      const size = 1 + Math.floor(random() * 10);
      // Shards finish minutes to hours apart: a job often runs across midnight.
      at += Math.floor(between(0.5 * MINUTE, 9 * HOUR));
      const notRun = status === 'CANCELLED' && s === count - 1 && random() < 0.5;
      const done = !notRun;
      const charged = done && random() < 0.85 ? 1 + Math.floor(random() * 5000) : 0;
      const stoppedEarly = status === 'CANCELLED' && done && s === count - 1;
      shards.push({
        id: randomUUID(), index: s, itemFrom: item, itemTo: item + size,
        status: done ? 'DONE' : random() < 0.5 ? 'CANCELLED' : 'PENDING',
        finishedAt: done ? new Date(at) : null,
        deviceSeconds: done ? Math.round(between(0.01, 120) * 1e6) / 1e6 : 0,
        chargedMilli: charged,
        capturedAt: charged > 0 ? new Date(at + Math.floor(random() * 50)) : null,
        results: !done ? 0 : stoppedEarly ? Math.floor(random() * size) : size,
      });
      item += size;
    }
    const last = shards.filter((s) => s.finishedAt).map((s) => s.finishedAt!.getTime());
    jobs.push({
      id: randomUUID(), tenantId, userId: pick(usersOf[tenantId]), endpointId: endpoint.id, modelId: endpoint.modelId,
      datasetId: dataset?.id ?? null, datasetVersionId: dataset?.versionId ?? null, status, createdAt,
      finishedAt: new Date(last.length ? Math.max(...last) : createdAt.getTime()), shards,
    });
  }
  const inference: InferenceFact[] = [];
  const taken = new Set<string>();
  for (let i = 0; i < opts.inferenceRows; i++) {
    const tenantId = pick([tenants.casia, tenants.whu]);
    const endpoint = pick(world.endpoints.filter((e) => e.tenant === tenantId));
    const userId = pick(usersOf[tenantId]);
    const bucketStart = new Date(Math.floor((opts.start.getTime() + random() * spanMs) / MINUTE) * MINUTE);
    const unique = `${tenantId}/${endpoint.id}/${userId}/${bucketStart.toISOString()}`;
    if (taken.has(unique)) continue;
    taken.add(unique);
    const requests = 1 + Math.floor(random() * 20);
    inference.push({
      tenantId, userId, endpointId: endpoint.id, modelId: endpoint.modelId, ownerTenantId: endpoint.modelOwner, bucketStart,
      requests, items: requests + Math.floor(random() * 10), deviceMs: Math.round(between(1, 2000) * 1000) / 1000,
      unitsMilli: requests + Math.floor(random() * 3000), capturedAt: new Date(bucketStart.getTime() + Math.floor(random() * 59_000)),
    });
  }
  return { jobs, inference };
}

const period = (d: Date) => d.toISOString().slice(0, 7);

export async function insertFacts(em: EntityManager, facts: Facts): Promise<void> {
  const json = (rows: unknown[]) => JSON.stringify(rows);
  await em.query(`
    INSERT INTO job (id, tenant_id, submitted_by, endpoint_id, dataset_version_id, accelerator, status, total_items, done_items,
                     estimate_device_seconds, estimate_milli, charged_milli, period, input_hash, created_at, started_at, finished_at)
    SELECT id, tenant_id, submitted_by, endpoint_id, dataset_version_id, 'cpu', status::job_status, total_items, done_items,
           1, 1, charged_milli, period, 'facts', created_at, created_at, finished_at
      FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, tenant_id uuid, submitted_by uuid, endpoint_id uuid, dataset_version_id uuid,
           status text, total_items int, done_items int, charged_milli bigint, period text, created_at timestamptz, finished_at timestamptz)`,
  [json(facts.jobs.map((j) => ({
    id: j.id, tenant_id: j.tenantId, submitted_by: j.userId, endpoint_id: j.endpointId, dataset_version_id: j.datasetVersionId,
    status: j.status, total_items: j.shards[j.shards.length - 1].itemTo, done_items: j.shards.reduce((s, sh) => s + sh.results, 0),
    charged_milli: j.shards.reduce((s, sh) => s + sh.chargedMilli, 0), period: period(j.createdAt),
    created_at: j.createdAt, finished_at: j.finishedAt,
  })))]);
  const shards = facts.jobs.flatMap((j) => j.shards.map((s) => ({ ...s, jobId: j.id, tenantId: j.tenantId, status: s.status })));
  await em.query(`
    INSERT INTO job_shard (id, job_id, tenant_id, shard_index, item_from, item_to, status, device_seconds, charged_milli, finished_at)
    SELECT id, job_id, tenant_id, shard_index, item_from, item_to, status::shard_status, device_seconds, charged_milli, finished_at
      FROM jsonb_to_recordset($1::jsonb) AS r(id uuid, job_id uuid, tenant_id uuid, shard_index int, item_from int, item_to int,
           status text, device_seconds float8, charged_milli bigint, finished_at timestamptz)`,
  [json(shards.map((s) => ({
    id: s.id, job_id: s.jobId, tenant_id: s.tenantId, shard_index: s.index, item_from: s.itemFrom, item_to: s.itemTo, status: s.status,
    device_seconds: s.finishedAt ? s.deviceSeconds : null, charged_milli: s.finishedAt ? s.chargedMilli : null, finished_at: s.finishedAt,
  })))]);
  await em.query(`
    INSERT INTO job_result (job_id, tenant_id, item_index, output)
    SELECT r.job_id, r.tenant_id, r.item_from + g, '{}'::jsonb
      FROM jsonb_to_recordset($1::jsonb) AS r(job_id uuid, tenant_id uuid, item_from int, results int), generate_series(0, r.results - 1) g`,
  [json(shards.filter((s) => s.results > 0).map((s) => ({ job_id: s.jobId, tenant_id: s.tenantId, item_from: s.itemFrom, results: s.results })))]);
  const entries = [
    ...facts.jobs.flatMap((j) => [
      { tenant_id: j.tenantId, kind: 'RESERVE', units: 99_999, job_id: j.id, key: `reserve:job:${j.id}`, at: j.createdAt },
      ...j.shards.filter((s) => s.capturedAt).map((s) => ({
        tenant_id: j.tenantId, kind: 'CAPTURE', units: s.chargedMilli, job_id: j.id, key: `capture:shard:${s.id}`, at: s.capturedAt,
      })),
      { tenant_id: j.tenantId, kind: 'RELEASE', units: 7, job_id: j.id, key: `release:job:${j.id}`, at: j.finishedAt },
    ]),
    ...facts.inference.map((u) => ({ tenant_id: u.tenantId, kind: 'CAPTURE', units: u.unitsMilli, job_id: null, key: `usage:${randomUUID()}`, at: u.capturedAt })),
  ];
  await em.query(`
    INSERT INTO ledger_entry (tenant_id, period, kind, units_milli, job_id, entry_key, created_at)
    SELECT tenant_id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM'), kind::ledger_kind, units, job_id, key, at
      FROM jsonb_to_recordset($1::jsonb) AS r(tenant_id uuid, kind text, units bigint, job_id uuid, key text, at timestamptz)`,
  [json(entries)]);
  await em.query(`
    INSERT INTO usage_record (tenant_id, user_id, endpoint_id, model_id, owner_tenant_id, bucket_start, requests, items, device_ms, units_milli)
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS r(tenant_id uuid, user_id uuid, endpoint_id uuid, model_id uuid, owner_tenant_id uuid,
           bucket_start timestamptz, requests int, items int, device_ms float8, units_milli bigint)`,
  [json(facts.inference.map((u) => ({
    tenant_id: u.tenantId, user_id: u.userId, endpoint_id: u.endpointId, model_id: u.modelId, owner_tenant_id: u.ownerTenantId,
    bucket_start: u.bucketStart, requests: u.requests, items: u.items, device_ms: u.deviceMs, units_milli: u.unitsMilli,
  })))]);
}

// --- oracles: the definitions of usage and usageOfMyAssets, in plain TypeScript ---

export type GroupBy = 'DAY' | 'MODEL' | 'USER' | 'ENDPOINT' | 'DATASET';

export interface OracleBucket {
  key: string | null;
  deviceSeconds: number;
  unitsMilli: number;
  jobs: Set<string>;
  requests: number;
}

const inWindow = (at: Date | null, from: Date, to: Date) => at !== null && at >= from && at < to;
const day = (at: Date) => at.toISOString().slice(0, 10);

export function usageOracle(facts: Facts, tenantId: string, from: Date, to: Date, by: GroupBy): Map<string | null, OracleBucket> {
  const buckets = new Map<string | null, OracleBucket>();
  const add = (key: string | null, f: { seconds?: number; milli?: number; job?: string; requests?: number }) => {
    const b = buckets.get(key) ?? { key, deviceSeconds: 0, unitsMilli: 0, jobs: new Set<string>(), requests: 0 };
    b.deviceSeconds += f.seconds ?? 0;
    b.unitsMilli += f.milli ?? 0;
    b.requests += f.requests ?? 0;
    if (f.job) b.jobs.add(f.job);
    buckets.set(key, b);
  };
  const keyOf = (at: Date, d: { modelId: string; userId: string | null; endpointId: string; datasetId: string | null }) =>
    ({ DAY: day(at), MODEL: d.modelId, USER: d.userId, ENDPOINT: d.endpointId, DATASET: d.datasetId })[by];
  for (const job of facts.jobs.filter((j) => j.tenantId === tenantId)) {
    for (const s of job.shards) {
      if (s.status === 'DONE' && inWindow(s.finishedAt, from, to)) add(keyOf(s.finishedAt!, job), { seconds: s.deviceSeconds, job: job.id });
      if (inWindow(s.capturedAt, from, to)) add(keyOf(s.capturedAt!, job), { milli: s.chargedMilli, job: job.id });
    }
  }
  for (const u of facts.inference.filter((r) => r.tenantId === tenantId && inWindow(r.bucketStart, from, to))) {
    add(keyOf(u.bucketStart, { ...u, datasetId: null }), { seconds: u.deviceMs / 1000, milli: u.unitsMilli, requests: u.requests });
  }
  return buckets;
}

export interface OracleAsset {
  consumer: string;
  assetId: string;
  jobs: number;
  items: number;
  unitsMilli: number;
  requests: number;
}

export function assetOracle(world: World, facts: Facts, ownerId: string, from: Date, to: Date): Map<string, OracleAsset> {
  const rows = new Map<string, OracleAsset>();
  const row = (consumer: string, assetId: string) => {
    const key = `${consumer}/${assetId}`;
    const r = rows.get(key) ?? { consumer, assetId, jobs: 0, items: 0, unitsMilli: 0, requests: 0 };
    rows.set(key, r);
    return r;
  };
  const modelOwner = new Map(world.models.map((m) => [m.id, m.owner]));
  const datasetOwner = new Map(world.datasets.map((d) => [d.id, d.owner]));
  for (const job of facts.jobs.filter((j) => j.tenantId !== ownerId)) {
    const assets = [
      job.datasetId && datasetOwner.get(job.datasetId) === ownerId ? job.datasetId : null,
      modelOwner.get(job.modelId) === ownerId ? job.modelId : null,
    ].filter((a): a is string => a !== null);
    const done = job.shards.filter((s) => s.status === 'DONE' && inWindow(s.finishedAt, from, to));
    const captured = job.shards.filter((s) => inWindow(s.capturedAt, from, to));
    if (!done.length && !captured.length) continue;
    for (const asset of assets) {
      const r = row(job.tenantId, asset);
      r.jobs += 1;
      r.items += done.reduce((n, s) => n + (job.status === 'CANCELLED' ? s.results : s.itemTo - s.itemFrom), 0);
      r.unitsMilli += captured.reduce((n, s) => n + s.chargedMilli, 0);
    }
  }
  for (const u of facts.inference.filter((r) => r.ownerTenantId === ownerId && r.tenantId !== ownerId && inWindow(r.bucketStart, from, to))) {
    const r = row(u.tenantId, u.modelId);
    r.items += u.items;
    r.unitsMilli += u.unitsMilli;
    r.requests += u.requests;
  }
  return rows;
}
