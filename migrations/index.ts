// In order. TypeORM records each by name in the `migrations` table.
import { CreateRolesAndTenancy1764403200000 } from './1764403200000-create-roles-and-tenancy';
import { CreateDatasets1764489600000 } from './1764489600000-create-datasets';
import { CreateRateLimit1764576000000 } from './1764576000000-create-rate-limit';
import { CreateModels1764662400000 } from './1764662400000-create-models';
import { CreateQuotaLedger1764748800000 } from './1764748800000-create-quota-ledger';
import { CreateJobs1764835200000 } from './1764835200000-create-jobs';
import { CreateUsageIndexes1764921600000 } from './1764921600000-create-usage-indexes';
import { HardenDefinerFunctions1765008000000 } from './1765008000000-harden-definer-functions';
import { HotPathFunctions1765094400000 } from './1765094400000-hot-path-functions';
import { CreateInferenceWorkers1765180800000 } from './1765180800000-create-inference-workers';
import { QuotaHolds1765440000000 } from './1765440000000-quota-holds';
import { DropSupersededHotPathFunctions1765612800000 } from './1765612800000-drop-superseded-hot-path-functions';
import { CatalogChangeNotices1765353600000 } from './1765353600000-catalog-change-notices';
import { RateLimitLeases1765267200000 } from './1765267200000-rate-limit-leases';
import { ReadableBlobFunction1765699200000 } from './1765699200000-readable-blob-function';
import { ReadableBlobOwner1765785600000 } from './1765785600000-readable-blob-owner';

export const MIGRATIONS = [CreateRolesAndTenancy1764403200000, CreateDatasets1764489600000, CreateRateLimit1764576000000, CreateModels1764662400000, CreateQuotaLedger1764748800000, CreateJobs1764835200000, CreateUsageIndexes1764921600000, HardenDefinerFunctions1765008000000,
  HotPathFunctions1765094400000, CreateInferenceWorkers1765180800000, RateLimitLeases1765267200000,
  CatalogChangeNotices1765353600000, QuotaHolds1765440000000, DropSupersededHotPathFunctions1765612800000,
  ReadableBlobFunction1765699200000, ReadableBlobOwner1765785600000];
