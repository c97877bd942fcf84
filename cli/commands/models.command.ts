// `alliance-hub models …`: register ONNX models and list those you can use.
//   models push FILE.onnx --name N --handler H   upload (with a progress bar) + createModel when
//                                                 the name is new + createModelVersion
//   models list                                   every model the acting tenant may use
import fs from 'node:fs';
import path from 'node:path';
import { Command, Option } from 'commander';
import { ApiClient } from '../api-client';
import { CliError, resolveConnection, type CliIO, type ConnectionOptions } from '../cli-context';
import { printJson, printTable, readJsonArgument, uploadProgress } from '../output';

const HANDLERS = ['tensor', 'image-classification', 'ocr', 'vad'] as const;
const MODALITIES = ['TEXT', 'IMAGE', 'AUDIO', 'VIDEO', 'MULTIMODAL', 'TENSOR'] as const;
const VISIBILITIES = ['PRIVATE', 'SHARED', 'ALLIANCE'] as const;
const MODALITY_OF: Record<string, string> = { tensor: 'TENSOR', 'image-classification': 'IMAGE', ocr: 'IMAGE', vad: 'AUDIO' };

const MODEL_FIELDS = 'id name task modality visibility owner { slug } latestVersion { id version handler }';
const MODELS = `query($after: String, $filter: ModelFilter) { models(first: 100, after: $after, filter: $filter) {
  edges { node { ${MODEL_FIELDS} } } pageInfo { hasNextPage endCursor } } }`;

interface ModelShape {
  id: string;
  name: string;
  task: string;
  modality: string;
  visibility: string;
  owner: { slug: string };
  latestVersion: { id: string; version: number; handler: string } | null;
}

export async function listModels(api: ApiClient, filter: Record<string, string> | null = null): Promise<ModelShape[]> {
  const all: ModelShape[] = [];
  let after: string | null = null;
  for (;;) {
    const page: { models: { edges: { node: ModelShape }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } =
      await api.gql(MODELS, { after, filter });
    all.push(...page.models.edges.map((e) => e.node));
    if (!page.models.pageInfo.hasNextPage) return all;
    after = page.models.pageInfo.endCursor;
  }
}

export async function actingTenant(api: ApiClient): Promise<string> {
  const { viewer } = await api.gql<{ viewer: { activeTenant: { slug: string } | null } }>('{ viewer { activeTenant { slug } } }');
  if (!viewer.activeTenant) throw new CliError('you belong to several tenants: choose one with --tenant or ALLIANCE_TENANT');
  return viewer.activeTenant.slug;
}

interface PushOptions {
  name: string;
  handler: string;
  task?: string;
  modality?: string;
  visibility: string;
  description?: string;
  license?: string;
  config?: string;
  json?: boolean;
}

export function modelsCommand(io: CliIO): Command {
  const models = new Command('models').description('ONNX models: register versions, list what you can use');
  const client = (command: Command) => new ApiClient(resolveConnection(command.optsWithGlobals<ConnectionOptions>(), io.env));

  models.command('push')
    .description('upload an ONNX file as a new version of a model (created when the name is new); prints the version id')
    .argument('<file>', 'the .onnx file')
    .requiredOption('-n, --name <name>', "the model's name in the acting tenant")
    .addOption(new Option('-H, --handler <handler>', 'how inputs become tensors').choices(HANDLERS).makeOptionMandatory())
    .option('-c, --config <json|@file>', "the handler's settings, e.g. '{\"labels\":[\"cat\",\"dog\"]}'")
    .option('--task <task>', 'for a new model (default: the handler)')
    .addOption(new Option('--modality <modality>', 'for a new model (default: from the handler)').choices(MODALITIES))
    .addOption(new Option('--visibility <visibility>', 'for a new model').choices(VISIBILITIES).default('PRIVATE'))
    .option('--description <text>', 'for a new model')
    .option('--license <license>', 'for a new model')
    .option('--json', 'print JSON for scripts')
    .action(async (file: string, opts: PushOptions, command: Command) => {
      if (!fs.existsSync(file) || !fs.statSync(file).isFile()) throw new CliError(`${file}: no such file`);
      if (!looksLikeOnnx(file)) {
        throw new CliError(`${file} does not look like an ONNX model (an ONNX file is a ModelProto starting with its IR version); nothing was uploaded`);
      }
      const config = opts.config === undefined ? null
        : readJsonArgument(opts.config, '--config', (f) => readFile(f), (m) => new CliError(m));
      const api = client(command);
      const tenant = await actingTenant(api);
      const existing = (await listModels(api, { owner: tenant })).find((m) => m.name === opts.name);

      const size = fs.statSync(file).size;
      const progress = uploadProgress(io, path.basename(file), size);
      let blob;
      try {
        blob = await api.uploadFile(file, 'application/octet-stream', (n) => progress.advance(n));
      } finally {
        progress.stop();
      }

      let modelId = existing?.id;
      if (!modelId) {
        const { createModel } = await api.gql<{ createModel: { id: string } }>(
          `mutation($input: CreateModelInput!) { createModel(input: $input) { id } }`,
          { input: { name: opts.name, task: opts.task ?? opts.handler, modality: opts.modality ?? MODALITY_OF[opts.handler] ?? 'TENSOR',
            visibility: opts.visibility, description: opts.description, license: opts.license } });
        modelId = createModel.id;
        io.stderr.write(`created model "${opts.name}" (${opts.visibility}) in ${tenant}\n`);
      }
      const created = !existing;
      const { createModelVersion: version } = await api.gql<{ createModelVersion: {
        id: string; version: number; sha256: string; inputs: { name: string; type: string; shape: (number | string)[] }[];
        outputs: { name: string; type: string; shape: (number | string)[] }[]; } }>(
        `mutation($input: CreateModelVersionInput!) { createModelVersion(input: $input) {
          id version sha256 inputs { name type shape } outputs { name type shape } } }`,
        { input: { modelId, blobId: blob.id, handler: opts.handler, config } }).catch((err: Error) => {
        // The server loads the file to check it; a model created a moment ago stays, empty.
        throw created ? new CliError(`${err.message}; model "${opts.name}" was created without a version: push a valid file to it`) : err;
      });
      if (opts.json) return printJson(io, { modelId, ...version, blobId: blob.id });
      const sig = (ts: { name: string; type: string; shape: (number | string)[] }[]) => ts.map((t) => `${t.name} ${t.type}[${t.shape.join(',')}]`).join(', ');
      io.stderr.write(`${opts.name} version ${version.version} (${opts.handler}): ${sig(version.inputs)} → ${sig(version.outputs)}\n`);
      io.stdout.write(`${version.id}\n`);
    });

  models.command('list')
    .description('every model the acting tenant may use: its own, ALLIANCE ones, and SHARED ones granted to it')
    .option('--owner <slug>', 'only models of this tenant')
    .option('--json', 'print JSON for scripts')
    .action(async (opts, command: Command) => {
      const list = await listModels(client(command), opts.owner ? { owner: opts.owner } : null);
      if (opts.json) return printJson(io, list);
      printTable(io, ['NAME', 'OWNER', 'VISIBILITY', 'TASK', 'VERSION', 'HANDLER', 'ID'],
        list.map((m) => [m.name, m.owner.slug, m.visibility, m.task, m.latestVersion ? String(m.latestVersion.version) : '-',
          m.latestVersion?.handler ?? '-', m.id]));
    });

  return models;
}

/**
 * A cheap local check before uploading: protobuf writes fields in number order, and an ONNX
 * ModelProto's field 1 is ir_version (a varint): a model file starts with byte 0x08. The server
 * still loads the file in ONNX Runtime; this only saves uploading something else by mistake.
 */
function looksLikeOnnx(file: string): boolean {
  const fd = fs.openSync(file, 'r');
  try {
    const first = Buffer.alloc(1);
    return fs.readSync(fd, first, 0, 1, 0) === 1 && first[0] === 0x08;
  } finally {
    fs.closeSync(fd);
  }
}

function readFile(file: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    throw new CliError(`${file}: cannot read`);
  }
}
