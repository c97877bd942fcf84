// Output helpers shared by the commands: aligned tables for people, JSON for scripts, and a
// byte progress bar on a terminal (plain lines elsewhere, so logs and tests stay readable).
import { SingleBar } from 'cli-progress';
import type { CliIO } from './cli-context';

/** Left-aligned columns; a column of numbers (header included) is right-aligned. */
export function printTable(io: CliIO, header: string[], rows: (string | number)[][], numeric: boolean[] = []): void {
  const cells = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, c) => Math.max(...cells.map((r) => r[c].length)));
  for (const row of cells) {
    io.stdout.write(row.map((cell, c) => (numeric[c] ? cell.padStart(widths[c]) : cell.padEnd(widths[c]))).join('  ').trimEnd() + '\n');
  }
}

export function printJson(io: CliIO, value: unknown): void {
  io.stdout.write(JSON.stringify(value, null, 2) + '\n');
}

export interface ByteProgress {
  advance(bytes: number): void;
  stop(): void;
}

/** A bar of bytes sent for one upload: drawn on stderr on a terminal, one summary line otherwise. */
export function uploadProgress(io: CliIO, label: string, totalBytes: number): ByteProgress {
  let sent = 0;
  const bar = io.interactive
    ? new SingleBar({ format: `${label} {bar} {percentage}% | {value}/{total} bytes`, stream: io.stderr as NodeJS.WritableStream, hideCursor: true })
    : null;
  bar?.start(totalBytes, 0);
  return {
    advance(bytes) {
      sent += bytes;
      bar?.update(sent);
    },
    stop() {
      bar?.stop();
      if (!bar) io.stderr.write(`${label}: uploaded ${sent} of ${totalBytes} bytes\n`);
    },
  };
}

/** `--input JSON` or `--input @file`: the value, with the file's name in any parse error. */
export function readJsonArgument(value: string, what: string, read: (file: string) => string, fail: (message: string) => Error): unknown {
  const fromFile = value.startsWith('@');
  const text = fromFile ? read(value.slice(1)) : value;
  try {
    return JSON.parse(text);
  } catch (err) {
    throw fail(`${what} ${fromFile ? value.slice(1) : `'${value.length > 40 ? value.slice(0, 40) + '…' : value}'`} is not valid JSON: ${(err as Error).message}`);
  }
}
