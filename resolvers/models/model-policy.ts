// Who may change a model, in one place. Reads are row-level security's job (own, ALLIANCE,
// SHARED with a live grant: migrations/1764662400000-create-models.ts), so an invisible model
// and a missing one are the same NOT_FOUND; a visible model of another tenant is FORBIDDEN to
// change.
import type { EntityManager } from 'typeorm';
import { AppError } from '../../core/app-error';
import { Model } from '../../entities';
import type { TenantMembershipRef } from '../../tenants/request-scope';

// Printable text: no control characters (they break terminals, logs and the CLI's name lookup).
export const CONTROL = /[\u0000-\u001f\u007f]/;

/** The model, if visible and owned by the acting tenant. */
export async function modelForWrite(
  em: EntityManager, tenant: TenantMembershipRef, id: string, globalId: string, action: string,
): Promise<Model> {
  const model = await em.findOneBy(Model, { id });
  if (!model) throw AppError.notFound('model', globalId);
  if (model.tenantId !== tenant.tenantId) {
    throw AppError.forbidden(`${action}: model "${model.name}" belongs to another tenant; only its owner can change it`);
  }
  return model;
}

/** Top-level config keys a handler would read as server file paths (OCR's recModelPath, keysPath). */
const FILE_PATH_KEY = /path$/i;
/** The handlers' resource bounds (maxPixels, maxImageBytes, maxSeconds, maxElements, …). */
const RESOURCE_LIMIT_KEY = /^max[A-Z]/;
const MAX_CONFIG_BYTES = 64 * 1024;

/**
 * A handler config as members may set it: a JSON object of bounded size, without file paths —
 * those are server-side settings, and a member-chosen path would make the server read (and, as
 * OCR keys, echo back) files of its own filesystem — and without resource bounds, which protect
 * the process every tenant's requests share (a raised maxPixels admits decompression bombs).
 */
export function memberHandlerConfig(config: unknown): Record<string, unknown> {
  if (config === undefined || config === null) return {};
  if (typeof config !== 'object' || Array.isArray(config)) throw AppError.badInput('config must be a JSON object');
  const size = Buffer.byteLength(JSON.stringify(config));
  if (size > MAX_CONFIG_BYTES) throw AppError.badInput(`config is ${size} bytes; the limit is ${MAX_CONFIG_BYTES}`);
  const paths = Object.keys(config).filter((key) => FILE_PATH_KEY.test(key));
  if (paths.length) {
    throw AppError.badInput(`config may not set file paths (${paths.join(', ')}): the platform's bundled assets are used`);
  }
  const limits = Object.keys(config).filter((key) => RESOURCE_LIMIT_KEY.test(key));
  if (limits.length) {
    throw AppError.badInput(`config may not set resource limits (${limits.join(', ')}): they are the platform's, shared by every tenant`);
  }
  return config as Record<string, unknown>;
}
