// Every entity the DataSource knows. Data shape only: behaviour lives in services.
import { AuditEvent } from './audit-event.entity';
import { Membership } from './membership.entity';
import { Tenant } from './tenant.entity';
import { User } from './user.entity';

export { AuditEvent, Membership, Tenant, User };
export { TenantRole } from './membership.entity';

export const ENTITIES = [Tenant, User, Membership, AuditEvent];
