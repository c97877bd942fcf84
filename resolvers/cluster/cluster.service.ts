// The shared cluster as members and operators see it: live devices (heartbeat within the
// timeout), which are busy, and the queue. Counts of jobs cover the caller's tenant for members
// and every tenant for alliance admins — row-level security decides, the query is the same.
import type { JobsConfig } from '../../core/config';
import type { RequestScope } from '../../tenants/request-scope';
import type { TenantDatabase } from '../../tenants/tenant-database';
import { ClusterNode, DeviceNode } from './cluster.types';

export class ClusterService {
  constructor(
    private readonly db: TenantDatabase,
    private readonly jobs: Pick<JobsConfig, 'deviceTimeoutSeconds'>,
  ) {}

  async view(scope: RequestScope): Promise<ClusterNode> {
    return this.db.withTenant(scope, async (em) => {
      const devices: { id: string; node: string; kind: string; last_heartbeat_at: Date; busy: boolean }[] = await em.query(
        `SELECT d.id, d.node, d.kind, d.last_heartbeat_at,
                EXISTS (SELECT 1 FROM cluster_busy_devices() b WHERE b = d.id) AS busy
           FROM device d WHERE d.last_heartbeat_at > now() - make_interval(secs => $1) ORDER BY d.node, d.kind, d.slot`,
        [this.jobs.deviceTimeoutSeconds]);
      const [counts]: { pending: number; running: number }[] = await em.query(
        `SELECT count(*) FILTER (WHERE status IN ('PENDING', 'QUEUED'))::int AS pending,
                count(*) FILTER (WHERE status = 'RUNNING')::int AS running FROM job`);
      const queues: { slug: string; pending: number; running: number }[] = await em.query(
        `SELECT t.slug, count(DISTINCT j.id) FILTER (WHERE j.status IN ('PENDING', 'QUEUED'))::int AS pending,
                count(s.id) FILTER (WHERE s.status IN ('DISPATCHED', 'RUNNING'))::int AS running
           FROM job j JOIN tenant t ON t.id = j.tenant_id LEFT JOIN job_shard s ON s.job_id = j.id
          WHERE j.status IN ('PENDING', 'QUEUED', 'RUNNING') GROUP BY t.slug ORDER BY t.slug`);
      const busy = devices.filter((d) => d.busy).length;
      return Object.assign(new ClusterNode(), {
        devices: devices.map((d) => Object.assign(new DeviceNode(), { id: d.id, node: d.node, kind: d.kind, busy: d.busy, lastHeartbeatAt: d.last_heartbeat_at })),
        pendingJobs: counts.pending,
        runningJobs: counts.running,
        utilization: devices.length ? busy / devices.length : 0,
        queues: queues.map((q) => ({ tenantSlug: q.slug, pendingJobs: q.pending, runningDevices: q.running })),
      });
    });
  }
}
