// Prepaid holds: how synchronous inference is charged without a commit on each request's path.
//
// A job reserves its estimate at admission and captures what it used; synchronous `infer` does
// the same at a smaller grain. Each API process takes a small hold of a tenant's budget (a
// RESERVE entry, one round trip, as the caller — migrations/1765440000000-quota-holds.ts),
// admits that tenant's requests against it in memory, and every SETTLE_MS posts what they used
// as one aggregated CAPTURE with its usage buckets (DESIGN: usage entries aggregated per tenant
// and endpoint). What this keeps:
//   - the budget is never overdrawn: every request is admitted against units already reserved
//     for it in the database, whatever the number of processes;
//   - every request is charged exactly what it measurably used (rounded as before), once: a
//     settlement is numbered and applied at most once, retried until it is;
//   - reads see it: this process settles a tenant before reading its quota, ledger or usage
//     (`flush`), and closes its holds first where a hold would show as reserved or block a job;
//     other processes' settlements land within SETTLE_MS, and their open holds show as reserved
//     until they go idle (IDLE_MS) — say so in the API's description, not hide it.
// What it trades: a process that crashes loses the usage it had not settled (at most SETTLE_MS of
// that tenant's requests there); its hold is released, not charged, when its lease lapses
// (sweep below) — a hold authorises, it does not bill, as payment holds lapse. Before, that
// request would have been charged and the process crashed anyway; the member's answer was sent
// either way.
//
// Sizing: a hold covers about HOLD_SECONDS of the tenant's recent spending here, at least a few
// requests' estimates, and never more than a small share of the budget, so holds rarely block a
// job's reservation and a budget's last units go one request at a time. A busy tenant's hold grows
// while half of that is still free (growAhead), so its requests do not wait for the round trip.
import { hostname } from 'node:os';
import { randomUUID } from 'node:crypto';
import type { Logger } from '../core/logger';
import { CHANNELS, notify } from './job-events';
import { periodOf, quotaExceeded, type QuotaLedger } from './quota-ledger';
import type { RequestScope } from './request-scope';
import type { TenantDatabase } from './tenant-database';

export interface QuotaHoldOptions {
  /** How often pending usage is settled (default 100 ms). */
  settleMs?: number;
  /** A hold unused this long is closed and its rest released (default 1 s). */
  idleMs?: number;
  /** A hold's lease: renewed by every settlement; lapsed holds are released by any process (default 60 s). */
  ttlMs?: number;
  /** How often a process looks for lapsed holds (default half the lease, at most 15 s). */
  sweepMs?: number;
}

/** Where a request's usage is aggregated (usage_record's bucket) and what the ledger memo calls it. */
export interface UsageKey {
  endpointId: string;
  modelId: string;
  ownerTenantId: string;
  userId: string | null;
  bucketStart: Date;
  label: string;
}

export interface Usage extends UsageKey {
  items: number;
  deviceMs: number;
}

/** Units set aside in a hold for one admitted request, until it is spent or cancelled. */
export interface Authorization {
  readonly scope: RequestScope;
  readonly hold: Hold;
  readonly milli: number;
  done?: boolean;
}

interface Bucket extends UsageKey {
  requests: number;
  items: number;
  deviceMs: number;
  milli: number;
}

interface Settlement {
  seq: number;
  capture: number;
  buckets: Bucket[];
  close: boolean;
}

const HOLD_SECONDS = 1;
/** A hold never exceeds this share of the period's budget (beyond what one request needs). */
const MAX_BUDGET_SHARE = 0.02;
const MIN_ESTIMATES_PER_HOLD = 8;
/** A tenant spending fewer requests' estimates a second than this grows its hold on demand only (see growAhead). */
const AHEAD_MIN_ESTIMATES = 4;
const NOTIFY_INTERVAL_MS = 250;
/** The longest pause between settlement attempts while the database is unreachable. */
const MAX_RETRY_MS = 5_000;

class Hold {
  readonly id = randomUUID();
  /** Outstanding in the database as far as this process knows: taken − captured. */
  held = 0;
  /** Spendable now: held − pending − authorized. */
  free = 0;
  pending = 0;
  buckets = new Map<string, Bucket>();
  inflight = 0;
  seq = 0;
  takes = 0;
  granted = 0;
  lastUsed = Date.now();
  lastRenewed = Date.now();
  /** Spending in the current and the previous second, for sizing. */
  rate = { second: 0, current: 0, previous: 0 };
  /** The settlement being applied; retried as is until the database has it (exactly once). */
  unsettled?: Settlement;
  settling?: Promise<void>;
  taking?: Promise<void>;
  closing = false;
  /** The database closed it under us (its lease lapsed): nothing here is backed any more. */
  dead = false;

  constructor(readonly tenantId: string, readonly period: string) {}

  spentPerSecond(now: number): number {
    const second = Math.floor(now / 1000);
    if (second === this.rate.second) return Math.max(this.rate.current, this.rate.previous);
    return second === this.rate.second + 1 ? this.rate.current : 0;
  }

  noteSpent(milli: number, now: number): void {
    const second = Math.floor(now / 1000);
    if (second !== this.rate.second) {
      this.rate = { second, previous: second === this.rate.second + 1 ? this.rate.current : 0, current: 0 };
    }
    this.rate.current += milli;
  }
}

export class QuotaHolds {
  private readonly holds = new Map<string, Hold>();
  /** Holds being closed: settled and released in the background, still settled by `flush`. */
  private readonly closing = new Set<Hold>();
  private readonly holder = `${hostname()}:${process.pid}`;
  private readonly settleMs: number;
  private readonly idleMs: number;
  private readonly ttlMs: number;
  private readonly sweepMs: number;
  private readonly lastNotice = new Map<string, number>();
  private readonly owedNotice = new Set<string>();
  private timer?: NodeJS.Timeout;
  private sweeper?: NodeJS.Timeout;
  /** Consecutive ticks whose settlements failed, and when the next may try (backoff). */
  private failures = 0;
  private retryAt = 0;
  private stopped = false;

  constructor(
    private readonly db: TenantDatabase,
    private readonly ledger: QuotaLedger,
    private readonly log: Logger,
    opts: QuotaHoldOptions = {},
  ) {
    this.settleMs = opts.settleMs ?? 100;
    this.idleMs = opts.idleMs ?? 1000;
    this.ttlMs = opts.ttlMs ?? 60_000;
    this.sweepMs = opts.sweepMs ?? Math.min(15_000, Math.ceil(this.ttlMs / 2));
  }

  start(): void {
    this.sweeper = setInterval(() => void this.sweepLapsed(), this.sweepMs);
    this.sweeper.unref();
  }

  /**
   * Sets `estimateMilli` aside for one request of the caller's tenant, or throws QUOTA_EXCEEDED
   * with the numbers. In memory while the hold has room; one round trip when it must grow.
   */
  async authorize(scope: RequestScope, tenantId: string, estimateMilli: number): Promise<Authorization> {
    for (;;) {
      const hold = this.holdFor(tenantId);
      if (hold.free >= estimateMilli) {
        hold.free -= estimateMilli;
        hold.inflight++;
        hold.lastUsed = Date.now();
        this.growAhead(scope, hold, estimateMilli);
        return { scope, hold, milli: estimateMilli };
      }
      if (hold.taking) {
        // A take is in flight (ahead of need, or another request's): it may cover this one too.
        await hold.taking.catch(() => undefined);
        continue;
      }
      const before = hold.takes;
      await this.grow(scope, hold, estimateMilli - hold.free, this.wanted(hold, estimateMilli));
      if (hold.takes === before && !hold.dead && hold.free < estimateMilli) {
        // The balance cannot spare it. Close this process's hold so the numbers are exact.
        await this.flush(tenantId, { close: true });
        const balance = await this.db.withTenant(scope, (em) => this.ledger.ensureBalance(em, tenantId, periodOf()));
        throw quotaExceeded(estimateMilli, balance);
      }
    }
  }

  /** The request failed before it used anything: its units go back to the hold. */
  cancel(auth: Authorization): void {
    if (auth.done) return;
    auth.done = true;
    auth.hold.inflight--;
    auth.hold.free += auth.milli;
  }

  /**
   * Charges what the request measurably used, from its authorization and, when it used more,
   * from the hold's room (grown if need be). Like every overdraft before, what the balance
   * cannot cover at all is not charged: returns the milli-units actually charged.
   */
  async spend(auth: Authorization, usedMilli: number, usage: Usage): Promise<number> {
    if (auth.done) throw new Error('authorization spent twice');
    auth.done = true;
    const hold = auth.hold;
    let charged = Math.min(usedMilli, auth.milli);
    hold.free += auth.milli - charged;
    let extra = usedMilli - charged;
    if (extra > 0 && hold.free < extra && !hold.dead) {
      await this.grow(auth.scope, hold, 0, this.wanted(hold, extra) + extra);
    }
    const fromRoom = Math.min(extra, hold.free);
    hold.free -= fromRoom;
    charged += fromRoom;
    extra -= fromRoom;
    hold.inflight--;
    const now = Date.now();
    hold.lastUsed = now;
    hold.noteSpent(charged, now);
    hold.pending += charged;
    const key = `${usage.endpointId}|${usage.userId ?? ''}|${usage.bucketStart.getTime()}`;
    const bucket = hold.buckets.get(key);
    if (bucket) {
      bucket.requests++;
      bucket.items += usage.items;
      bucket.deviceMs += usage.deviceMs;
      bucket.milli += charged;
    } else {
      hold.buckets.set(key, { ...usage, requests: 1, milli: charged });
    }
    this.schedule();
    return charged;
  }

  /**
   * Settles what this process has pending — for one tenant or all — so that a read after it sees
   * every request answered before it. `close` also releases the tenant's holds here (quota reads,
   * job admission, budget changes: a hold would show as reserved, or stand in the way).
   */
  async flush(tenantId?: string, opts: { close?: boolean } = {}): Promise<void> {
    const work: Promise<void>[] = [];
    for (const hold of [...this.holds.values(), ...this.closing]) {
      if (tenantId !== undefined && hold.tenantId !== tenantId) continue;
      if (opts.close && !hold.closing && hold.inflight === 0) this.retire(hold);
      work.push(this.settle(hold));
    }
    await Promise.all(work);
  }

  /**
   * What this process holds of a tenant's budget (after `flush`, exactly what its open holds
   * have outstanding in the database): a quota read shows it as available, not as reserved — it
   * is the tenant's own budget, set aside here for its next requests.
   */
  heldHere(tenantId: string): number {
    let held = 0;
    for (const hold of [...this.holds.values(), ...this.closing]) if (hold.tenantId === tenantId) held += hold.held;
    return held;
  }

  /** Settles and closes every hold (shutdown). */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweeper);
    clearTimeout(this.timer);
    this.timer = undefined;
    for (const hold of [...this.holds.values()]) this.retire(hold);
    await Promise.all([...this.closing].map((hold) => this.settle(hold).catch((err) => {
      this.log.warn({ err, tenantId: hold.tenantId }, 'could not settle a quota hold at shutdown; its lease will lapse');
    })));
  }

  private holdFor(tenantId: string): Hold {
    const period = periodOf();
    let hold = this.holds.get(tenantId);
    if (hold && (hold.period !== period || hold.dead)) {
      this.retire(hold); // the month turned (or the hold lapsed): settle the old one, open a new one
      hold = undefined;
    }
    if (!hold) {
      hold = new Hold(tenantId, period);
      this.holds.set(tenantId, hold);
    }
    return hold;
  }

  /** How much to ask for when a hold must grow: about HOLD_SECONDS of recent spending, bounded. */
  private wanted(hold: Hold, needMilli: number): number {
    const recent = hold.spentPerSecond(Date.now()) * HOLD_SECONDS;
    const want = Math.max(needMilli * MIN_ESTIMATES_PER_HOLD, recent);
    const cap = hold.granted > 0 ? Math.floor(hold.granted * MAX_BUDGET_SHARE) : want;
    return Math.max(needMilli, Math.min(want, cap));
  }

  /**
   * Grows a busy hold while half of what it would take is still free, so that the tenant's
   * requests do not wait for the round trip. Only for a tenant spending at least
   * AHEAD_MIN_ESTIMATES requests' estimates a second here: a quiet one grows on demand as before.
   */
  private growAhead(scope: RequestScope, hold: Hold, estimateMilli: number): void {
    if (hold.taking || hold.closing || hold.dead || this.stopped) return;
    if (hold.spentPerSecond(Date.now()) < AHEAD_MIN_ESTIMATES * estimateMilli) return;
    const want = this.wanted(hold, estimateMilli);
    if (hold.free * 2 >= want) return;
    this.grow(scope, hold, 0, want - hold.free, true).catch((err) => {
      // Nothing was taken; the next request that finds the hold short grows it on its own path.
      this.log.debug({ err, tenantId: hold.tenantId }, 'growing a quota hold ahead of need failed');
    });
  }

  /** Takes more into the hold (single flight: concurrent requests wait for the same take). */
  private async grow(scope: RequestScope, hold: Hold, minMilli: number, wantMilli: number, ahead = false): Promise<void> {
    if (hold.taking) return hold.taking;
    hold.taking = this.take(scope, hold, Math.max(0, minMilli), Math.max(1, wantMilli), ahead).finally(() => {
      hold.taking = undefined;
    });
    return hold.taking;
  }

  private async take(scope: RequestScope, hold: Hold, minMilli: number, wantMilli: number, ahead: boolean): Promise<void> {
    const args = [hold.id, hold.period, minMilli, wantMilli, `reserve:hold:${hold.id}:${hold.takes + 1}`, this.holder, this.ttlMs];
    let [row] = await this.db.callScoped<TakeRow>(scope, 'app_quota_hold_take', args, { ahead });
    if (!row) {
      // The first request of a period opens its balance (and posts the month's grant).
      await this.db.withTenant(scope, (em) => this.ledger.ensureBalance(em, hold.tenantId, hold.period));
      [row] = await this.db.callScoped<TakeRow>(scope, 'app_quota_hold_take', args, { ahead });
    }
    if (!row) return;
    hold.granted = Number(row.granted_milli);
    const taken = Number(row.taken);
    if (taken > 0) {
      hold.takes++;
      hold.held += taken;
      hold.free += taken;
      hold.lastRenewed = Date.now();
    } else if (taken < 0) {
      this.markDead(hold); // its lease lapsed while this process stalled: the caller opens a new one
    }
  }

  private markDead(hold: Hold): void {
    hold.dead = true;
    hold.free = 0;
    this.retire(hold);
  }

  /** Stops admitting against `hold` and closes it once its last request is done. */
  private retire(hold: Hold): void {
    if (hold.closing) return;
    hold.closing = true;
    if (this.holds.get(hold.tenantId) === hold) this.holds.delete(hold.tenantId);
    this.closing.add(hold);
    this.schedule();
  }

  private schedule(): void {
    if (this.timer || this.stopped) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.tick();
    }, this.settleMs);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    const now = Date.now();
    if (now >= this.retryAt) {
      const work: Promise<void>[] = [];
      for (const hold of this.holds.values()) {
        if (hold.inflight === 0 && now - hold.lastUsed >= this.idleMs) this.retire(hold);
        else if (hold.pending > 0 || now - hold.lastRenewed >= this.ttlMs / 3) work.push(this.settle(hold));
      }
      for (const hold of this.closing) work.push(this.settle(hold));
      const failed = (await Promise.allSettled(work)).find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) {
        // The database is unreachable or refusing: what is pending stays pending (a settlement is
        // retried as is, so nothing is charged twice) and the retries back off instead of
        // hammering it — and the log — every SETTLE_MS.
        this.failures++;
        this.retryAt = Date.now() + Math.min(MAX_RETRY_MS, this.settleMs * 2 ** this.failures);
        if (this.failures === 1 || this.failures % 10 === 0) {
          this.log.warn({ err: failed.reason, failures: this.failures }, 'settling synchronous inference usage failed; retrying');
        }
      } else {
        this.failures = 0;
      }
      for (const tenantId of this.owedNotice) void this.noticeIfDue(tenantId);
    }
    if (this.holds.size > 0 || this.closing.size > 0 || this.owedNotice.size > 0) this.schedule();
  }

  /** Posts the hold's pending usage (and closes it when retired and idle). Serialised per hold. */
  private settle(hold: Hold): Promise<void> {
    const run = (hold.settling ?? Promise.resolve()).catch(() => undefined).then(() => this.settleOnce(hold));
    hold.settling = run;
    return run;
  }

  private async settleOnce(hold: Hold): Promise<void> {
    const close = hold.closing && hold.inflight === 0;
    if (!hold.unsettled) {
      if (hold.pending === 0 && !close && Date.now() - hold.lastRenewed < this.ttlMs / 3) return;
      if (hold.takes === 0 && hold.pending === 0) {
        // Never taken anything: nothing exists in the database to settle or close.
        if (close) this.closing.delete(hold);
        return;
      }
      hold.unsettled = { seq: ++hold.seq, capture: hold.pending, buckets: [...hold.buckets.values()], close };
      hold.pending = 0;
      hold.buckets = new Map();
    }
    const s = hold.unsettled;
    const notice = s.capture > 0 && this.noticeDue(hold.tenantId);
    const memo = memoOf(s.buckets);
    const buckets = JSON.stringify(s.buckets.map((b) => ({
      endpoint: b.endpointId, model: b.modelId, owner: b.ownerTenantId, usr: b.userId, bucket: b.bucketStart,
      requests: b.requests, items: b.items, device_ms: b.deviceMs, milli: b.milli,
    })));
    const [row] = await this.db.querySystem<{ charged: string | null }>('settle a process\'s quota hold for synchronous inference',
      `SELECT app_quota_hold_settle($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) AS charged`,
      [hold.id, hold.tenantId, hold.period, s.seq, s.capture, s.close, memo, buckets, notice, this.ttlMs]);
    hold.unsettled = undefined;
    hold.lastRenewed = Date.now();
    const charged = row.charged === null ? s.capture : Number(row.charged);
    hold.held = Math.max(0, hold.held - s.capture);
    if (charged < s.capture) {
      // The hold lapsed while this process stalled; what it admitted was charged from what the
      // balance had left. Nothing here is backed any more: the next request opens a new hold.
      this.markDead(hold);
      this.log.warn({ tenantId: hold.tenantId, holdId: hold.id, shortMilli: s.capture - charged }, 'a quota hold lapsed under its holder');
    }
    if (s.close) {
      hold.held = 0;
      hold.free = 0;
      this.closing.delete(hold);
    }
  }

  /** quotaChanged at most once per NOTIFY_INTERVAL_MS per tenant and process, with a trailing one. */
  private noticeDue(tenantId: string): boolean {
    const now = Date.now();
    if (now - (this.lastNotice.get(tenantId) ?? 0) >= NOTIFY_INTERVAL_MS) {
      this.lastNotice.set(tenantId, now);
      this.owedNotice.delete(tenantId);
      if (this.lastNotice.size > 10_000) this.lastNotice.clear();
      return true;
    }
    this.owedNotice.add(tenantId);
    return false;
  }

  private async noticeIfDue(tenantId: string): Promise<void> {
    if (!this.noticeDue(tenantId)) return;
    await this.db.withSystem('tell a tenant\'s quotaChanged subscribers that sync charges moved its balance',
      (em) => notify(em, CHANNELS.quota, tenantId)).catch(() => undefined);
  }

  /** Releases holds whose holders stopped renewing them (crashed processes). Any process may. */
  private async sweepLapsed(): Promise<void> {
    try {
      const lapsed: { id: string }[] = await this.db.withSystem('find quota holds whose holders stopped renewing them', (em) =>
        em.query(`SELECT id FROM quota_hold WHERE closed_at IS NULL AND expires_at < now() ORDER BY expires_at LIMIT 100`));
      for (const { id } of lapsed) {
        const [row] = await this.db.withSystem('release a lapsed quota hold', (em) =>
          em.query(`SELECT app_quota_hold_expire($1) AS released`, [id]));
        this.log.info({ holdId: id, releasedMilli: Number(row.released) }, 'released a lapsed quota hold');
      }
    } catch (err) {
      this.log.warn({ err }, 'sweeping lapsed quota holds failed; the next sweep retries');
    }
  }

  /** Releases lapsed holds now instead of at the next sweep (tests, operators). */
  sweepNow(): Promise<void> {
    return this.sweepLapsed();
  }
}

interface TakeRow {
  taken: string;
  granted_milli: string;
  reserved_milli: string;
  used_milli: string;
}

/** "infer paddleocr-ch ×12, silero-vad ×3": what an aggregated CAPTURE paid for. */
function memoOf(buckets: Bucket[]): string {
  const byLabel = new Map<string, number>();
  for (const b of buckets) byLabel.set(b.label, (byLabel.get(b.label) ?? 0) + b.requests);
  const parts = [...byLabel].map(([label, n]) => `${label} ×${n}`);
  const memo = `infer ${parts.join(', ')}`;
  return memo.length > 200 ? `${memo.slice(0, 197)}...` : memo;
}

