// `alliance-hub datasets …`: the dataset commands. One file per command group; main.ts adds it.
import { Command, Option } from 'commander';
import { ApiClient } from '../api-client';
import { resolveConnection, type CliIO, type ConnectionOptions } from '../cli-context';
import { MODALITIES, VISIBILITIES, pushDataset, type PushOptions } from '../datasets/push-dataset';
import { datasetsListCommand } from '../datasets/list-datasets';

export function datasetsCommand(io: CliIO): Command {
  const datasets = new Command('datasets').description('shared datasets');

  datasets.command('push')
    .description('upload a folder of files or a JSONL file as a new version of a dataset; prints the version id')
    .argument('<source>', 'a folder (every file becomes an item) or a .jsonl file (lines of {text, file, blobId, metadata})')
    .requiredOption('-d, --dataset <id-or-name>', 'dataset id, or the name of one of the acting tenant\'s datasets')
    .option('--create', 'create the dataset when no dataset has that name')
    .addOption(new Option('--modality <modality>', 'for --create (default: guessed from the files)').choices(MODALITIES))
    .addOption(new Option('--visibility <visibility>', 'for --create').choices(VISIBILITIES).default('PRIVATE'))
    .option('--description <text>', 'for --create')
    .option('--license <license>', 'for --create')
    .option('--publish', 'publish (freeze) the version once every item is in')
    .action(async (source: string, opts: Omit<PushOptions, 'source'>, command: Command) => {
      const api = new ApiClient(resolveConnection(command.optsWithGlobals<ConnectionOptions>(), io.env));
      const result = await pushDataset(api, io, { ...opts, source });
      io.stderr.write(`version ${result.version}: ${result.itemCount} items${result.published ? ', published' : ' (draft)'}\n`);
      // stdout carries the id alone, for scripts: VERSION=$(alliance-hub datasets push …)
      io.stdout.write(`${result.versionId}\n`);
    });

  datasets.addCommand(datasetsListCommand(io));
  return datasets;
}
