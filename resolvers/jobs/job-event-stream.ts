// Live job events for graphql-ws subscribers. A notification carries ids only; the hub reads
// each event row once (system scope), then hands it to the subscribers of that job or tenant
// after checking that the subscriber acts for the job's tenant — a subscriber of another tenant
// gets nothing. Replay (afterSeq) and gap repair read through the subscriber's own tenant
// transaction, so row-level security applies there as everywhere.
import { AppError } from '../../core/app-error';
import { fromGlobalId } from '../../core/global-id';
import { FINISHED_JOB_STATUSES, JobEvent, type JobStatus } from '../../entities';
import { CHANNELS, parseJobEventNotice } from '../../tenants/job-events';
import type { PgListener } from '../../tenants/pg-listener';
import { requireTenant, type RequestScope } from '../../tenants/request-scope';
import type { TenantDatabase } from '../../tenants/tenant-database';
import { MoreThan } from 'typeorm';
import { EventQueue } from '../common/event-queue';
import { JobEventNode } from './jobs.types';

type Delivery = { event: JobEvent } | { catchUp: true };

const TERMINAL = new Set<string>(FINISHED_JOB_STATUSES);

export class JobEventStream {
  private readonly byJob = new Map<string, Set<EventQueue<Delivery>>>();
  private readonly byTenant = new Map<string, Set<EventQueue<Delivery>>>();
  private readonly all = new Set<EventQueue<Delivery>>();
  private fanOut: Promise<void> = Promise.resolve();

  constructor(
    private readonly db: TenantDatabase,
    private readonly listener: PgListener,
  ) {
    // Notices are handled one after another: each needs a read of its row, and reads racing
    // each other would hand subscribers a job's events out of order.
    listener.on(CHANNELS.jobEvent, (payload) => {
      this.fanOut = this.fanOut.then(() => this.onNotice(payload)).catch(() => undefined);
    });
    listener.onReconnect(() => {
      for (const q of this.all) q.push({ catchUp: true });
    });
  }

  /** Checks visibility first, so another tenant's job answers NOT_FOUND before any stream opens. */
  async jobEvents(scope: RequestScope, jobGlobalId: string, afterSeq: number | undefined): Promise<AsyncIterableIterator<JobEventNode>> {
    const tenant = requireTenant(scope);
    const jobId = fromGlobalId(jobGlobalId, 'Job');
    if (afterSeq !== undefined && (!Number.isInteger(afterSeq) || afterSeq < 0)) throw AppError.badInput('afterSeq must be a non-negative integer');
    const job = await this.db.withTenant(scope, (em) => em.query(`SELECT status FROM job WHERE id = $1`, [jobId])) as { status: JobStatus }[];
    if (!job.length) throw AppError.notFound('job', jobGlobalId);
    const queue = this.subscribe(this.byJob, jobId);
    return this.stream(scope, queue, () => this.unsubscribe(this.byJob, jobId, queue), async (last) =>
      this.db.withTenant(scope, (em) => em.find(JobEvent, { where: { jobId, seq: MoreThan(last) }, order: { seq: 'ASC' } })),
    afterSeq ?? 0, tenant.tenantId, true);
  }

  async tenantJobEvents(scope: RequestScope): Promise<AsyncIterableIterator<JobEventNode>> {
    const tenant = requireTenant(scope);
    const queue = this.subscribe(this.byTenant, tenant.tenantId);
    return this.stream(scope, queue, () => this.unsubscribe(this.byTenant, tenant.tenantId, queue), null, 0, tenant.tenantId, false);
  }

  /**
   * An async generator suspended in `await queue.next()` cannot be returned from until that
   * promise settles, so a client that disconnects would keep its subscription until the next
   * event. Closing the queue first settles it; then the generator's `finally` unsubscribes.
   */
  private stream(
    scope: RequestScope,
    queue: EventQueue<Delivery>,
    unsubscribe: () => void,
    replay: ((lastSeq: number) => Promise<JobEvent[]>) | null,
    afterSeq: number,
    tenantId: string,
    endOnTerminal: boolean,
  ): AsyncIterableIterator<JobEventNode> {
    const generator = this.run(scope, queue, unsubscribe, replay, afterSeq, tenantId, endOnTerminal);
    return {
      next: () => generator.next(),
      return: (value?: unknown) => {
        queue.close();
        return generator.return(value as JobEventNode);
      },
      throw: (err?: unknown) => {
        queue.close();
        return generator.throw(err);
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }

  private async *run(
    scope: RequestScope,
    queue: EventQueue<Delivery>,
    unsubscribe: () => void,
    replay: ((lastSeq: number) => Promise<JobEvent[]>) | null,
    afterSeq: number,
    tenantId: string,
    endOnTerminal: boolean,
  ): AsyncGenerator<JobEventNode> {
    let last = afterSeq;
    try {
      // Subscribed before replaying: anything committed meanwhile is both replayed and queued,
      // and the seq check below drops the duplicate — no gap, no double delivery.
      if (replay) {
        for (const event of await replay(last)) {
          last = event.seq;
          yield JobEventNode.from(event);
          if (endOnTerminal && TERMINAL.has(event.type)) return;
        }
      }
      for (;;) {
        const next = await queue.next();
        if (next.done) return;
        const delivery = next.value;
        if ('catchUp' in delivery) {
          if (!replay) continue;
          for (const event of await replay(last)) {
            last = event.seq;
            yield JobEventNode.from(event);
            if (endOnTerminal && TERMINAL.has(event.type)) return;
          }
          continue;
        }
        const { event } = delivery;
        if (event.tenantId !== tenantId || (scope.tenant && scope.tenant.tenantId !== tenantId)) continue;
        if (replay) {
          if (event.seq <= last) continue;
          if (event.seq > last + 1) {
            // A gap (notifications are not ordered across transactions): read the missing rows.
            for (const missed of await replay(last)) {
              last = missed.seq;
              yield JobEventNode.from(missed);
              if (endOnTerminal && TERMINAL.has(missed.type)) return;
            }
            continue;
          }
          last = event.seq;
        }
        yield JobEventNode.from(event);
        if (endOnTerminal && TERMINAL.has(event.type)) return;
      }
    } finally {
      unsubscribe();
      queue.close();
    }
  }

  private subscribe(index: Map<string, Set<EventQueue<Delivery>>>, key: string): EventQueue<Delivery> {
    const queue = new EventQueue<Delivery>();
    let set = index.get(key);
    if (!set) index.set(key, (set = new Set()));
    set.add(queue);
    this.all.add(queue);
    return queue;
  }

  private unsubscribe(index: Map<string, Set<EventQueue<Delivery>>>, key: string, queue: EventQueue<Delivery>): void {
    const set = index.get(key);
    set?.delete(queue);
    if (set && set.size === 0) index.delete(key);
    this.all.delete(queue);
  }

  private async onNotice(payload: string): Promise<void> {
    const notice = parseJobEventNotice(payload);
    if (!notice) return;
    const jobSubs = this.byJob.get(notice.jobId);
    const tenantSubs = this.byTenant.get(notice.tenantId);
    if (!jobSubs?.size && !tenantSubs?.size) return;
    const event = await this.db.withSystem('fan out one job event to its subscribers', (em) =>
      em.findOneBy(JobEvent, { jobId: notice.jobId, seq: notice.seq }));
    if (!event) return;
    for (const q of jobSubs ?? []) q.push({ event });
    for (const q of tenantSubs ?? []) q.push({ event });
  }
}
