// `datasets list`: every dataset the acting tenant may read — its own, ALLIANCE ones and SHARED
// ones it holds a live grant for — with the newest version it can see.
import { Command, Option } from 'commander';
import { ApiClient } from '../api-client';
import { resolveConnection, type CliIO, type ConnectionOptions } from '../cli-context';
import { printJson, printTable } from '../output';
import { MODALITIES, VISIBILITIES } from './push-dataset';

const DATASETS = `query($after: String, $filter: DatasetFilter) { datasets(first: 100, after: $after, filter: $filter) {
  edges { node { id name modality visibility owner { slug } latestVersion { id version itemCount sizeBytes published } } }
  pageInfo { hasNextPage endCursor } } }`;

interface DatasetRow {
  id: string;
  name: string;
  modality: string;
  visibility: string;
  owner: { slug: string };
  latestVersion: { id: string; version: number; itemCount: number; sizeBytes: number; published: boolean } | null;
}

export function datasetsListCommand(io: CliIO): Command {
  return new Command('list')
    .description('every dataset the acting tenant may read, with its newest version')
    .option('--owner <slug>', 'only datasets of this tenant')
    .option('-s, --search <text>', 'a part of the name or description')
    .addOption(new Option('--modality <modality>').choices(MODALITIES))
    .addOption(new Option('--visibility <visibility>').choices(VISIBILITIES))
    .option('--json', 'print JSON for scripts')
    .action(async (opts, command: Command) => {
      const api = new ApiClient(resolveConnection(command.optsWithGlobals<ConnectionOptions>(), io.env));
      const filter = { owner: opts.owner, search: opts.search, modality: opts.modality, visibility: opts.visibility };
      const rows: DatasetRow[] = [];
      let after: string | null = null;
      for (;;) {
        const page: { datasets: { edges: { node: DatasetRow }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } } } =
          await api.gql(DATASETS, { after, filter });
        rows.push(...page.datasets.edges.map((e) => e.node));
        if (!page.datasets.pageInfo.hasNextPage) break;
        after = page.datasets.pageInfo.endCursor;
      }
      if (opts.json) return printJson(io, rows);
      printTable(io, ['NAME', 'OWNER', 'VISIBILITY', 'MODALITY', 'VERSION', 'ITEMS', 'ID'],
        rows.map((d) => [d.name, d.owner.slug, d.visibility, d.modality,
          d.latestVersion ? `${d.latestVersion.version}${d.latestVersion.published ? '' : ' (draft)'}` : '-',
          d.latestVersion ? String(d.latestVersion.itemCount) : '-', d.id]));
    });
}
