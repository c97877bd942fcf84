// Dispatched shards travel to workers through pg-boss: one queue per worker node, so the
// scheduler decides placement (it knows every node's free slots) and a node's worker only ever
// receives shards it has room for. A message is sent inside the scheduler's transaction (pg-boss
// `db` option), so a shard is DISPATCHED in the table if and only if its message exists.
import PgBoss from 'pg-boss';
import type { EntityManager } from 'typeorm';
import { returning } from '../../tenants/sql';

export const QUEUE_SCHEMA = 'pgboss';

// pg-boss 10's worker loop calls `complete`/`fail` without awaiting them, so when the database
// connection is cut at that moment the rejection is unhandled — which fails a test and, in a
// real process, crashes the worker. Attach a handler that reports it as pg-boss's own 'error'
// event (our ShardQueue logs it); nothing is lost: the shard's lease decides any re-run.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const Manager = require('pg-boss/src/manager') as { prototype: Record<string, unknown> };
for (const method of ['complete', 'fail']) {
  const original = Manager.prototype[method] as (this: { emit(e: string, err: unknown): void }, ...args: unknown[]) => Promise<unknown>;
  if ((original as { guarded?: boolean }).guarded) continue;
  const guarded = function (this: { emit(e: string, err: unknown): void }, ...args: unknown[]) {
    const result = original.apply(this, args);
    result.catch((err) => this.emit('error', err));
    return result;
  };
  Object.assign(guarded, { guarded: true });
  Manager.prototype[method] = guarded;
}

export interface ShardMessage {
  shardId: string;
  attempt: number;
}

export function nodeQueue(node: string): string {
  return `shards.${node.replace(/[^A-Za-z0-9_.-]/g, '_')}`;
}

export class ShardQueue {
  private readonly boss: PgBoss;
  private readonly known = new Set<string>();

  constructor(systemUrl: string, private readonly onError: (err: Error) => void) {
    this.boss = new PgBoss({
      connectionString: systemUrl,
      schema: QUEUE_SCHEMA,
      // pg-boss installs and upgrades its schema itself (under its own advisory lock), as
      // alliance_system, which the jobs migration allowed to create it.
      schedule: false,
      // Lost work is found by our shard leases, not by pg-boss expiry; its maintenance only
      // cleans up old messages.
      supervise: true,
      maintenanceIntervalSeconds: 120,
      max: 4,
    });
    this.boss.on('error', onError);
  }

  async start(): Promise<void> {
    await this.boss.start();
  }

  async stop(): Promise<void> {
    await this.boss.stop({ graceful: true, wait: true, timeout: 10_000 });
  }

  async ensureQueue(name: string): Promise<void> {
    if (this.known.has(name)) return;
    const existing = await this.boss.getQueue(name);
    if (!existing) await this.boss.createQueue(name, { name, retryLimit: 0, expireInSeconds: 3600 });
    this.known.add(name);
  }

  /** Sends within the caller's transaction. */
  async sendInTransaction(em: EntityManager, node: string, message: ShardMessage): Promise<void> {
    const queue = nodeQueue(node);
    await this.ensureQueue(queue);
    await this.boss.send(queue, message, {
      retryLimit: 0,
      db: { executeSql: async (text: string, values: unknown[]) => ({ rows: await returning(em, text, values) }) },
    });
  }

  async work(node: string, concurrency: number, handler: (message: ShardMessage) => Promise<void>): Promise<string[]> {
    const queue = nodeQueue(node);
    await this.ensureQueue(queue);
    const ids: string[] = [];
    // One polling worker per slot: pg-boss hands each at most one message at a time.
    for (let i = 0; i < concurrency; i++) {
      ids.push(await this.boss.work<ShardMessage>(queue, { batchSize: 1, pollingIntervalSeconds: 0.5 }, async ([job]) => {
        await handler(job.data);
      }));
    }
    return ids;
  }

  /** Wakes pollers now instead of at their next interval (called on a dispatch NOTIFY). */
  wake(workerIds: string[]): void {
    for (const id of workerIds) this.boss.notifyWorker(id);
  }

  async offWork(node: string): Promise<void> {
    await this.boss.offWork(nodeQueue(node));
  }
}
