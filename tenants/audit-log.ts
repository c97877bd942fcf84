// Who did what to which object, appended in the same transaction as the change itself, so an
// audited change and its record commit or roll back together.
import type { EntityManager } from 'typeorm';
import type { RequestScope } from './request-scope';

export interface AuditTarget {
  type: string;
  id: string;
}

export class AuditLog {
  async record(
    em: EntityManager,
    scope: RequestScope | null,
    tenantId: string,
    action: string,
    target: AuditTarget | null,
    details: Record<string, unknown> = {},
  ): Promise<void> {
    await em.query(
      `INSERT INTO audit_event (tenant_id, actor_user_id, action, target_type, target_id, details)
       VALUES ($1, $2, $3, $4, $5, $6)`,
      [tenantId, scope?.user.id ?? null, action, target?.type ?? null, target?.id ?? null, JSON.stringify(details)],
    );
  }
}
