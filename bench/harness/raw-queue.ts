// The floor under the jobs pipeline: pg-boss alone, as the platform uses it (one queue, one
// polling worker per slot with batchSize 1, the same polling interval), with an empty handler,
// on the same PostgreSQL, in its own schema. Closed loop: each of `concurrency` senders sends a
// message, waits until a worker has taken it, then sends the next.
//
// Two variants, because pg-boss's loop sleeps `pollingInterval − duration` after every fetch
// unless notifyWorker() was called meanwhile (node_modules/pg-boss/src/worker.js):
//   polled — pollers only: each worker takes at most one message per 0.5 s interval;
//   woken  — the sender wakes every worker right after its send, which is what the platform's
//            worker does on the scheduler's dispatch NOTIFY (ShardQueue.wake).
// pg-boss completes a message right after its handler returns without awaiting it in the loop;
// a run ends when every message it sent is in state 'completed'.
import PgBoss from 'pg-boss';
import { Client } from 'pg';
import { distribution, sleep, wallClockMs, type Distribution } from './bench-report';

export interface RawQueueResult {
  variant: 'polled' | 'woken';
  workers: number;
  concurrency: number;
  messages: number;
  seconds: number;
  jobsPerSecond: number;
  /** send() called → handler invoked, ms. */
  latencyMs: Distribution;
  /** After the last handler ran, until every message was 'completed'. */
  completeDrainMs: number;
}

const SCHEMA = 'bench_raw_queue';
const POLLING_INTERVAL_SECONDS = 0.5; // as model-runtime/queue/shard-queue.ts

export async function rawQueueRun(ownerUrl: string, opts: { variant: 'polled' | 'woken'; workers: number; concurrency: number; seconds: number }): Promise<RawQueueResult> {
  const boss = new PgBoss({ connectionString: ownerUrl, schema: SCHEMA, schedule: false, supervise: true, maintenanceIntervalSeconds: 120, max: 4 });
  boss.on('error', (err) => console.error('raw queue error:', err.message));
  await boss.start();
  const queue = `raw.${opts.variant}.${Date.now()}`;
  await boss.createQueue(queue, { name: queue, retryLimit: 0, expireInSeconds: 3600 });
  const waiting = new Map<number, () => void>();
  const workerIds: string[] = [];
  for (let i = 0; i < opts.workers; i++) {
    workerIds.push(await boss.work<{ n: number }>(queue, { batchSize: 1, pollingIntervalSeconds: POLLING_INTERVAL_SECONDS }, async ([job]) => {
      waiting.get(job.data.n)?.();
    }));
  }
  const latencies: number[] = [];
  let next = 0;
  let lastHandled = 0;
  const started = wallClockMs();
  const deadline = started + opts.seconds * 1000;
  await Promise.all(Array.from({ length: opts.concurrency }, async () => {
    while (wallClockMs() < deadline) {
      const n = next++;
      const taken = new Promise<void>((resolve) => waiting.set(n, resolve));
      const t0 = wallClockMs();
      await boss.send(queue, { n }, { retryLimit: 0 });
      if (opts.variant === 'woken') for (const id of workerIds) boss.notifyWorker(id);
      await taken;
      waiting.delete(n);
      lastHandled = wallClockMs();
      latencies.push(lastHandled - t0);
    }
  }));
  const seconds = (lastHandled - started) / 1000;
  // Every message completed (pg-boss's complete() runs after the handler, unawaited).
  const client = new Client({ connectionString: ownerUrl });
  await client.connect();
  let completeDrainMs = NaN;
  try {
    for (let i = 0; i < 200; i++) {
      const { rows } = await client.query(`SELECT count(*) FILTER (WHERE state = 'completed')::int AS done, count(*)::int AS total FROM ${SCHEMA}.job WHERE name = $1`, [queue]);
      if (rows[0].done === latencies.length && rows[0].total === latencies.length) {
        completeDrainMs = wallClockMs() - lastHandled;
        break;
      }
      await sleep(25);
    }
  } finally {
    await client.end();
  }
  await boss.offWork(queue);
  await boss.stop({ graceful: true, wait: true, timeout: 5_000 });
  return {
    variant: opts.variant, workers: opts.workers, concurrency: opts.concurrency, messages: latencies.length, seconds,
    jobsPerSecond: latencies.length / seconds, latencyMs: distribution(latencies), completeDrainMs,
  };
}
