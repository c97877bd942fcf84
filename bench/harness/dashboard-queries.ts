// The operations a member's dashboard sends (issue 7's benchmark and load suite): one
// dashboard-shaped read — the tenant, its quota, a page of datasets with their versions and
// grants, a page of jobs — and the small reads and the light write around it. Every object that
// belongs to a tenant carries that tenant's slug in the selection, so a response can be checked
// for objects of another tenant (test/load/tenant-isolation.ts).

/** `first` sizes both pages (datasets and jobs); versions stay at 5 per dataset. */
export const DASHBOARD = `query Dashboard($slug: String!, $first: Int!) {
  tenant(slug: $slug) { id slug name }
  quota { period budgetUnits reservedUnits usedUnits availableUnits runningDevices tenant { slug } }
  datasets(first: $first) {
    pageInfo { hasNextPage endCursor }
    edges { node {
      id name visibility modality createdAt
      owner { slug }
      versions(first: 5) { pageInfo { hasNextPage } edges { node { id version published itemCount sizeBytes } } }
      grants { id expiresAt grantee { slug } }
    } }
  }
  jobs(first: $first) {
    pageInfo { hasNextPage endCursor }
    edges { node { id status createdAt finishedAt progress { done failed total } endpoint { name } tenant { slug } } }
  }
}`;

export const QUOTA = `query Quota { quota { period budgetUnits usedUnits availableUnits runningDevices tenant { slug } } }`;

export const JOBS = `query Jobs($first: Int!) {
  jobs(first: $first) { pageInfo { hasNextPage } edges { node { id status createdAt endpoint { name } tenant { slug } } } }
}`;

export const CREATE_DATASET = `mutation CreateDataset($input: CreateDatasetInput!) {
  createDataset(input: $input) { id name visibility owner { slug } }
}`;

export interface DashboardData {
  tenant: { id: string; slug: string; name: string } | null;
  quota: { tenant: { slug: string } };
  datasets: {
    pageInfo: { hasNextPage: boolean };
    edges: { node: {
      id: string; name: string; visibility: string; owner: { slug: string };
      versions: { edges: { node: { id: string; version: number; published: boolean } }[] };
      grants: { id: string; grantee: { slug: string } }[];
    } }[];
  };
  jobs: { edges: { node: { id: string; status: string; tenant: { slug: string } } }[] };
}
