// Usage analytics for partner dashboards and the CLI: the acting tenant's usage bucketed by day,
// model, user, endpoint or dataset, and who used the acting tenant's datasets and models. The
// numbers come from SQL functions (migrations/1764921600000-create-usage-indexes.ts) that read
// only what the acting tenant is entitled to; names are resolved here, under RLS.
import type { EntityManager } from 'typeorm';
import { AppError } from '../../core/app-error';
import { toGlobalId } from '../../core/global-id';
import type { QuotaHolds } from '../../tenants/quota-holds';
import { fromMilli } from '../../tenants/quota-ledger';
import { requireTenant, type RequestScope } from '../../tenants/request-scope';
import type { TenantDatabase } from '../../tenants/tenant-database';
import { AssetUsageNode, NO_KEY, UsageBucketNode, UsageGroupBy, type UsageBreakdownSource, type UsageWindow } from './usage.types';

/** A year and a leap day: "this year so far" and "the last 12 months" always fit. */
export const MAX_WINDOW_DAYS = 366;
const DAY_MS = 86_400_000;

interface UsageRow {
  key: string | null;
  sub_key: string | null;
  device_seconds: number | null;
  units_milli: string | null;
  jobs: string;
  requests: string | null;
}

interface AssetRow {
  consumer_tenant_id: string;
  asset_type: 'Dataset' | 'Model';
  asset_id: string;
  asset_name: string;
  jobs: string;
  items: string;
  units_milli: string;
  requests: string;
}

/** Global-id type of the objects each grouping keys on. */
const KEY_TYPE: Record<Exclude<UsageGroupBy, UsageGroupBy.DAY>, string> = {
  [UsageGroupBy.MODEL]: 'Model',
  [UsageGroupBy.USER]: 'User',
  [UsageGroupBy.ENDPOINT]: 'Endpoint',
  [UsageGroupBy.DATASET]: 'Dataset',
};

const NONE_LABEL: Record<UsageGroupBy, string> = {
  [UsageGroupBy.DAY]: NO_KEY,
  [UsageGroupBy.MODEL]: '(unknown model)',
  [UsageGroupBy.USER]: '(deleted user)',
  [UsageGroupBy.ENDPOINT]: '(unknown endpoint)',
  [UsageGroupBy.DATASET]: '(no dataset)',
};

/** Shown for an asset the tenant used but may no longer read (a grant expired, made PRIVATE). */
const HIDDEN_LABEL = '(no longer visible)';

export function validateWindow(from: Date, to: Date): UsageWindow {
  if (!(from instanceof Date) || Number.isNaN(from.getTime()) || !(to instanceof Date) || Number.isNaN(to.getTime())) {
    throw AppError.badInput('from and to must be valid date-times');
  }
  if (from.getTime() >= to.getTime()) {
    throw AppError.badInput(`from must be before to; got from ${from.toISOString()}, to ${to.toISOString()}`);
  }
  const days = (to.getTime() - from.getTime()) / DAY_MS;
  if (days > MAX_WINDOW_DAYS) {
    throw AppError.badInput(`the window may span at most ${MAX_WINDOW_DAYS} days; this one spans ${Math.ceil(days)}`,
      { maxDays: MAX_WINDOW_DAYS });
  }
  return { from, to };
}

export interface UsageServiceOptions {
  /** Closed days added to the daily roll-up per query at most (a backlog catches up over several). */
  rollUpDaysPerCall?: number;
}

export class UsageService {
  private readonly rollUpDays: number;

  constructor(
    private readonly db: TenantDatabase,
    opts: UsageServiceOptions = {},
    /** Synchronous requests answered here are settled before a read (tenants/quota-holds.ts). */
    private readonly holds?: QuotaHolds,
  ) {
    this.rollUpDays = opts.rollUpDaysPerCall ?? 7;
  }

  /**
   * Brings the daily roll-up up to the last closed day (a few days per call), so that the query
   * after it reads whole days from usage_day. Harmless to repeat; a concurrent caller skips it.
   * Answers are the same rolled up or not — only faster.
   */
  private async rollUp(em: EntityManager): Promise<void> {
    await em.query(`SELECT usage_roll_up($1)`, [this.rollUpDays]);
  }

  async usage(scope: RequestScope, from: Date, to: Date, groupBy: UsageGroupBy): Promise<UsageBucketNode[]> {
    requireTenant(scope);
    const window = validateWindow(from, to);
    return (await this.levels(scope, window, groupBy, null)).get(null) ?? [];
  }

  /**
   * One or two levels of buckets, with labels. Keyed by the parent's raw key (null at the top):
   * the top level is computed by its own query because jobs are counted distinct, and a job's
   * count does not add up across sub-buckets (a job running on two days).
   */
  async levels(scope: RequestScope, window: UsageWindow, groupBy: UsageGroupBy, thenBy: UsageGroupBy | null,
    source?: UsageBreakdownSource): Promise<Map<string | null, UsageBucketNode[]>> {
    await this.holds?.flush();
    return this.db.withTenant(scope, async (em) => {
      await this.rollUp(em);
      const rows: UsageRow[] = await em.query(
        `SELECT * FROM tenant_usage($1, $2, $3, $4)`, [window.from, window.to, groupBy, thenBy]);
      const level = thenBy ?? groupBy;
      const labels = await this.labels(em, level, rows.map((r) => (thenBy ? r.sub_key : r.key)));
      const memo = source ?? new BreakdownMemo(this, scope, window, groupBy);
      const byParent = new Map<string | null, UsageBucketNode[]>();
      for (const r of rows) {
        const parent = thenBy ? r.key : null;
        const raw = thenBy ? r.sub_key : r.key;
        const bucket = Object.assign(new UsageBucketNode(), {
          key: raw === null ? NO_KEY : level === UsageGroupBy.DAY ? raw : toGlobalId(KEY_TYPE[level], raw),
          label: raw === null ? NONE_LABEL[level] : labels.get(raw) ?? (level === UsageGroupBy.USER ? NONE_LABEL[level] : HIDDEN_LABEL),
          deviceSeconds: Number(r.device_seconds ?? 0),
          computeUnits: fromMilli(Number(r.units_milli ?? 0)),
          jobs: Number(r.jobs),
          requests: Number(r.requests ?? 0),
          rawKey: raw,
          // A sub-bucket's own breakdown is not offered (two levels are what a chart needs).
          source: thenBy ? NO_DEEPER : memo,
        });
        const list = byParent.get(parent) ?? [];
        list.push(bucket);
        byParent.set(parent, list);
      }
      for (const list of byParent.values()) list.sort(level === UsageGroupBy.DAY ? byKey : byUnitsThenLabel);
      return byParent;
    });
  }

  async assetUsage(scope: RequestScope, from: Date, to: Date): Promise<AssetUsageNode[]> {
    requireTenant(scope);
    const window = validateWindow(from, to);
    await this.holds?.flush();
    const rows: AssetRow[] = await this.db.withTenant(scope, async (em) => {
      await this.rollUp(em);
      return em.query(`SELECT * FROM usage_of_my_assets($1, $2)`, [window.from, window.to]);
    });
    return rows
      .map((r) => Object.assign(new AssetUsageNode(), {
        consumerTenantId: r.consumer_tenant_id,
        assetType: r.asset_type,
        assetId: toGlobalId(r.asset_type, r.asset_id),
        assetName: r.asset_name,
        jobs: Number(r.jobs),
        items: Number(r.items),
        requests: Number(r.requests),
        computeUnits: fromMilli(Number(r.units_milli)),
      }))
      .sort((a, b) => b.computeUnits - a.computeUnits || a.assetName.localeCompare(b.assetName) || a.consumerTenantId.localeCompare(b.consumerTenantId));
  }

  /** Human names for raw keys, read under RLS: what the tenant may not read stays unnamed. */
  private async labels(em: EntityManager, level: UsageGroupBy, keys: (string | null)[]): Promise<Map<string, string>> {
    const ids = [...new Set(keys.filter((k): k is string => k !== null))];
    if (level === UsageGroupBy.DAY) return new Map(ids.map((d) => [d, d]));
    if (!ids.length) return new Map();
    const sql: Record<Exclude<UsageGroupBy, UsageGroupBy.DAY>, string> = {
      [UsageGroupBy.USER]: `SELECT id, username AS name, NULL::uuid AS owner FROM app_user WHERE id = ANY ($1::uuid[])`,
      [UsageGroupBy.ENDPOINT]: `SELECT id, name, NULL::uuid AS owner FROM endpoint WHERE id = ANY ($1::uuid[])`,
      [UsageGroupBy.MODEL]: `SELECT id, name, tenant_id AS owner FROM model WHERE id = ANY ($1::uuid[])`,
      [UsageGroupBy.DATASET]: `SELECT id, name, tenant_id AS owner FROM dataset WHERE id = ANY ($1::uuid[])`,
    };
    const rows: { id: string; name: string; owner: string | null }[] = await em.query(sql[level], [ids]);
    const acting: { id: string | null }[] = await em.query(`SELECT app_tenant_id() AS id`);
    const owners = [...new Set(rows.map((r) => r.owner).filter((o): o is string => o !== null && o !== acting[0].id))];
    const slugs = new Map<string, string>();
    if (owners.length) {
      const directory: { id: string; slug: string }[] = await em.query(`SELECT id, slug FROM tenant_directory($1::uuid[], NULL)`, [owners]);
      for (const t of directory) slugs.set(t.id, t.slug);
    }
    return new Map(rows.map((r) => [r.id, r.owner && slugs.has(r.owner) ? `${slugs.get(r.owner)}/${r.name}` : r.name]));
  }
}

const NO_DEEPER: UsageBreakdownSource = {
  async breakdown() {
    throw AppError.badInput('breakdown is available on the buckets of usage only, one level deep');
  },
};

/** Shared by the buckets of one `usage` answer: each second-level grouping is queried once. */
class BreakdownMemo implements UsageBreakdownSource {
  private readonly computed = new Map<UsageGroupBy, Promise<Map<string | null, UsageBucketNode[]>>>();

  constructor(
    private readonly service: UsageService,
    private readonly scope: RequestScope,
    private readonly window: UsageWindow,
    private readonly groupBy: UsageGroupBy,
  ) {}

  async breakdown(parentKey: string | null, thenBy: UsageGroupBy): Promise<UsageBucketNode[]> {
    let level = this.computed.get(thenBy);
    if (!level) {
      level = this.service.levels(this.scope, this.window, this.groupBy, thenBy, this);
      this.computed.set(thenBy, level);
    }
    return (await level).get(parentKey) ?? [];
  }
}

function byKey(a: UsageBucketNode, b: UsageBucketNode): number {
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

function byUnitsThenLabel(a: UsageBucketNode, b: UsageBucketNode): number {
  return b.computeUnits - a.computeUnits || b.deviceSeconds - a.deviceSeconds || a.label.localeCompare(b.label);
}
