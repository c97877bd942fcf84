// The contract's demo data (contract/README.md, Demo data), seeded once on an empty database in
// all-in-one mode. Users come from the realm file with their fixed ids, so the memberships
// below match whoever signs in through the embedded realm or a Keycloak that imported the file.
import fs from 'node:fs';
import { TenantRole } from '../entities';
import { seedDemoDatasets } from '../resolvers/datasets/demo-datasets';
import type { BlobsService } from '../resolvers/blobs/blobs.service';
import { seedDemoModels } from '../resolvers/models/demo-models';
import type { InferenceRuntime } from '../model-runtime/runtime/inference-runtime';
import { QuotaLedger, periodOf, toMilli } from '../tenants/quota-ledger';
import type { TenantDatabase } from '../tenants/tenant-database';

export const DEMO_TENANTS = [
  { slug: 'casia', name: 'CAS Institute of Automation' },
  { slug: 'whu', name: 'Wuhan University' },
  { slug: 'iqiyi', name: 'iQIYI' },
] as const;

export const DEMO_MEMBERSHIPS: { username: string; slug: string; role: TenantRole }[] = [
  { username: 'alice', slug: 'casia', role: TenantRole.OWNER },
  { username: 'dave', slug: 'casia', role: TenantRole.MEMBER },
  { username: 'bob', slug: 'whu', role: TenantRole.OWNER },
  { username: 'erin', slug: 'whu', role: TenantRole.VIEWER },
  { username: 'carol', slug: 'iqiyi', role: TenantRole.OWNER },
];

/** Monthly budgets and cluster shares of the demo tenants (compute units, devices, weight). */
export const DEMO_QUOTAS: Record<string, { budgetUnits: number; guaranteed: number; borrow: number; weight: number }> = {
  casia: { budgetUnits: 10_000, guaranteed: 1, borrow: 2, weight: 2 },
  whu: { budgetUnits: 5_000, guaranteed: 1, borrow: 2, weight: 1 },
  iqiyi: { budgetUnits: 5_000, guaranteed: 1, borrow: 2, weight: 1 },
};

interface RealmUser {
  id?: string;
  username: string;
}

/** Seeds when no tenant exists yet; returns whether it did. */
export async function seedDemoData(db: TenantDatabase, realmFile: string): Promise<boolean> {
  const realm = JSON.parse(fs.readFileSync(realmFile, 'utf8')) as { users?: RealmUser[] };
  const users = (realm.users ?? []).filter((u): u is Required<RealmUser> => Boolean(u.id));
  return db.withSystem('seed the demo tenants and users of all-in-one mode', async (em) => {
    const [{ count }] = await em.query('SELECT count(*)::int AS count FROM tenant');
    if (count > 0) return false;
    for (const user of users) {
      await em.query(
        `INSERT INTO app_user (subject, username) VALUES ($1, $2) ON CONFLICT (subject) DO NOTHING`,
        [user.id, user.username],
      );
    }
    for (const tenant of DEMO_TENANTS) {
      await em.query('INSERT INTO tenant (slug, name) VALUES ($1, $2)', [tenant.slug, tenant.name]);
    }
    const ledger = new QuotaLedger();
    for (const [slug, q] of Object.entries(DEMO_QUOTAS)) {
      const [{ id }] = await em.query(
        `INSERT INTO quota_policy (tenant_id, budget_milli, guaranteed_devices, borrow_limit_devices, weight)
         SELECT id, $2, $3, $4, $5 FROM tenant WHERE slug = $1 RETURNING tenant_id AS id`,
        [slug, toMilli(q.budgetUnits), q.guaranteed, q.borrow, q.weight],
      );
      await ledger.ensureBalance(em, id, periodOf());
    }
    for (const m of DEMO_MEMBERSHIPS) {
      await em.query(
        `INSERT INTO membership (tenant_id, user_id, role)
         SELECT t.id, u.id, $3::tenant_role FROM tenant t, app_user u WHERE t.slug = $1 AND u.username = $2`,
        [m.slug, m.username, m.role],
      );
    }
    await seedDemoDatasets(em);
    return true;
  });
}

/**
 * The demo model catalogue (paddleocr-ch, silero-vad with endpoints of the same names). Separate
 * from seedDemoData because it needs the blob store (the files are stored as casia's uploads),
 * and idempotent, so a database seeded before the registry existed gets the models too.
 * The endpoints are left DEPLOYING: start-up deploys them with every other serving endpoint.
 */
export function seedDemoCatalog(db: TenantDatabase, blobs: BlobsService, runtime: InferenceRuntime): Promise<string[]> {
  return seedDemoModels(db, blobs, runtime);
}
