// `alliance-hub endpoints …`: deploy a model version as an endpoint, list and stop endpoints.
import { Command } from 'commander';
import { ApiClient } from '../api-client';
import { CliError, resolveConnection, type CliIO, type ConnectionOptions } from '../cli-context';
import { printJson, printTable } from '../output';
import { listModels } from './models.command';

const ENDPOINT_FIELDS = `id name status failureReason accelerator minReplicas maxReplicas maxBatchSize maxQueueDelayMs owner { slug }
  modelVersion { id version handler model { name owner { slug } } }`;
const ENDPOINTS = `query($after: String, $status: [EndpointStatus!]) { endpoints(first: 100, after: $after, status: $status) {
  edges { node { ${ENDPOINT_FIELDS} } } pageInfo { hasNextPage endCursor } } }`;
const VERSIONS = `query($id: ID!) { node(id: $id) { ... on Model { name versions(first: 100) { edges { node { id version } } } } } }`;

export interface EndpointShape {
  id: string;
  name: string;
  status: string;
  failureReason: string | null;
  accelerator: string;
  minReplicas: number;
  maxReplicas: number;
  maxBatchSize: number;
  maxQueueDelayMs: number;
  owner: { slug: string };
  modelVersion: { id: string; version: number; handler: string; model: { name: string; owner: { slug: string } } };
}

export async function listEndpoints(api: ApiClient, status: string[] | null = null): Promise<EndpointShape[]> {
  const all: EndpointShape[] = [];
  let after: string | null = null;
  for (;;) {
    const page: { endpoints: { edges: { node: EndpointShape }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } =
      await api.gql(ENDPOINTS, { after, status });
    all.push(...page.endpoints.edges.map((e) => e.node));
    if (!page.endpoints.pageInfo.hasNextPage) return all;
    after = page.endpoints.pageInfo.endCursor;
  }
}

/** An endpoint by id, by name (serving ones first), or by owner/name. */
export async function findEndpoint(api: ApiClient, idOrName: string): Promise<EndpointShape> {
  const all = await listEndpoints(api);
  const [owner, name] = idOrName.includes('/') ? idOrName.split('/', 2) : [null, idOrName];
  const matches = all.filter((e) => e.id === idOrName || (e.name === name && (!owner || e.owner.slug === owner)));
  const serving = matches.filter((e) => e.status === 'READY' || e.status === 'DEPLOYING');
  const pick = serving.length ? serving : matches;
  if (!pick.length) throw new CliError(`no endpoint "${idOrName}" is visible to this tenant (see: alliance-hub endpoints list)`);
  if (new Set(pick.map((e) => e.owner.slug)).size > 1) {
    throw new CliError(`"${idOrName}" names endpoints of ${pick.map((e) => e.owner.slug).join(' and ')}: write OWNER/${name}`);
  }
  return pick[0];
}

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new CliError(`${name} must be an integer; got "${v}"`);
  return n;
};

export function endpointsCommand(io: CliIO): Command {
  const endpoints = new Command('endpoints').description('model endpoints: deploy, list, stop');
  const client = (command: Command) => new ApiClient(resolveConnection(command.optsWithGlobals<ConnectionOptions>(), io.env));

  endpoints.command('deploy')
    .description('deploy a model version (the latest, or --version N) as an endpoint; waits until READY or FAILED')
    .requiredOption('-m, --model <name|owner/name|version-id>', 'a model you may use, or a ModelVersion id')
    .option('-v, --version <n>', 'version number (default: the latest)', int('--version'))
    .option('-n, --name <name>', 'endpoint name (default: the model name)')
    .option('-a, --accelerator <kind>', "accelerator kind (default 'cpu')")
    .option('--max-batch-size <n>', 'requests batched into one run (default 8)', int('--max-batch-size'))
    .option('--max-queue-delay-ms <ms>', 'how long a request waits for companions (default 5)', int('--max-queue-delay-ms'))
    .option('--min-replicas <n>', 'split mode: fewer live workers of the kind fail the deployment (default 1)', int('--min-replicas'))
    .option('--max-replicas <n>', 'split mode: workers holding the endpoint at most (default: min replicas)', int('--max-replicas'))
    .option('--json', 'print JSON for scripts')
    .action(async (opts, command: Command) => {
      const api = client(command);
      const { versionId, modelName } = await resolveVersion(api, opts.model, opts.version);
      const { deployEndpoint: e } = await api.gql<{ deployEndpoint: EndpointShape }>(
        `mutation($input: DeployEndpointInput!) { deployEndpoint(input: $input) { ${ENDPOINT_FIELDS} } }`,
        { input: { modelVersionId: versionId, name: opts.name ?? modelName, accelerator: opts.accelerator, maxBatchSize: opts.maxBatchSize,
          maxQueueDelayMs: opts.maxQueueDelayMs, minReplicas: opts.minReplicas, maxReplicas: opts.maxReplicas } });
      if (opts.json) return printJson(io, e);
      if (e.status === 'FAILED') throw new CliError(`endpoint ${e.name} failed to deploy: ${e.failureReason ?? 'no reason given'}`);
      io.stderr.write(`${e.name}: ${e.status} on ${e.accelerator} (${e.modelVersion.model.name} v${e.modelVersion.version}, ${e.modelVersion.handler})\n`);
      io.stdout.write(`${e.id}\n`);
    });

  endpoints.command('list')
    .description('every endpoint the acting tenant may call')
    .option('--status <status...>', 'only these states (DEPLOYING READY FAILED STOPPED)')
    .option('--json', 'print JSON for scripts')
    .action(async (opts, command: Command) => {
      const list = await listEndpoints(client(command), opts.status ? opts.status.map((s: string) => s.toUpperCase()) : null);
      if (opts.json) return printJson(io, list);
      printTable(io, ['NAME', 'OWNER', 'STATUS', 'MODEL', 'HANDLER', 'ACCELERATOR', 'BATCH', 'ID'],
        list.map((e) => [e.name, e.owner.slug, e.status, `${e.modelVersion.model.owner.slug}/${e.modelVersion.model.name} v${e.modelVersion.version}`,
          e.modelVersion.handler, e.accelerator, String(e.maxBatchSize), e.id]));
    });

  endpoints.command('stop')
    .description("stop one of the acting tenant's endpoints")
    .argument('<endpoint>', 'id or name')
    .action(async (idOrName: string, _opts, command: Command) => {
      const api = client(command);
      const endpoint = await findEndpoint(api, idOrName);
      const { stopEndpoint } = await api.gql<{ stopEndpoint: { name: string; status: string } }>(
        `mutation($id: ID!) { stopEndpoint(id: $id) { name status } }`, { id: endpoint.id });
      io.stdout.write(`${stopEndpoint.name} ${stopEndpoint.status}\n`);
    });

  return endpoints;
}

function isGlobalId(value: string, type: string): boolean {
  return /^[A-Za-z0-9_-]{20,}={0,2}$/.test(value) && Buffer.from(value, 'base64url').toString('utf8').startsWith(`${type}:`);
}

async function resolveVersion(api: ApiClient, model: string, version?: number): Promise<{ versionId: string; modelName: string }> {
  if (isGlobalId(model, 'ModelVersion')) {
    const { node } = await api.gql<{ node: { model: { name: string } } | null }>(
      `query($id: ID!) { node(id: $id) { ... on ModelVersion { model { name } } } }`, { id: model });
    if (!node) throw new CliError(`model version ${model} not found`);
    return { versionId: model, modelName: node.model.name };
  }
  const [owner, name] = model.includes('/') ? model.split('/', 2) : [null, model];
  const candidates = (await listModels(api, owner ? { owner } : null)).filter((m) => m.id === model || m.name === name);
  if (!candidates.length) throw new CliError(`no model "${model}" is visible to this tenant (see: alliance-hub models list)`);
  if (candidates.length > 1) throw new CliError(`"${model}" names models of ${candidates.map((m) => m.owner.slug).join(' and ')}: write OWNER/${name}`);
  const found = candidates[0];
  if (version === undefined) {
    if (!found.latestVersion) throw new CliError(`model ${found.name} has no version yet (alliance-hub models push)`);
    return { versionId: found.latestVersion.id, modelName: found.name };
  }
  const { node } = await api.gql<{ node: { versions: { edges: { node: { id: string; version: number } }[] } } }>(VERSIONS, { id: found.id });
  const match = node.versions.edges.find((e) => e.node.version === version);
  if (!match) throw new CliError(`model ${found.name} has no version ${version}`);
  return { versionId: match.node.id, modelName: found.name };
}
