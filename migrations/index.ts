// In order. TypeORM records each by name in the `migrations` table.
import { CreateRolesAndTenancy1764403200000 } from './1764403200000-create-roles-and-tenancy';

export const MIGRATIONS = [CreateRolesAndTenancy1764403200000];
