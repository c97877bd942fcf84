// `alliance-hub infer ENDPOINT --input JSON|@file`: synchronous inference, charged to the acting
// tenant. Inputs are in the endpoint handler's format (contract/README.md, Handler input);
// --image / --audio turn files into { imageBase64 } / { audioBase64 } for the media handlers.
import fs from 'node:fs';
import { Command } from 'commander';
import { ApiClient } from '../api-client';
import { CliError, resolveConnection, type CliIO, type ConnectionOptions } from '../cli-context';
import { printJson, readJsonArgument } from '../output';
import { findEndpoint } from './endpoints.command';

const INFER = `mutation($id: ID!, $inputs: [JSON!]!) { infer(endpointId: $id, inputs: $inputs) {
  outputs deviceSeconds computeUnits latencyMs batchSize } }`;

const collect = (value: string, previous: string[] = []) => [...previous, value];

function readBytes(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch {
    throw new CliError(`${file}: no such file`);
  }
}

export function inferCommand(io: CliIO): Command {
  return new Command('infer')
    .description('run inference on an endpoint; prints one output per input (JSON lines)')
    .argument('<endpoint>', 'endpoint id, name, or owner/name')
    .option('-i, --input <json|@file>', 'one input as JSON, or @file holding it (repeat for several; @file.jsonl: one per line)', collect)
    .option('--image <file>', 'an image file, sent as { imageBase64 } (repeatable)', collect)
    .option('--audio <file>', 'a WAV file, sent as { audioBase64 } (repeatable)', collect)
    .option('--json', 'print the whole result (outputs, device seconds, compute units, latency) as JSON')
    .action(async (idOrName: string, opts: { input?: string[]; image?: string[]; audio?: string[]; json?: boolean }, command: Command) => {
      const inputs: unknown[] = [];
      for (const value of opts.input ?? []) {
        if (value.startsWith('@') && value.endsWith('.jsonl')) {
          const file = value.slice(1);
          readBytes(file).toString('utf8').split('\n').map((l) => l.trim()).filter(Boolean).forEach((line, i) => {
            inputs.push(readJsonArgument(line, `${file}:${i + 1}`, () => line, (m) => new CliError(m)));
          });
        } else {
          inputs.push(readJsonArgument(value, '--input', (f) => readBytes(f).toString('utf8'), (m) => new CliError(m)));
        }
      }
      for (const file of opts.image ?? []) inputs.push({ imageBase64: readBytes(file).toString('base64') });
      for (const file of opts.audio ?? []) inputs.push({ audioBase64: readBytes(file).toString('base64') });
      if (!inputs.length) throw new CliError('give at least one --input, --image or --audio');

      const api = new ApiClient(resolveConnection(command.optsWithGlobals<ConnectionOptions>(), io.env));
      const endpoint = await findEndpoint(api, idOrName);
      if (endpoint.status !== 'READY') throw new CliError(`endpoint ${endpoint.name} is ${endpoint.status}, not READY`);
      const { infer } = await api.gql<{ infer: { outputs: unknown[]; deviceSeconds: number; computeUnits: number; latencyMs: number; batchSize: number } }>(
        INFER, { id: endpoint.id, inputs });
      if (opts.json) return printJson(io, infer);
      for (const output of infer.outputs) io.stdout.write(JSON.stringify(output) + '\n');
      io.stderr.write(`${inputs.length} input${inputs.length === 1 ? '' : 's'} on ${endpoint.name}: ${infer.deviceSeconds.toFixed(4)} device-seconds, ` +
        `${infer.computeUnits} compute units, ${infer.latencyMs.toFixed(1)} ms\n`);
    });
}
