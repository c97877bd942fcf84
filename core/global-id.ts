// Relay global ids: opaque base64url of "Type:uuid". Decoding checks the type, so an id of one
// kind passed where another is expected is "not found" rather than a confusing cross-type hit.
import { AppError } from './app-error';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

export function toGlobalId(type: string, id: string): string {
  return Buffer.from(`${type}:${id}`, 'utf8').toString('base64url');
}

export function parseGlobalId(globalId: string): { type: string; id: string } | null {
  if (typeof globalId !== 'string' || globalId.length === 0 || globalId.length > 200) return null;
  if (!/^[A-Za-z0-9_-]+={0,2}$/.test(globalId)) return null;
  const decoded = Buffer.from(globalId, 'base64url').toString('utf8');
  const sep = decoded.indexOf(':');
  if (sep <= 0) return null;
  const type = decoded.slice(0, sep);
  const id = decoded.slice(sep + 1);
  if (!/^[A-Za-z]+$/.test(type) || !UUID.test(id)) return null;
  return { type, id };
}

/** The uuid behind a global id of the expected type; a malformed id is BAD_USER_INPUT. */
export function fromGlobalId(globalId: string, expectedType: string): string {
  const parsed = parseGlobalId(globalId);
  if (!parsed) throw AppError.badInput(`"${String(globalId).slice(0, 60)}" is not a valid ${expectedType} id`);
  if (parsed.type !== expectedType) throw AppError.notFound(expectedType, globalId);
  return parsed.id;
}
