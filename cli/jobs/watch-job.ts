// Follows a job over graphql-ws (jobEvents), drawing a progress bar on a terminal and plain
// lines elsewhere. A dropped socket reconnects with afterSeq = the last event seen, so nothing
// is missed or shown twice.
import { SingleBar } from 'cli-progress';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';
import type { ApiClient } from '../api-client';
import { CliError, type CliIO, type Connection } from '../cli-context';

export interface JobEventView {
  seq: number;
  type: string;
  status: string;
  message: string | null;
  progress: { total: number; done: number; failed: number; fraction: number };
}

const SUBSCRIPTION = `subscription($id: ID!, $after: Int) {
  jobEvents(jobId: $id, afterSeq: $after) { seq type status message progress { total done failed fraction } } }`;
const FINAL = `query($id: ID!) { node(id: $id) { ... on Job { status chargedUnits reservedUnits error progress { total done failed } } } }`;

export interface WatchResult {
  status: string;
  chargedUnits: number;
  done: number;
  failed: number;
  total: number;
}

export async function watchJob(api: ApiClient, connection: Connection, io: CliIO, jobId: string): Promise<WatchResult> {
  const bar = io.interactive ? new SingleBar({ format: '{bar} {percentage}% | {value}/{total} items | {status}', stream: io.stderr as NodeJS.WritableStream, hideCursor: true }) : null;
  let last = 0;
  let started = false;
  const show = (e: JobEventView) => {
    if (bar) {
      if (!started) {
        bar.start(e.progress.total, 0, { status: e.status });
        started = true;
      }
      bar.update(e.progress.done + e.progress.failed, { status: e.status });
    } else {
      io.stderr.write(`[${e.seq}] ${e.type} ${e.status} ${e.progress.done + e.progress.failed}/${e.progress.total}${e.message ? ` — ${e.message}` : ''}\n`);
    }
  };
  for (let attempt = 0; attempt < 10; attempt++) {
    const client = createClient({
      url: connection.url.replace(/^http/, 'ws') + '/graphql',
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${connection.token}`, ...(connection.tenant ? { tenant: connection.tenant } : {}) },
      retryAttempts: 0,
    });
    try {
      await new Promise<void>((resolve, reject) => {
        client.subscribe<{ jobEvents: JobEventView }>({ query: SUBSCRIPTION, variables: { id: jobId, after: last } }, {
          next: (msg) => {
            if (msg.errors?.length) return reject(new CliError(`${msg.errors[0].extensions?.code ?? 'ERROR'}: ${msg.errors[0].message}`));
            const e = msg.data!.jobEvents;
            last = e.seq;
            show(e);
          },
          error: (err) => reject(Array.isArray(err)
            ? new CliError(`${err[0]?.extensions?.code ?? 'ERROR'}: ${err[0]?.message}`)
            : err instanceof Error ? err : new Error(String((err as { reason?: string }).reason ?? 'connection closed'))),
          complete: () => resolve(),
        });
      });
      break;
    } catch (err) {
      if (err instanceof CliError) throw err;
      io.stderr.write(`connection lost (${(err as Error).message}); resuming after event ${last}\n`);
      await new Promise((r) => setTimeout(r, 500 * (attempt + 1)));
    } finally {
      await client.dispose();
    }
  }
  bar?.stop();
  const final = await api.gql<{ node: { status: string; chargedUnits: number; error: string | null; progress: { total: number; done: number; failed: number } } }>(FINAL, { id: jobId });
  return { status: final.node.status, chargedUnits: final.node.chargedUnits, ...final.node.progress };
}
