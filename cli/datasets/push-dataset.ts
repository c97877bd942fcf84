// `datasets push`: upload a folder or a JSONL file as a new version of a dataset.
//   1. read the source into entries (push-sources.ts) — every problem reported before any upload;
//   2. find the dataset by id or by name in the acting tenant (or create it with --create);
//   3. upload the files, a few at a time, streaming each one, with a progress bar;
//   4. create the version with the first batch of items, append the rest in batches;
//   5. publish it with --publish.
// Re-running is cheap: the server answers an identical upload with the same blob.
import fs from 'node:fs';
import { SingleBar } from 'cli-progress';
import type { ApiClient } from '../api-client';
import { CliError, type CliIO } from '../cli-context';
import { contentTypeOf, readSource, type PushEntry } from './push-sources';

export const MODALITIES = ['TEXT', 'IMAGE', 'AUDIO', 'VIDEO', 'MULTIMODAL', 'TENSOR'] as const;
export const VISIBILITIES = ['PRIVATE', 'SHARED', 'ALLIANCE'] as const;

/** Items per GraphQL call: well under the server's limit and its request body size. */
const ITEMS_PER_CALL = 1000;
const PARALLEL_UPLOADS = 4;

export interface PushOptions {
  source: string;
  /** A Dataset id, or the name of a dataset of the acting tenant. */
  dataset: string;
  create?: boolean;
  modality?: string;
  visibility?: string;
  description?: string;
  license?: string;
  publish?: boolean;
}

export interface PushResult {
  datasetId: string;
  versionId: string;
  version: number;
  itemCount: number;
  uploadedBytes: number;
  published: boolean;
}

interface Progress {
  start(totalBytes: number, files: number): void;
  advance(bytes: number): void;
  fileDone(): void;
  stop(): void;
}

export async function pushDataset(api: ApiClient, io: CliIO, opts: PushOptions): Promise<PushResult> {
  const entries = readSource(opts.source);
  const datasetId = await resolveDataset(api, io, opts, entries);
  const { blobIds, bytes } = await uploadFiles(api, entries, progressFor(io));
  const items = entries.map((e) => ({
    text: e.text ?? null,
    blobId: e.file ? blobIds.get(e.file)! : e.blobId ?? null,
    metadata: e.metadata ?? null,
  }));

  let version = (await api.gql<{ createDatasetVersion: VersionShape }>(
    `mutation($input: CreateDatasetVersionInput!) { createDatasetVersion(input: $input) { ${VERSION_FIELDS} } }`,
    { input: { datasetId, items: items.slice(0, ITEMS_PER_CALL) } })).createDatasetVersion;
  for (let i = ITEMS_PER_CALL; i < items.length; i += ITEMS_PER_CALL) {
    version = (await api.gql<{ addDatasetItems: VersionShape }>(
      `mutation($id: ID!, $items: [DatasetItemInput!]!) { addDatasetItems(versionId: $id, items: $items) { ${VERSION_FIELDS} } }`,
      { id: version.id, items: items.slice(i, i + ITEMS_PER_CALL) })).addDatasetItems;
  }
  if (opts.publish) {
    version = (await api.gql<{ publishDatasetVersion: VersionShape }>(
      `mutation($id: ID!) { publishDatasetVersion(id: $id) { ${VERSION_FIELDS} } }`, { id: version.id })).publishDatasetVersion;
  }
  return {
    datasetId, versionId: version.id, version: version.version, itemCount: version.itemCount,
    uploadedBytes: bytes, published: version.published,
  };
}

const VERSION_FIELDS = 'id version itemCount published';
interface VersionShape {
  id: string;
  version: number;
  itemCount: number;
  published: boolean;
}

function isDatasetId(value: string): boolean {
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(value)) return false;
  return /^Dataset:[0-9a-f-]{36}$/.test(Buffer.from(value, 'base64url').toString('utf8'));
}

async function resolveDataset(api: ApiClient, io: CliIO, opts: PushOptions, entries: PushEntry[]): Promise<string> {
  if (isDatasetId(opts.dataset)) return opts.dataset;
  const { viewer } = await api.gql<{ viewer: { activeTenant: { slug: string } | null } }>('{ viewer { activeTenant { slug } } }');
  const tenant = viewer.activeTenant?.slug;
  if (!tenant) throw new CliError('you belong to several tenants: choose one with --tenant or ALLIANCE_TENANT');
  const { datasets } = await api.gql<{ datasets: { edges: { node: { id: string; name: string } }[] } }>(
    `query($filter: DatasetFilter) { datasets(first: 100, filter: $filter) { edges { node { id name } } } }`,
    { filter: { owner: tenant, search: opts.dataset } });
  const found = datasets.edges.find((e) => e.node.name === opts.dataset);
  if (found) return found.node.id;
  if (!opts.create) throw new CliError(`${tenant} has no dataset named "${opts.dataset}"; pass --create to create it`);
  const modality = opts.modality?.toUpperCase() ?? guessModality(entries);
  const visibility = (opts.visibility ?? 'PRIVATE').toUpperCase();
  const { createDataset } = await api.gql<{ createDataset: { id: string } }>(
    `mutation($input: CreateDatasetInput!) { createDataset(input: $input) { id } }`,
    { input: { name: opts.dataset, modality, visibility, description: opts.description, license: opts.license } });
  io.stderr.write(`created dataset "${opts.dataset}" (${modality}, ${visibility}) in ${tenant}\n`);
  return createDataset.id;
}

/** IMAGE for a folder of images, AUDIO for sounds, TEXT for texts only, MULTIMODAL for a mix. */
function guessModality(entries: PushEntry[]): string {
  const kinds = new Set(entries.map((e) => {
    if (!e.file) return 'TEXT';
    const type = contentTypeOf(e.file);
    if (type.startsWith('image/')) return 'IMAGE';
    if (type.startsWith('audio/')) return 'AUDIO';
    if (type.startsWith('video/')) return 'VIDEO';
    return 'MULTIMODAL';
  }));
  return kinds.size === 1 ? [...kinds][0] : 'MULTIMODAL';
}

async function uploadFiles(api: ApiClient, entries: PushEntry[], progress: Progress): Promise<{ blobIds: Map<string, string>; bytes: number }> {
  const files = [...new Set(entries.filter((e) => e.file).map((e) => e.file!))];
  const total = files.reduce((sum, f) => sum + fs.statSync(f).size, 0);
  const blobIds = new Map<string, string>();
  progress.start(total, files.length);
  try {
    let next = 0;
    const worker = async () => {
      while (next < files.length) {
        const file = files[next++];
        const blob = await api.uploadFile(file, contentTypeOf(file), (n) => progress.advance(n));
        blobIds.set(file, blob.id);
        progress.fileDone();
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL_UPLOADS, files.length) }, worker));
  } finally {
    progress.stop();
  }
  return { blobIds, bytes: total };
}

function progressFor(io: CliIO): Progress {
  if (!io.interactive) {
    let files = 0;
    let bytes = 0;
    return {
      start: () => undefined,
      advance: (n) => (bytes += n),
      fileDone: () => (files += 1),
      stop: () => { if (files > 0) io.stderr.write(`uploaded ${files} files (${bytes} bytes)\n`); },
    };
  }
  const bar = new SingleBar({
    stream: io.stderr as NodeJS.WriteStream,
    format: 'uploading [{bar}] {percentage}% | {files}/{totalFiles} files | {value}/{total} bytes | eta {eta_formatted}',
    hideCursor: true,
  });
  let done = 0;
  let totalFiles = 0;
  return {
    start: (total, files) => {
      totalFiles = files;
      if (files > 0) bar.start(total, 0, { files: 0, totalFiles });
    },
    advance: (n) => bar.increment(n),
    fileDone: () => bar.update({ files: ++done, totalFiles }),
    stop: () => { if (totalFiles > 0) bar.stop(); },
  };
}
