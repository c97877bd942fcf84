// The endpoint `infer` calls, as the caller's tenant sees it, kept in this process's memory:
// asking the database on every call (app_infer_target) cost 1–2 ms of each request. A cached
// answer must never let a caller reach an endpoint it can no longer see, nor run one that was
// stopped, so an entry ends when anything that could change it happens:
//
// - a catalog write anywhere: triggers in the schema (migrations/1765353600000-catalog-change-
//   notices.ts) announce every write to endpoint, model, model_grant, the versions' columns the
//   answer reads and tenant deletion on CHANNELS.catalog, and every process drops everything
//   (catalog writes are rare next to calls; the simplest rule is the one that cannot be wrong);
// - a lost LISTEN connection: notices sent meanwhile are gone, so its return drops everything;
// - a grant's expiry, which happens without any write: an entry seen through a SHARED model's
//   grant ends when the grant does (visible_until, on the database's clock — see load());
// - TTL_MS in any case: the bound for what no notice covers — per_item_device_seconds, which the
//   platform rewrites as it measures and which only feeds the cost estimate, and the moments a
//   LISTEN connection is down before it is known to be.
// A lookup that started before a drop neither stores its answer nor is joined by later callers
// (the generation check): what it read may predate the change the drop announced.
//
// Not cached: misses. NOT_FOUND is not a path worth speeding up, and a remembered miss would
// turn away the first calls to an endpoint just deployed in another process until the notice
// arrived; it would also let anyone probing random ids evict the entries real callers use.
//
// Writes made by this process reach its own cache through the same notice, which PostgreSQL
// delivers at commit, typically before the writer's response has left. A service that must read
// its own write at once (no window at all) calls forgetAll() after committing.
import { LRUCache } from 'lru-cache';
import type { EndpointStatus } from '../../entities';
import { CHANNELS } from '../../tenants/job-events';
import type { PgListener } from '../../tenants/pg-listener';
import type { RequestScope } from '../../tenants/request-scope';
import type { TenantDatabase } from '../../tenants/tenant-database';

/** Safety net: the longest any entry lives. */
const TTL_MS = 15_000;
/** Entries at most (least recently used go first): a few hundred bytes each. */
const MAX_ENTRIES = 10_000;

/** What `infer` needs of its endpoint before it runs (app_infer_target's endpoint fields, without the balance). */
export interface InferEndpoint {
  id: string;
  name: string;
  status: EndpointStatus;
  failure_reason: string | null;
  accelerator: string;
  model_version_id: string;
  handler: string;
  per_item_device_seconds: number | null;
  model_id: string;
  /** The model's tenant: usage is recorded for its owner too. */
  owner_tenant_id: string;
}

interface InferEndpointRow extends InferEndpoint {
  /** When the caller's grant ends, if it sees the endpoint through one (SHARED, not its own model). */
  visible_until: Date | null;
  /** The database's now() for this lookup: visible_until is measured against it, not our clock. */
  checked_at: Date;
}

export interface InferTargetCacheOptions {
  ttlMs?: number;
  maxEntries?: number;
}

export class InferTargetCache {
  /**
   * Keyed by acting tenant and endpoint id. The key is complete because the answer depends on
   * nothing else of the caller: the SELECT policies of endpoint, model_version and model
   * (migrations/1764662400000-create-models.ts) read only app_tenant_id() — directly and through
   * app_granted_model_ids(), whose other input is now() (handled by visible_until) — and none
   * reads app_user_id() or app_is_alliance_admin(); app_model_grant_expires_at() reads only
   * app_tenant_id() too. A policy on these tables that starts reading the user or the admin flag
   * must add it here (test/infer-target-cache.int.spec.ts checks the policies for that).
   * The caller's role is not part of the answer: infer checks it from the scope.
   */
  private readonly entries: LRUCache<string, InferEndpoint>;
  /** Lookups under way, so concurrent misses for one key make one round trip. */
  private readonly inFlight = new Map<string, Promise<InferEndpoint | undefined>>();
  /** Bumped by every drop; a lookup that saw it move keeps its answer to itself. */
  private generation = 0;
  private readonly ttlMs: number;

  constructor(private readonly db: TenantDatabase, listener: PgListener, opts: InferTargetCacheOptions = {}) {
    this.ttlMs = opts.ttlMs ?? TTL_MS;
    this.entries = new LRUCache<string, InferEndpoint>({ max: opts.maxEntries ?? MAX_ENTRIES, ttl: this.ttlMs });
    listener.on(CHANNELS.catalog, () => this.forgetAll());
    listener.onReconnect(() => this.forgetAll());
  }

  /**
   * The endpoint as the scope's tenant sees it; undefined when it does not exist or row-level
   * security hides it (another tenant's PRIVATE model, a SHARED one without a live grant) — the
   * two are the same NOT_FOUND by design. The answer is shared between callers: read-only.
   */
  get(scope: RequestScope, endpointId: string): Promise<InferEndpoint | undefined> {
    const tenantId = scope.tenant?.tenantId;
    // Without an acting tenant every policy hides every row; asked, not cached (infer refuses
    // such a caller before it gets here anyway).
    if (!tenantId) return this.load(scope, endpointId, '', -1);
    const key = `${tenantId}:${endpointId}`;
    const hit = this.entries.get(key);
    if (hit) return Promise.resolve(hit);
    const pending = this.inFlight.get(key);
    if (pending) return pending;
    const answer = this.load(scope, endpointId, key, this.generation).finally(() => {
      // A drop meanwhile may have made way for a newer lookup of the same key: leave that one be.
      if (this.inFlight.get(key) === answer) this.inFlight.delete(key);
    });
    this.inFlight.set(key, answer);
    return answer;
  }

  /**
   * Drops every entry, and disowns the lookups in flight: they still answer their callers, but
   * store nothing and are joined by no later caller — what they read may predate the change.
   * Called on a catalog notice and on a LISTEN reconnect.
   */
  forgetAll(): void {
    this.generation += 1;
    this.entries.clear();
    this.inFlight.clear();
  }

  private async load(scope: RequestScope, endpointId: string, key: string, generation: number): Promise<InferEndpoint | undefined> {
    const started = performance.now();
    const [row] = await this.db.callScoped<InferEndpointRow>(scope, 'app_infer_endpoint', [endpointId]);
    if (!row) return undefined;
    const { visible_until: visibleUntil, checked_at: checkedAt, ...fields } = row;
    const endpoint: InferEndpoint = Object.freeze(fields);
    if (!key || generation !== this.generation) return endpoint;
    let ttl = this.ttlMs;
    if (visibleUntil) {
      // How long the grant had left when the database looked — a span on its own clock, so the
      // two hosts' clocks are never compared — counted from before we asked: the database read
      // its clock after that, so the entry ends no later than the grant. 1 ms for the
      // microseconds the driver's Date drops.
      const left = visibleUntil.getTime() - checkedAt.getTime() - (performance.now() - started) - 1;
      ttl = Math.min(ttl, Math.floor(left));
    }
    if (ttl > 0) this.entries.set(key, endpoint, { ttl });
    return endpoint;
  }
}
