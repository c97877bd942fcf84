// What a response may contain for the tenant that asked, checked on every response of the load
// run. Own objects always; of another tenant's, only what the contract lets through: its
// ALLIANCE datasets and the SHARED ones granted to the caller (from the seeded truth), and of
// those only published versions and no grants. Jobs, quota and created datasets are own only.
import type { TenantTruth } from '../../bench/harness/dashboard-seed';
import type { DashboardData } from '../../bench/harness/dashboard-queries';
import { fromGlobalId } from '../../core/global-id';

export type Violation = string;

function datasetUuid(globalId: string): string {
  return fromGlobalId(globalId, 'Dataset');
}

export function checkDashboard(truth: TenantTruth, data: DashboardData): Violation[] {
  const out: Violation[] = [];
  const me = truth.slug;
  if (data.tenant?.slug !== me) out.push(`tenant(slug: ${me}) answered ${JSON.stringify(data.tenant)}`);
  out.push(...checkQuota(truth, data.quota));
  for (const { node: d } of data.datasets.edges) {
    if (d.owner.slug === me) continue;
    if (!truth.foreignReadableDatasetIds.has(datasetUuid(d.id))) out.push(`${me} saw ${d.owner.slug}'s ${d.visibility} dataset ${d.name}`);
    if (d.grants.length) out.push(`${me} saw ${d.grants.length} grants of ${d.owner.slug}'s dataset ${d.name}`);
    const drafts = d.versions.edges.filter((e) => !e.node.published);
    if (drafts.length) out.push(`${me} saw draft versions ${drafts.map((e) => e.node.version).join(',')} of ${d.owner.slug}'s dataset ${d.name}`);
  }
  out.push(...checkJobs(truth, data.jobs));
  return out;
}

export function checkQuota(truth: TenantTruth, quota: { tenant: { slug: string } } | null | undefined): Violation[] {
  return quota?.tenant.slug === truth.slug ? [] : [`${truth.slug} got the quota of ${quota?.tenant.slug ?? '(none)'}`];
}

export function checkJobs(truth: TenantTruth, jobs: { edges: { node: { id: string; tenant: { slug: string } } }[] } | null | undefined): Violation[] {
  if (!jobs) return [`${truth.slug} got no jobs connection`];
  return jobs.edges.filter((e) => e.node.tenant.slug !== truth.slug).map((e) => `${truth.slug} saw job ${e.node.id} of ${e.node.tenant.slug}`);
}

export function checkCreated(truth: TenantTruth, created: { owner: { slug: string }; name: string } | null | undefined): Violation[] {
  return created?.owner.slug === truth.slug ? [] : [`${truth.slug} created a dataset owned by ${created?.owner.slug ?? '(none)'}`];
}
