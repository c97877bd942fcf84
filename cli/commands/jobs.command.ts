// `alliance-hub jobs …` and `alliance-hub quota`: batch jobs and the tenant's compute quota.
import fs from 'node:fs';
import { Command, Option } from 'commander';
import { ApiClient } from '../api-client';
import { CliError, resolveConnection, type CliIO, type ConnectionOptions } from '../cli-context';
import { watchJob } from '../jobs/watch-job';

const SUBMIT = `mutation($input: SubmitJobInput!) { submitJob(input: $input) {
  dryRun estimate { deviceSeconds computeUnits reserveUnits admissible reason availableUnits items }
  job { id status progress { total } reservedUnits } } }`;
const ENDPOINTS = `query($after: String) { endpoints(first: 100, after: $after) { edges { node { id name status } } pageInfo { hasNextPage endCursor } } }`;
const JOBS = `query($filter: JobFilter) { jobs(first: 100, filter: $filter) { totalCount edges { node {
  id status priority pendingReason chargedUnits createdAt progress { total done failed fraction } } } } }`;
const QUOTA = `{ quota { period budgetUnits reservedUnits usedUnits availableUnits guaranteedDevices borrowLimitDevices runningDevices weight tenant { slug } } }`;

const ID_LIKE = /^[A-Za-z0-9_-]{20,}={0,2}$/;

async function endpointId(api: ApiClient, idOrName: string): Promise<string> {
  let after: string | null = null;
  for (;;) {
    const page: any = await api.gql(ENDPOINTS, { after });
    const match = page.endpoints.edges.find((e: any) => e.node.name === idOrName || e.node.id === idOrName);
    if (match) return match.node.id;
    if (!page.endpoints.pageInfo.hasNextPage) break;
    after = page.endpoints.pageInfo.endCursor;
  }
  if (ID_LIKE.test(idOrName)) return idOrName;
  throw new CliError(`no endpoint named "${idOrName}" is visible to this tenant (see: alliance-hub endpoints list)`);
}

function readInputs(file: string): unknown[] {
  if (!fs.existsSync(file)) throw new CliError(`${file}: no such file`);
  const lines = fs.readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter(Boolean);
  return lines.map((line, i) => {
    try {
      return JSON.parse(line);
    } catch {
      throw new CliError(`${file}:${i + 1}: not valid JSON`);
    }
  });
}

function table(io: CliIO, rows: string[][]): void {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  for (const r of rows) io.stdout.write(r.map((cell, c) => cell.padEnd(widths[c])).join('  ').trimEnd() + '\n');
}

export function jobsCommand(io: CliIO): Command {
  const jobs = new Command('jobs').description('batch inference jobs on the shared cluster');
  const api = (command: Command) => {
    const connection = resolveConnection(command.optsWithGlobals<ConnectionOptions>(), io.env);
    return { connection, client: new ApiClient(connection) };
  };

  jobs.command('submit')
    .description('submit a job over a dataset version or a JSONL file of inputs; prints the job id')
    .requiredOption('-e, --endpoint <id-or-name>', 'endpoint to run')
    .option('-d, --dataset <version-id>', 'a published dataset version id')
    .option('-i, --inputs <file.jsonl>', 'one JSON input per line, in the handler format')
    .option('-p, --priority <n>', 'priority from -100 to 100', (v) => Number(v))
    .option('-k, --idempotency-key <key>', 'submitting again with the same key returns the same job')
    .option('--dry-run', 'print the estimate only')
    .option('-w, --watch', 'follow the job live until it ends, then print the charge')
    .option('--json', 'print JSON for scripts')
    .action(async (opts, command: Command) => {
      if (Boolean(opts.dataset) === Boolean(opts.inputs)) throw new CliError('give exactly one of --dataset or --inputs');
      const { client, connection } = api(command);
      const input = {
        endpointId: await endpointId(client, opts.endpoint),
        datasetVersionId: opts.dataset,
        inputs: opts.inputs ? readInputs(opts.inputs) : undefined,
        priority: opts.priority,
        idempotencyKey: opts.idempotencyKey,
        dryRun: Boolean(opts.dryRun),
      };
      const { submitJob } = await client.gql<any>(SUBMIT, { input });
      if (submitJob.dryRun) {
        const e = submitJob.estimate;
        if (opts.json) io.stdout.write(JSON.stringify(e) + '\n');
        else io.stdout.write(`${e.items} items, ~${e.deviceSeconds.toFixed(3)} device-seconds, ${e.computeUnits} compute units ` +
          `(holds ${e.reserveUnits}; ${e.availableUnits} available): ${e.admissible ? 'admissible' : `not admissible — ${e.reason}`}\n`);
        return;
      }
      const job = submitJob.job;
      if (!opts.watch) {
        io.stdout.write(opts.json ? JSON.stringify(job) + '\n' : `${job.id}\n`);
        return;
      }
      io.stderr.write(`job ${job.id}: ${job.progress.total} items, ${job.reservedUnits} compute units reserved\n`);
      const result = await watchJob(client, connection, io, job.id);
      if (opts.json) io.stdout.write(JSON.stringify({ id: job.id, ...result }) + '\n');
      else io.stdout.write(`${job.id} ${result.status}: ${result.done} done, ${result.failed} failed of ${result.total}; charged ${result.chargedUnits} compute units\n`);
      if (result.status !== 'SUCCEEDED') throw new CliError(`job ${job.id} ended ${result.status}`);
    });

  jobs.command('watch')
    .description('follow a job live')
    .argument('<job-id>')
    .action(async (jobId: string, _opts, command: Command) => {
      const { client, connection } = api(command);
      const result = await watchJob(client, connection, io, jobId);
      io.stdout.write(`${jobId} ${result.status}: ${result.done} done, ${result.failed} failed of ${result.total}; charged ${result.chargedUnits} compute units\n`);
    });

  jobs.command('list')
    .description("the acting tenant's jobs")
    .addOption(new Option('--status <status...>', 'only these statuses').choices(['PENDING', 'QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'CANCELLED']))
    .option('--json', 'print JSON for scripts')
    .action(async (opts, command: Command) => {
      const { client } = api(command);
      const data = await client.gql<any>(JOBS, { filter: opts.status ? { status: opts.status } : null });
      const nodes = data.jobs.edges.map((e: any) => e.node);
      if (opts.json) return void io.stdout.write(JSON.stringify(nodes) + '\n');
      table(io, [['ID', 'STATUS', 'PROGRESS', 'CHARGED', 'PRIORITY', 'CREATED', 'WAITING BECAUSE'],
        ...nodes.map((j: any) => [j.id, j.status, `${j.progress.done + j.progress.failed}/${j.progress.total}`, String(j.chargedUnits),
          String(j.priority), j.createdAt, j.pendingReason ?? ''])]);
    });

  jobs.command('cancel')
    .description('cancel a job: no new shard starts, running shards stop after their micro-batch')
    .argument('<job-id>')
    .action(async (jobId: string, _opts, command: Command) => {
      const { client } = api(command);
      const data = await client.gql<any>(`mutation($id: ID!) { cancelJob(id: $id) { id status } }`, { id: jobId });
      io.stdout.write(`${data.cancelJob.id} ${data.cancelJob.status}\n`);
    });

  return jobs;
}

export function quotaCommand(io: CliIO): Command {
  return new Command('quota')
    .description("the acting tenant's compute quota for the current period")
    .option('--json', 'print JSON for scripts')
    .action(async (opts, command: Command) => {
      const client = new ApiClient(resolveConnection(command.optsWithGlobals<ConnectionOptions>(), io.env));
      const { quota: q } = await client.gql<any>(QUOTA);
      if (opts.json) return void io.stdout.write(JSON.stringify(q) + '\n');
      table(io, [
        ['TENANT', 'PERIOD', 'BUDGET', 'USED', 'RESERVED', 'AVAILABLE', 'DEVICES (GUARANTEED/BORROW/RUNNING)', 'WEIGHT'],
        [q.tenant.slug, q.period, String(q.budgetUnits), String(q.usedUnits), String(q.reservedUnits), String(q.availableUnits),
          `${q.guaranteedDevices}/${q.borrowLimitDevices}/${q.runningDevices}`, String(q.weight)],
      ]);
    });
}
