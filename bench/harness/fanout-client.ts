// A child process of bench/subscription-fanout.bench.ts, so the subscribers' sockets and CPU
// are not the API process's. Two roles (argv[2]):
//   clients — holds graphql-ws clients, each with one `tenantJobEvents` subscription, and
//             records every delivery: which event (job, seq), when (wall clock);
//   probe   — one pg connection LISTENing on the job-event channel: when PostgreSQL delivered
//             each NOTIFY, i.e. just after the event's transaction committed. The API process
//             learns of each event the same way, so "probe → client" is the platform's fan-out.
// It speaks to the parent over the IPC channel only (FanoutRequest / FanoutReply below).
import { createClient, type Client as WsClient } from 'graphql-ws';
import { Client as PgClient } from 'pg';
import WebSocket from 'ws';
import { CHANNELS, parseJobEventNotice } from '../../tenants/job-events';
import { wallClockMs } from './bench-report';

export type FanoutRequest =
  | { type: 'connect'; wsUrl: string; clients: { tenant: string; token: string }[]; batch: number }
  /** How many of this process's clients have received an event of each of these jobs (their tenant's). */
  | { type: 'seen'; jobsByTenant: Record<string, string[]> }
  /** How many of this process's clients have received every one of their tenant's expected events. */
  | { type: 'complete'; expectedByTenant: Record<string, string[]> }
  | { type: 'report'; jobTenant: Record<string, string>; expectedByTenant: Record<string, string[]>; commitAt: Record<string, number>; notifyAt: Record<string, number> }
  | { type: 'probe-start'; url: string }
  | { type: 'probe-report' }
  | { type: 'close' };

export interface LevelReport {
  clients: number;
  expected: number;
  delivered: number;
  missing: number;
  duplicates: number;
  /** Events of another tenant's jobs delivered to a subscriber: must stay 0. */
  foreign: number;
  clientsComplete: number;
  /** Per delivery: ms from the event row's `at` (clock_timestamp() at insert). */
  fromRowMs: number[];
  /** Per delivery: ms from the probe's NOTIFY receipt (≈ commit). */
  fromNotifyMs: number[];
  closedClients: number;
  /** Wall clock of the last first-delivery counted. */
  lastReceiptAt: number;
  /** CPU time this process spent since the previous report, ms. */
  cpuMs: number;
  rssMb: number;
}

interface Subscriber {
  tenant: string;
  client: WsClient;
  /** `${jobGlobalId}:${seq}` → receipt times. */
  received: Map<string, number[]>;
  closed: boolean;
}

const send = (message: unknown) => process.send!(message);
const subscribers: Subscriber[] = [];
let probe: PgClient | null = null;
const notifyAt = new Map<string, number>();
let cpuMark = process.cpuUsage();

async function connect(req: Extract<FanoutRequest, { type: 'connect' }>): Promise<void> {
  const errors: string[] = [];
  let ok = 0;
  for (let i = 0; i < req.clients.length; i += req.batch) {
    await Promise.all(req.clients.slice(i, i + req.batch).map(async ({ tenant, token }) => {
      const sub: Subscriber = { tenant, client: null as unknown as WsClient, received: new Map(), closed: false };
      try {
        await new Promise<void>((resolve, reject) => {
          sub.client = createClient({
            url: req.wsUrl, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` },
            retryAttempts: 0, lazy: false,
            on: {
              connected: () => resolve(),
              closed: (event) => {
                sub.closed = true;
                reject(new Error(`closed ${(event as { code?: number }).code} ${(event as { reason?: string }).reason ?? ''}`));
              },
              error: (err) => reject(err instanceof Error ? err : new Error(String((err as { message?: string }).message ?? err))),
            },
          });
        });
        sub.client.subscribe({ query: 'subscription { tenantJobEvents { jobId seq type } }' }, {
          next: (v: any) => {
            const e = v.data?.tenantJobEvents;
            if (!e) return;
            const key = `${e.jobId}:${e.seq}`;
            const list = sub.received.get(key);
            if (list) list.push(wallClockMs());
            else sub.received.set(key, [wallClockMs()]);
          },
          error: () => (sub.closed = true),
          complete: () => undefined,
        });
        subscribers.push(sub);
        ok++;
      } catch (err) {
        errors.push((err as Error).message);
      }
    }));
  }
  send({ type: 'connected', ok, failed: errors.length, errors: [...new Set(errors)].slice(0, 5) });
}

function seen(jobsByTenant: Record<string, string[]>): number {
  let count = 0;
  for (const sub of subscribers) {
    const jobs = jobsByTenant[sub.tenant] ?? [];
    for (const key of sub.received.keys()) {
      if (jobs.some((j) => key.startsWith(`${j}:`))) {
        count++;
        break;
      }
    }
  }
  return count;
}

function report(req: Extract<FanoutRequest, { type: 'report' }>): LevelReport {
  const r: LevelReport = { clients: subscribers.length, expected: 0, delivered: 0, missing: 0, duplicates: 0, foreign: 0, clientsComplete: 0, fromRowMs: [], fromNotifyMs: [], closedClients: 0, lastReceiptAt: 0,
    cpuMs: 0, rssMb: process.memoryUsage().rss / 1024 / 1024 };
  const cpu = process.cpuUsage(cpuMark);
  cpuMark = process.cpuUsage();
  r.cpuMs = (cpu.user + cpu.system) / 1000;
  for (const sub of subscribers) {
    if (sub.closed) r.closedClients++;
    const expected = req.expectedByTenant[sub.tenant] ?? [];
    let complete = true;
    for (const key of expected) {
      r.expected++;
      const times = sub.received.get(key);
      if (!times) {
        r.missing++;
        complete = false;
        continue;
      }
      r.delivered++;
      r.duplicates += times.length - 1;
      r.lastReceiptAt = Math.max(r.lastReceiptAt, times[0]);
      const at = req.commitAt[key];
      const notified = req.notifyAt[key];
      if (at !== undefined) r.fromRowMs.push(times[0] - at);
      if (notified !== undefined) r.fromNotifyMs.push(times[0] - notified);
    }
    if (complete) r.clientsComplete++;
    for (const key of sub.received.keys()) {
      const tenant = req.jobTenant[key.slice(0, key.lastIndexOf(':'))];
      if (tenant !== undefined && tenant !== sub.tenant) r.foreign++;
    }
    // The next level counts its own events only.
    sub.received.clear();
  }
  return r;
}

process.on('message', async (req: FanoutRequest) => {
  try {
    switch (req.type) {
      case 'connect':
        await connect(req);
        break;
      case 'seen':
        send({ type: 'seen', count: seen(req.jobsByTenant) });
        break;
      case 'complete':
        send({ type: 'complete', count: subscribers.filter((sub) => (req.expectedByTenant[sub.tenant] ?? []).every((key) => sub.received.has(key))).length });
        break;
      case 'report':
        send({ type: 'report', report: report(req) });
        break;
      case 'probe-start': {
        probe = new PgClient({ connectionString: req.url, application_name: 'bench-fanout-probe' });
        probe.on('notification', (msg) => {
          const notice = parseJobEventNotice(msg.payload ?? '');
          if (notice) notifyAt.set(`${notice.jobId}:${notice.seq}`, wallClockMs());
        });
        await probe.connect();
        await probe.query(`LISTEN ${probe.escapeIdentifier(CHANNELS.jobEvent)}`);
        send({ type: 'probe-started' });
        break;
      }
      case 'probe-report':
        send({ type: 'probe-report', notifyAt: Object.fromEntries(notifyAt) });
        notifyAt.clear();
        break;
      case 'close':
        await Promise.all(subscribers.map((s) => s.client.dispose()));
        await probe?.end();
        send({ type: 'closed' });
        process.exit(0);
    }
  } catch (err) {
    send({ type: 'error', message: (err as Error).stack ?? String(err) });
  }
});
send({ type: 'ready' });
