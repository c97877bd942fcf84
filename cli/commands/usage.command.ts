// `alliance-hub usage --by day|model|user|endpoint|dataset [--from] [--to]`: the acting tenant's
// usage as a table with a total row; `--assets`: who used the acting tenant's datasets and models.
import { Command, Option } from 'commander';
import { ApiClient } from '../api-client';
import { CliError, resolveConnection, type CliIO, type ConnectionOptions } from '../cli-context';
import { printJson, printTable } from '../output';

const DAY_MS = 86_400_000;
const USAGE = `query($from: DateTime!, $to: DateTime!, $by: UsageGroupBy!) {
  usage(from: $from, to: $to, groupBy: $by) { key label deviceSeconds computeUnits jobs requests } }`;
const ASSETS = `query($from: DateTime!, $to: DateTime!) {
  usageOfMyAssets(from: $from, to: $to) { consumer { slug } assetId assetName assetType jobs items requests computeUnits } }`;

interface Bucket {
  key: string;
  label: string;
  deviceSeconds: number;
  computeUnits: number;
  jobs: number;
  requests: number;
}

/** YYYY-MM-DD (midnight UTC) or any ISO date-time. */
function parseDate(value: string, flag: string): Date {
  const date = new Date(/^\d{4}-\d{2}-\d{2}$/.test(value) ? `${value}T00:00:00Z` : value);
  if (Number.isNaN(date.getTime())) throw new CliError(`${flag} must be a date (YYYY-MM-DD) or an ISO date-time; got "${value}"`);
  return date;
}

const units = (n: number) => String(Math.round(n * 1000) / 1000);

export function usageCommand(io: CliIO): Command {
  return new Command('usage')
    .description("the acting tenant's usage (default: the last 30 days, by day); --to is exclusive")
    .addOption(new Option('-b, --by <grouping>', 'bucket by').choices(['day', 'model', 'user', 'endpoint', 'dataset']).default('day'))
    .option('--from <date>', 'start (YYYY-MM-DD or ISO date-time; default: 30 days before --to)')
    .option('--to <date>', 'end, exclusive (default: the end of today, UTC)')
    .option('--assets', "instead: who used the acting tenant's datasets and models")
    .option('--json', 'print JSON for scripts')
    .action(async (opts, command: Command) => {
      const to = opts.to ? parseDate(opts.to, '--to') : new Date(Math.floor(Date.now() / DAY_MS) * DAY_MS + DAY_MS);
      const from = opts.from ? parseDate(opts.from, '--from') : new Date(to.getTime() - 30 * DAY_MS);
      if (from >= to) throw new CliError(`--from (${from.toISOString()}) must be before --to (${to.toISOString()})`);
      const api = new ApiClient(resolveConnection(command.optsWithGlobals<ConnectionOptions>(), io.env));
      const window = { from: from.toISOString(), to: to.toISOString() };
      if (opts.assets) {
        const { usageOfMyAssets: rows } = await api.gql<{ usageOfMyAssets: {
          consumer: { slug: string }; assetId: string; assetName: string; assetType: string; jobs: number; items: number; requests: number; computeUnits: number;
        }[] }>(ASSETS, window);
        if (opts.json) return printJson(io, rows);
        if (!rows.length) return void io.stderr.write(`no other tenant used your datasets or models from ${window.from} to ${window.to}\n`);
        printTable(io, ['CONSUMER', 'KIND', 'ASSET', 'JOBS', 'ITEMS', 'REQUESTS', 'COMPUTE UNITS'],
          rows.map((r) => [r.consumer.slug, r.assetType, r.assetName, r.jobs, r.items, r.requests, units(r.computeUnits)]),
          [false, false, false, true, true, true, true]);
        return;
      }
      const { usage } = await api.gql<{ usage: Bucket[] }>(USAGE, { ...window, by: String(opts.by).toUpperCase() });
      if (opts.json) return printJson(io, usage);
      if (!usage.length) return void io.stderr.write(`no usage from ${window.from} to ${window.to}\n`);
      const total = usage.reduce((t, b) => ({ ...t, deviceSeconds: t.deviceSeconds + b.deviceSeconds, computeUnits: t.computeUnits + b.computeUnits,
        jobs: t.jobs + b.jobs, requests: t.requests + b.requests }), { key: '', label: 'TOTAL', deviceSeconds: 0, computeUnits: 0, jobs: 0, requests: 0 });
      const byDay = opts.by === 'day';
      const row = (b: Bucket) => [byDay ? b.key : b.label, units(b.computeUnits), b.deviceSeconds.toFixed(3), b.jobs, b.requests, ...(byDay ? [] : [b.key])];
      // Under DAY a job running across midnight counts on both days: its total is not a sum.
      printTable(io, [String(opts.by).toUpperCase(), 'COMPUTE UNITS', 'DEVICE SECONDS', 'JOBS', 'REQUESTS', ...(byDay ? [] : ['ID'])],
        [...usage.map(row), row({ ...total, key: byDay ? 'TOTAL' : '', jobs: byDay ? Number.NaN : total.jobs })].map((r) => r.map((c) => (Number.isNaN(c) ? '' : c))),
        [false, true, true, true, true, false]);
    });
}
