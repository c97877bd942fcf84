// quotaChanged: a NOTIFY with the tenant id whenever its balance moves (submission, shard
// charge, release, setQuota); each subscriber re-reads its quota through its own scope.
import { CHANNELS } from '../../tenants/job-events';
import type { PgListener } from '../../tenants/pg-listener';
import { requireTenant, type RequestScope } from '../../tenants/request-scope';
import { EventQueue } from '../common/event-queue';
import type { QuotaService } from './quota.service';
import type { QuotaNode } from './quota.types';

export class QuotaStream {
  private readonly subscribers = new Map<string, Set<EventQueue<true>>>();

  constructor(
    listener: PgListener,
    private readonly quotas: QuotaService,
  ) {
    listener.on(CHANNELS.quota, (tenantId) => {
      for (const q of this.subscribers.get(tenantId) ?? []) q.push(true);
    });
    listener.onReconnect(() => {
      for (const set of this.subscribers.values()) for (const q of set) q.push(true);
    });
  }

  subscribe(scope: RequestScope): AsyncIterableIterator<QuotaNode> {
    const tenant = requireTenant(scope);
    const queue = new EventQueue<true>();
    let set = this.subscribers.get(tenant.tenantId);
    if (!set) this.subscribers.set(tenant.tenantId, (set = new Set()));
    set.add(queue);
    const quotas = this.quotas;
    const unsubscribe = () => {
      set!.delete(queue);
      queue.close();
    };
    async function* run(): AsyncGenerator<QuotaNode> {
      try {
        for (;;) {
          const next = await queue.next();
          if (next.done) return;
          yield await quotas.current(scope);
        }
      } finally {
        unsubscribe();
      }
    }
    const generator = run();
    return {
      next: () => generator.next(),
      return: (value?: unknown) => {
        unsubscribe();
        return generator.return(value as QuotaNode);
      },
      throw: (err?: unknown) => {
        unsubscribe();
        return generator.throw(err);
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }
}
