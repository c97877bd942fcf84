import { AppError } from '../../core/app-error';
import type { TenantMembershipRef } from '../../tenants/request-scope';

export const MAX_PURPOSE = 500;

export interface GrantTerms {
  /** The grantee tenant's slug. */
  slug: string;
  purpose: string | null;
  expiresAt: Date | null;
}

/**
 * The checks every share (shareDataset, shareModel) makes of its input before touching the
 * database: not to one's own tenant, a purpose of bounded length, an expiry in the future.
 * `noun` names the object in messages ("dataset", "model").
 */
export function grantTerms(
  owner: TenantMembershipRef, noun: string, input: { tenantSlug: string; purpose?: string | null; expiresAt?: Date | null },
): GrantTerms {
  const slug = input.tenantSlug.trim();
  const purpose = input.purpose?.trim() || null;
  const expiresAt = input.expiresAt ?? null;
  if (slug === owner.slug) throw AppError.badInput(`a ${noun} cannot be shared with its own tenant (${slug})`);
  if (purpose && purpose.length > MAX_PURPOSE) throw AppError.badInput(`purpose must be at most ${MAX_PURPOSE} characters`);
  if (expiresAt && expiresAt.getTime() <= Date.now()) {
    throw AppError.badInput(`expiresAt ${expiresAt.toISOString()} is in the past; a grant must expire in the future`);
  }
  return { slug, purpose, expiresAt };
}
