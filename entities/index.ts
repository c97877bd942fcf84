// Every entity the DataSource knows. Data shape only: behaviour lives in services.
import { AccessRequest } from './access-request.entity';
import { AuditEvent } from './audit-event.entity';
import { Blob } from './blob.entity';
import { Dataset } from './dataset.entity';
import { DatasetGrant } from './dataset-grant.entity';
import { DatasetItem } from './dataset-item.entity';
import { DatasetVersion } from './dataset-version.entity';
import { Device, FairShareUsage, Job, JobEvent, JobResult, JobShard } from './job.entity';
import { InferenceWorker } from './inference-worker.entity';
import { Membership } from './membership.entity';
import { Model, ModelGrant } from './model.entity';
import { ModelVersion } from './model-version.entity';
import { Endpoint } from './endpoint.entity';
import { UsageRecord } from './usage-record.entity';
import { UsageDay, UsageRollup } from './usage-day.entity';
import { RateLimitSetting } from './rate-limit-setting.entity';
import { RateLimitUsage } from './rate-limit-usage.entity';
import { LedgerEntry, QuotaBalance, QuotaHold, QuotaPolicy } from './quota.entity';
import { Tenant } from './tenant.entity';
import { User } from './user.entity';

export { AuditEvent, Membership, Tenant, User };
export { LedgerEntry, QuotaBalance, QuotaHold, QuotaPolicy };
export { Device, FairShareUsage, InferenceWorker, Job, JobEvent, JobResult, JobShard };
export { FINISHED_JOB_STATUSES, JobStatus, ShardStatus } from './job.entity';
export { LedgerKind } from './quota.entity';
export { TenantRole } from './membership.entity';
export { RateLimitSetting, RateLimitUsage };
export type { RateLimitSubjectType } from './rate-limit-usage.entity';
export { AccessRequest, Blob, Dataset, DatasetGrant, DatasetItem, DatasetVersion };
export { Modality, Visibility } from './dataset.entity';
export { AccessRequestStatus } from './access-request.entity';
export { Endpoint, Model, ModelGrant, ModelVersion, UsageRecord };
export { UsageDay, UsageRollup };
export { EndpointStatus } from './endpoint.entity';
export type { TensorSignatureEntry } from './model-version.entity';

export const ENTITIES = [Device, InferenceWorker, Job, JobShard, JobResult, JobEvent, FairShareUsage, Tenant, User, Membership, AuditEvent, QuotaPolicy, LedgerEntry, QuotaBalance, QuotaHold, Blob, Dataset, DatasetVersion, DatasetItem, DatasetGrant, AccessRequest, RateLimitSetting, RateLimitUsage, Model, ModelVersion, ModelGrant, Endpoint, UsageRecord, UsageDay, UsageRollup];
