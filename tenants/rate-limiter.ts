// Per-tenant GraphQL rate limits, GitHub-style: every operation costs points (its computed query
// cost, api/graphql/limits/query-cost.ts) out of an hourly budget. The budget belongs to the
// acting tenant, or to the user when a caller acts without one (an alliance admin, say), so
// nobody escapes the limit by not choosing a tenant.
//
// The state lives in PostgreSQL (rate_limit_usage), not in process memory, so every API process
// spends from the same budget. Windows are fixed hours of the database clock: every process
// agrees on the window and on when it resets, whatever its own clock says.
//
// Leases. A round trip per operation was 1–2 ms of every request, so a process takes a slice of
// a subject's budget at once (app_rate_limit_lease, migrations/1765267200000-rate-limit-leases.ts)
// and spends it in memory. Every point a process may spend was first added to the shared row
// under its lock, so the budget stays shared and is never overdrawn, whatever the processes do:
// - the lease is refused, taking nothing, when even this operation's cost would overdraw the
//   budget, so a refused operation spends nothing;
// - it grants at most half of what would be left after the operation beyond the budget's last
//   2%, so slices shrink as the budget runs low and its last 2% go one operation at a time in
//   every process (the migration says why the reserve);
// - its size follows the subject's pace in this process (about a second of its spending, see
//   extraWanted), so a busy subject costs about two round trips a second per process, and a quiet
//   one leases its operations one by one as before;
// - a busy subject's next slice is leased while half of the last is left (leaseAhead), so its
//   operations do not wait for the round trip;
// - what a process did not spend goes back (app_rate_limit_return): after the subject is idle
//   for a second, on shutdown, when an admin changes the tenant's budget (this process at once,
//   the others on the trigger's notice, CHANNELS.rateLimit), and when the LISTEN connection
//   reconnected (a notice may have been lost). At its window's end it is void: it was counted in
//   that window, which is over.
// What others hold counts as spent until they spend or return it. So a process may refuse an
// operation that points another process holds would cover — only when that slice was taken
// before the budget's last 2% and the others spent those 2% before its holder spent it or went
// idle (about a second). A crashed process's slice stays spent until the window ends; it is at
// most 1% of the budget (MAX_EXTRA_SHARE). While the LISTEN connection is down a changed budget
// reaches this process only through its next lease: a slice held meanwhile (≤ 1%, about a
// second of spending) may still be spent under the old budget, as the membership cache may
// serve a removed member until the reconnect (tenants/identity.ts).
//
// Reported state: `used` is the shared row as this process last saw it (its last lease) minus
// this process's unspent slice — exact with one process; with several it does not see the
// others' spending since its last lease, and counts their unspent slices as used.
import type { EntityManager } from 'typeorm';
import type { Logger } from '../core/logger';
import type { RateLimitSubjectType } from '../entities';
import { CHANNELS } from './job-events';
import type { PgListener } from './pg-listener';
import type { RequestScope } from './request-scope';
import type { TenantDatabase } from './tenant-database';

export interface RateLimitSubject {
  type: RateLimitSubjectType;
  id: string;
  /** For messages: the tenant's slug or the username. */
  label: string;
}

export interface RateLimitState {
  subject: RateLimitSubject;
  /** Points per hour. */
  limit: number;
  /** Points this operation costs (0 for a look that charges nothing); charged only when admitted. */
  cost: number;
  /** Points spent in the current window, this operation included when admitted. */
  used: number;
  remaining: number;
  resetAt: Date;
  /** False when the operation would have overdrawn the budget (nothing was charged). */
  admitted: boolean;
}

interface WindowRow {
  points: number;
  window_start: Date;
  used: number | null;
}

interface LeaseRow {
  points: number;
  window_start: Date;
  /** Time left in the window on the database clock when the lease ran. */
  ends_in_ms: number;
  /** The row's used after the lease (everything granted included). */
  used: number;
  granted: number;
  admitted: boolean;
}

/** One subject's slice of its budget in this process. */
interface Allowance {
  readonly subject: RateLimitSubject;
  /** The database window the slice was leased from (null before the first lease). */
  windowStart: Date | null;
  /** This process's clock when that window ends: the database's time left, measured from the
   *  lease's answer. Skew between the hosts' clocks does not matter; the answer's latency makes it
   *  a few milliseconds late, so a slice may be spent just after the window ended — from points
   *  that window counted, so no window ever spends more than its budget. */
  endsAt: number;
  /** The budget as of the last lease. */
  limit: number;
  /** Leased, not yet spent. */
  allowance: number;
  /** The row's used as the last lease left it (this process's slice included). */
  usedAtLease: number;
  /** ≈ points spent in the last second: a sum decaying with a one-second time constant. */
  rate: number;
  lastSpendAt: number;
  /** The last charge, spent or refused: a subject quiet for IDLE_MS gives its slice back. */
  lastActivity: number;
  /** Points of operations waiting for the lease in flight: it takes them too. */
  queued: number;
  /** Leases and returns in flight, and a promise settled once those settle. */
  inFlight: number;
  settled: Promise<void>;
  /** Leases and returns started: a peek whose read straddled one reads again. */
  started: number;
  /** Bumped when the slice is dropped for a changed budget: a lease in flight across it keeps
   *  none of its surplus (it was sized against the old budget). */
  generation: number;
  /** The last lease's refusal, for the operations that waited on it (see charge). */
  refusal?: { seq: number; row: LeaseRow; available: number };
}

// The budget without spending any. $1 subject type, $2 subject id, $3 default budget.
const PEEK = `
  WITH budget AS (
    SELECT date_trunc('hour', now()) AS window_start,
           coalesce((SELECT s.points_per_hour FROM rate_limit_setting s
                      WHERE $1::text = 'TENANT' AND s.tenant_id = $2::uuid), $3::int) AS points
  )
  SELECT b.points, b.window_start,
         coalesce((SELECT u.used FROM rate_limit_usage u
                    WHERE u.subject_type = $1::text AND u.subject_id = $2::uuid
                      AND u.window_start = b.window_start), 0) AS used
    FROM budget b`;

const HOUR_MS = 3_600_000;
/** A subject without operations this long gives its unspent slice back. */
const IDLE_MS = 1_000;
/** How often one timer looks for idle subjects (a timer per operation would cost more than it saves). */
const SWEEP_MS = 250;
/** An empty entry this long unused is forgotten, so memory follows the active subjects. */
const FORGET_MS = 60_000;
/** The time constant of `rate`: a lease covers about this much of the subject's spending. */
const RATE_WINDOW_MS = 1_000;
// A slice beyond the operation's cost is at most 1% of the budget: what one process may hold
// unspent — what the other processes see as spent until it is spent or returned, and what a
// crash or a window's end may waste — stays small. At the default 100,000 points an hour that is
// 1,000 points, more than a second of any sane pace. The constant bounds it for huge overrides
// (setRateLimit allows 10^9), where a lease a second costs nothing measurable anyway.
const MAX_EXTRA_SHARE = 0.01;
const MAX_EXTRA_POINTS = 10_000;
/** A subject spending fewer operations' points a second than this leases on demand only (see leaseAhead). */
const AHEAD_MIN_OPERATIONS = 4;
/** Peeks that keep straddling leases settle for the last read (an approximate `used`) after this many. */
const PEEK_ATTEMPTS = 5;

export interface RateLimiterOptions {
  /** The LISTEN connection: without change notices no slice beyond an operation's cost is held,
   *  since another process's budget change could not reach it. */
  changes?: PgListener;
  log?: Logger;
}

export class RateLimiter {
  /** The window this process last pruned up to: older windows are deleted once per hour. */
  private prunedBefore = 0;
  private readonly allowances = new Map<string, Allowance>();
  private readonly following: boolean;
  private closed = false;
  private readonly sweeper?: NodeJS.Timeout;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(
    private readonly db: TenantDatabase,
    private readonly defaultPointsPerHour: number,
    private readonly options: RateLimiterOptions = {},
  ) {
    const changes = options.changes;
    this.following = Boolean(changes);
    if (changes) {
      this.unsubscribe.push(
        changes.on(CHANNELS.rateLimit, (tenantId) => void this.dropAllowance({ type: 'TENANT', id: tenantId })),
        changes.onReconnect(() => void this.returnAll()),
      );
      this.sweeper = setInterval(() => this.sweep(), SWEEP_MS);
      this.sweeper.unref();
    }
  }

  subjectOf(scope: RequestScope): RateLimitSubject {
    return scope.tenant
      ? { type: 'TENANT', id: scope.tenant.tenantId, label: `tenant ${scope.tenant.slug}` }
      : { type: 'USER', id: scope.user.id, label: `user ${scope.user.username}` };
  }

  /** Spends `cost` points of the caller's budget, or refuses without spending any. */
  async charge(scope: RequestScope, cost: number): Promise<RateLimitState> {
    const subject = this.subjectOf(scope);
    const entry = this.allowanceOf(subject);
    // Which settled lease this operation waited for, if any (see the refusal below).
    let waitedFor = -1;
    for (;;) {
      const now = Date.now();
      entry.lastActivity = now;
      if (entry.allowance > 0 && now >= entry.endsAt) entry.allowance = 0; // void: its window is over
      if (entry.allowance >= cost) {
        entry.allowance -= cost;
        this.noteSpend(entry, cost, now);
        const state = this.state(subject, entry.limit, entry.windowStart!, entry.usedAtLease - entry.allowance, cost, true);
        this.leaseAhead(entry, scope, cost, now);
        return state;
      }
      if (entry.inFlight > 0) {
        // One lease at a time per subject: the others wait for it and look again, rather than
        // each making a round trip. The lease in flight takes their points too.
        waitedFor = entry.started;
        entry.queued += cost;
        try {
          await entry.settled;
        } finally {
          entry.queued -= cost;
        }
        continue;
      }
      // The lease this operation waited for was refused and nothing changed since: the budget
      // had less than this operation needs while it waited, so it is refused on that answer
      // instead of with another round trip (operations over budget would otherwise queue for
      // one each).
      const refusal = entry.refusal;
      if (refusal && refusal.seq === waitedFor && entry.started === waitedFor && now < entry.endsAt && cost > refusal.available) {
        return this.state(subject, refusal.row.points, refusal.row.window_start, refusal.row.used - entry.allowance, cost, false);
      }
      return this.lease(entry, scope, cost);
    }
  }

  /** The caller's budget without spending any (responses that ran no operation). */
  peek(scope: RequestScope): Promise<RateLimitState> {
    const subject = this.subjectOf(scope);
    // Each read its own transaction, so waiting for a lease holds no connection.
    return this.peekWith(subject, () => this.db.withTenant(scope, (em) => this.readWindow(em, subject)));
  }

  /** The same look for a subject the caller may see (an admin looking at a tenant). */
  peekIn(em: EntityManager, subject: RateLimitSubject): Promise<RateLimitState> {
    return this.peekWith(subject, () => this.readWindow(em, subject));
  }

  /**
   * Gives back and forgets this process's slice of a subject's budget, for a changed budget:
   * the slice was sized against the old one, and a lowered budget must not be overspent from it.
   * Called by setRateLimit after its change committed, and on the change notice in every process.
   */
  dropAllowance(subject: Pick<RateLimitSubject, 'type' | 'id'>): Promise<void> {
    const entry = this.allowances.get(keyOf(subject));
    if (!entry) return Promise.resolve();
    entry.generation += 1;
    return this.giveBack(entry);
  }

  /** Gives back every unspent slice (shutdown; a reconnected LISTEN connection may have missed notices). */
  async returnAll(): Promise<void> {
    await Promise.all([...this.allowances.values()].map((entry) => {
      entry.generation += 1;
      return this.giveBack(entry);
    }));
  }

  /** Shutdown: stops holding slices and gives back what is unspent. Charges still work after it, one lease each. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.sweeper) clearInterval(this.sweeper);
    for (const off of this.unsubscribe.splice(0)) off();
    // Leases in flight settle first, so their surplus is returned too (closed: none is kept).
    await Promise.all([...this.allowances.values()].map((entry) => entry.settled));
    await this.returnAll();
  }

  private async lease(entry: Allowance, scope: RequestScope, cost: number): Promise<RateLimitState> {
    const subject = entry.subject;
    // The leftover slice (less than `cost`) pays part of this operation. It leaves the entry now,
    // so operations arriving during the round trip cannot spend it as well.
    const own = entry.allowance;
    entry.allowance = 0;
    const generation = entry.generation;
    const shortfall = cost - own;
    const want = shortfall + this.extraWanted(entry, Date.now());
    const seq = entry.started + 1;
    return this.track(entry, async () => {
      let row: LeaseRow;
      try {
        [row] = await this.db.callScoped<LeaseRow>(scope, 'app_rate_limit_lease',
          [subject.type, subject.id, shortfall, want, this.defaultPointsPerHour]);
      } catch (err) {
        this.keepOrReturn(entry, generation, own, entry.windowStart);
        throw err;
      }
      const sameWindow = this.noteLease(entry, row);
      const limit = entry.limit;
      const used = entry.usedAtLease;
      if (!row.admitted) {
        // The leftover stays this process's, unless its window is over (then it is void).
        const kept = sameWindow ? own : 0;
        this.keepOrReturn(entry, generation, kept, row.window_start);
        entry.refusal = { seq, row: { ...row, points: limit, used }, available: kept + Math.max(0, limit - used) };
        return this.state(subject, limit, row.window_start, used - kept, cost, false);
      }
      entry.refusal = undefined;
      // granted ≥ shortfall, so the surplus is never negative.
      const surplus = own + Number(row.granted) - cost;
      this.keepOrReturn(entry, generation, surplus, row.window_start);
      this.noteSpend(entry, cost, Date.now());
      return this.state(subject, limit, row.window_start, used - surplus, cost, true);
    });
  }

  /**
   * Leases the next slice while half of this one is left, so that a busy subject's operations
   * never wait for the round trip (at c8 they all waited for the one in flight). Only for a
   * subject spending at least AHEAD_MIN_OPERATIONS operations' points a second here: a quiet one
   * leases on demand as before, and holds nothing it may never spend.
   */
  private leaseAhead(entry: Allowance, scope: RequestScope, cost: number, now: number): void {
    if (entry.inFlight > 0) return;
    const wanted = this.extraWanted(entry, now); // 0 without change notices or after close
    if (wanted < AHEAD_MIN_OPERATIONS * Math.max(1, cost) || entry.allowance * 2 >= wanted) return;
    const subject = entry.subject;
    const generation = entry.generation;
    void this.track(entry, async () => {
      // Costing nothing, it is never refused; it grants what the budget can spare (maybe 0).
      const [row] = await this.db.callScoped<LeaseRow>(scope, 'app_rate_limit_lease',
        [subject.type, subject.id, 0, wanted - entry.allowance, this.defaultPointsPerHour], { ahead: true });
      // What is left of an ended window is void: the new slice must not add to it.
      if (!this.noteLease(entry, row)) entry.allowance = 0;
      entry.refusal = undefined;
      this.keepOrReturn(entry, generation, Number(row.granted), row.window_start);
    }).catch((err) => {
      // Nothing was taken; the next operation that runs short leases on its own path, and errors there.
      this.options.log?.debug({ err, subject: subject.label }, 'leasing rate-limit points ahead of need failed');
    });
  }

  /** Takes in what a lease's answer says of the window; true when it is the window the slice was leased from. */
  private noteLease(entry: Allowance, row: LeaseRow): boolean {
    this.pruneOldWindows(row.window_start);
    const sameWindow = entry.windowStart !== null && sameTime(entry.windowStart, row.window_start);
    entry.windowStart = row.window_start;
    entry.limit = Number(row.points);
    entry.endsAt = Date.now() + Number(row.ends_in_ms);
    entry.usedAtLease = Number(row.used);
    return sameWindow;
  }

  /**
   * Points beyond the operation's cost to lease: about a second of the subject's spending in this
   * process (topped up at half, so two round trips a second however busy), plus what operations
   * waiting on this lease need; at most MAX_EXTRA_SHARE of the budget. None without change
   * notices or after close: nothing may be held that a budget change could not reach.
   */
  private extraWanted(entry: Allowance, now: number): number {
    if (!this.following || this.closed) return 0;
    const limit = entry.limit || this.defaultPointsPerHour;
    const cap = Math.min(Math.floor(limit * MAX_EXTRA_SHARE), MAX_EXTRA_POINTS);
    const recent = entry.rate * Math.exp(-(now - entry.lastSpendAt) / RATE_WINDOW_MS);
    return Math.max(0, Math.min(cap, Math.ceil(recent) + entry.queued));
  }

  /** Keeps a lease's unspent points, or gives them back when the budget changed meanwhile or this process closes. */
  private keepOrReturn(entry: Allowance, generation: number, points: number, windowStart: Date | null): void {
    if (points <= 0) return;
    if (generation === entry.generation && !this.closed) {
      entry.allowance += points;
      return;
    }
    if (windowStart) void this.returnPoints(entry, points, windowStart);
  }

  /** Takes the subject's unspent slice out of memory and gives it back to its window. */
  private giveBack(entry: Allowance): Promise<void> {
    const points = entry.allowance;
    entry.allowance = 0;
    if (points <= 0 || !entry.windowStart) return Promise.resolve();
    if (Date.now() >= entry.endsAt) return Promise.resolve(); // void: its window is over
    return this.returnPoints(entry, points, entry.windowStart);
  }

  private returnPoints(entry: Allowance, points: number, windowStart: Date): Promise<void> {
    const subject = entry.subject;
    // Off the request path, for no request: the identity is the subject's own, so row-level
    // security still limits the call to that subject's row.
    const identity = subject.type === 'TENANT' ? { tenantId: subject.id } : { userId: subject.id };
    return this.track(entry, async () => {
      await this.db.withIdentity(identity, (em) => em.query(
        `SELECT app_rate_limit_return($1, $2, $3, $4, $5, $6, $7)`,
        [identity.userId ?? '', identity.tenantId ?? '', 'off', subject.type, subject.id, windowStart, points],
      ));
    }).catch((err) => {
      // The points stay counted as spent: the budget is short by them until the window ends,
      // never overdrawn.
      this.options.log?.warn({ err, subject: subject.label, points }, 'could not give back unspent rate-limit points');
    });
  }

  /** Runs a lease or return of the subject, so charges wait for it and peeks read again across it. */
  private track<T>(entry: Allowance, work: () => Promise<T>): Promise<T> {
    entry.inFlight += 1;
    entry.started += 1;
    const done = work().finally(() => {
      entry.inFlight -= 1;
    });
    const settledOne = done.then(() => undefined, () => undefined);
    entry.settled = Promise.all([entry.settled, settledOne]).then(() => undefined);
    return done;
  }

  private async peekWith(subject: RateLimitSubject, read: () => Promise<WindowRow>): Promise<RateLimitState> {
    const key = keyOf(subject);
    for (let attempt = 1; ; attempt++) {
      const before = this.allowances.get(key);
      while (before && before.inFlight > 0) await before.settled;
      const started = before?.started ?? 0;
      const row = await read();
      const entry = this.allowances.get(key);
      // A lease or return that ran between the read and now changed what the row and the slice
      // say together: read again.
      const straddled = entry !== before || (entry && (entry.inFlight > 0 || entry.started !== started));
      if (straddled && attempt < PEEK_ATTEMPTS) continue;
      const held = entry && entry.windowStart && sameTime(entry.windowStart, row.window_start) && Date.now() < entry.endsAt
        ? entry.allowance : 0;
      return this.state(subject, Number(row.points), row.window_start, Number(row.used ?? 0) - held, 0, true);
    }
  }

  private async readWindow(em: EntityManager, subject: RateLimitSubject): Promise<WindowRow> {
    const [row]: WindowRow[] = await em.query(PEEK, [subject.type, subject.id, this.defaultPointsPerHour]);
    return row;
  }

  private allowanceOf(subject: RateLimitSubject): Allowance {
    const key = keyOf(subject);
    let entry = this.allowances.get(key);
    if (!entry) {
      entry = {
        subject, windowStart: null, endsAt: 0, limit: 0, allowance: 0, usedAtLease: 0, rate: 0, lastSpendAt: 0,
        lastActivity: Date.now(), queued: 0, inFlight: 0, settled: Promise.resolve(), started: 0, generation: 0,
      };
      this.allowances.set(key, entry);
    }
    return entry;
  }

  private noteSpend(entry: Allowance, cost: number, now: number): void {
    entry.rate = entry.rate * Math.exp(-(now - entry.lastSpendAt) / RATE_WINDOW_MS) + cost;
    entry.lastSpendAt = now;
  }

  /** One timer for every subject: gives back idle subjects' slices, voids ended windows', forgets long-unused entries. */
  private sweep(): void {
    const now = Date.now();
    for (const [key, entry] of this.allowances) {
      if (entry.inFlight > 0) continue;
      if (entry.allowance > 0 && now >= entry.endsAt) entry.allowance = 0;
      if (entry.allowance > 0 && now - entry.lastActivity >= IDLE_MS) void this.giveBack(entry);
      else if (entry.allowance === 0 && now - entry.lastActivity >= FORGET_MS) this.allowances.delete(key);
    }
  }

  private state(subject: RateLimitSubject, limit: number, windowStart: Date, used: number, cost: number, admitted: boolean): RateLimitState {
    return {
      subject,
      limit,
      cost,
      used,
      remaining: Math.max(0, limit - used),
      resetAt: new Date(new Date(windowStart).getTime() + HOUR_MS),
      admitted,
    };
  }

  private pruneOldWindows(windowStart: Date): void {
    const start = new Date(windowStart).getTime();
    if (start <= this.prunedBefore) return;
    this.prunedBefore = start;
    // Finished windows are only history; a deleted tenant's rows go with them.
    void this.db.withSystem('prune finished rate-limit windows of every subject', (em) =>
      em.query(`DELETE FROM rate_limit_usage WHERE window_start < $1`, [new Date(start)]),
    ).catch(() => {
      this.prunedBefore = 0; // try again on the next lease
    });
  }
}

function keyOf(subject: Pick<RateLimitSubject, 'type' | 'id'>): string {
  return `${subject.type}:${subject.id}`;
}

function sameTime(a: Date, b: Date): boolean {
  return new Date(a).getTime() === new Date(b).getTime();
}
