// The load suite's checker must see a leak when there is one: a suite that cannot fail proves nothing.
import { toGlobalId } from '../../core/global-id';
import type { TenantTruth } from '../../bench/harness/dashboard-seed';
import type { DashboardData } from '../../bench/harness/dashboard-queries';
import { checkCreated, checkDashboard, checkJobs, checkQuota } from './tenant-isolation';

const ALLIANCE_ID = '00000000-0000-4000-8000-000000000001';
const PRIVATE_ID = '00000000-0000-4000-8000-000000000002';
const truth: TenantTruth = { slug: 'casia', tenantId: 't', foreignReadableDatasetIds: new Set([ALLIANCE_ID]), ownDatasets: 1, ownJobs: 1 };

function dataset(uuid: string, owner: string, extra: { grants?: number; draft?: boolean } = {}) {
  return { node: {
    id: toGlobalId('Dataset', uuid), name: `d-${uuid.slice(-1)}`, visibility: 'SHARED', owner: { slug: owner },
    versions: { edges: [{ node: { id: 'v1', version: 1, published: true } }, ...(extra.draft ? [{ node: { id: 'v2', version: 2, published: false } }] : [])] },
    grants: Array.from({ length: extra.grants ?? 0 }, (_, i) => ({ id: `g${i}`, grantee: { slug: 'whu' } })),
  } };
}

function dashboard(edges: ReturnType<typeof dataset>[], jobTenants: string[] = ['casia']): DashboardData {
  return {
    tenant: { id: 'x', slug: 'casia', name: 'CASIA' },
    quota: { tenant: { slug: 'casia' } },
    datasets: { pageInfo: { hasNextPage: false }, edges },
    jobs: { edges: jobTenants.map((slug, i) => ({ node: { id: `j${i}`, status: 'SUCCEEDED', tenant: { slug } } })) },
  };
}

describe('tenant isolation checks of the load suite', () => {
  it('accepts own objects, with their drafts and grants, and readable foreign datasets', () => {
    expect(checkDashboard(truth, dashboard([dataset(PRIVATE_ID, 'casia', { grants: 2, draft: true }), dataset(ALLIANCE_ID, 'iqiyi')]))).toEqual([]);
  });

  it('reports a foreign dataset the tenant may not read, and foreign grants and drafts', () => {
    expect(checkDashboard(truth, dashboard([dataset(PRIVATE_ID, 'whu')]))).toHaveLength(1);
    expect(checkDashboard(truth, dashboard([dataset(ALLIANCE_ID, 'iqiyi', { grants: 1 })]))).toHaveLength(1);
    expect(checkDashboard(truth, dashboard([dataset(ALLIANCE_ID, 'iqiyi', { draft: true })]))).toHaveLength(1);
  });

  it('reports foreign jobs, a foreign quota, another tenant and a dataset created elsewhere', () => {
    expect(checkDashboard(truth, dashboard([], ['casia', 'whu']))).toEqual(['casia saw job j1 of whu']);
    expect(checkJobs(truth, { edges: [{ node: { id: 'j', tenant: { slug: 'iqiyi' } } }] })).toHaveLength(1);
    expect(checkQuota(truth, { tenant: { slug: 'whu' } })).toHaveLength(1);
    expect(checkDashboard(truth, { ...dashboard([]), tenant: null })).toHaveLength(1);
    expect(checkCreated(truth, { name: 'n', owner: { slug: 'whu' } })).toHaveLength(1);
    expect(checkCreated(truth, { name: 'n', owner: { slug: 'casia' } })).toEqual([]);
  });
});
