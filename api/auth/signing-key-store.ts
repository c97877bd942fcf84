import { randomBytes } from 'node:crypto';
import { chmod, link, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';

/**
 * RS256 signing keys of the embedded development realm, persisted so tokens survive a restart
 * and every process sharing `keyDir` signs with the same key. The newest key signs; older keys
 * stay in the JWKS so tokens they signed keep verifying until they expire (Keycloak's rotation
 * model: add a key, make it active, retire the old one later).
 */
export interface SigningKeyStore {
  /** The key new tokens are signed with. */
  active(): SigningKey;
  /** Public halves of every key, as served on the JWKS endpoint. */
  publicJwks(): { keys: JWK[] };
  rotate(): Promise<void>;
}

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
}

interface StoredKey {
  kid: string;
  createdAt: string;
  privateJwk: JWK;
}

const KEY_FILE = 'realm-signing-keys.json';
const ALGORITHM = 'RS256';
// Only the public members of an RSA JWK; anything else (d, p, q, dp, dq, qi) is private.
const PUBLIC_RSA_MEMBERS = ['kty', 'n', 'e'] as const;

export async function openSigningKeyStore(keyDir: string): Promise<SigningKeyStore> {
  // 0700: the directory holds a private key; other local users must not even list it.
  await mkdir(keyDir, { recursive: true, mode: 0o700 });
  const file = join(keyDir, KEY_FILE);
  let stored = await readKeys(file);
  if (stored.length === 0) stored = await createFirstKey(file);
  let loaded = await Promise.all(stored.map(loadKey));

  return {
    active: () => loaded[loaded.length - 1],
    publicJwks: () => ({ keys: stored.map(publicJwk) }),
    async rotate() {
      const next = [...stored, await generateStoredKey()];
      await writeAtomically(file, next);
      stored = next;
      loaded = await Promise.all(stored.map(loadKey));
    },
  };
}

async function readKeys(file: string): Promise<StoredKey[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
  // A key file copied around with a permissive umask would leak the realm's private key.
  await chmod(file, 0o600);
  const parsed = JSON.parse(text) as { keys?: StoredKey[] };
  if (!Array.isArray(parsed.keys) || parsed.keys.length === 0) throw new Error(`${file} holds no signing keys`);
  return parsed.keys;
}

async function createFirstKey(file: string): Promise<StoredKey[]> {
  const keys = [await generateStoredKey()];
  const temp = tempName(file);
  await writeFile(temp, serialise(keys), { mode: 0o600, flag: 'wx' });
  try {
    // link() fails if another process created the file meanwhile: first writer wins, and
    // every process ends up signing with the same key instead of silently diverging.
    await link(temp, file);
    return keys;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    return readKeys(file);
  } finally {
    await rm(temp, { force: true });
  }
}

async function writeAtomically(file: string, keys: StoredKey[]): Promise<void> {
  const temp = tempName(file);
  await writeFile(temp, serialise(keys), { mode: 0o600, flag: 'wx' });
  // rename() is atomic: a crash leaves either the old or the new key set, never half a file.
  await rename(temp, file);
}

async function generateStoredKey(): Promise<StoredKey> {
  const { privateKey } = await generateKeyPair(ALGORITHM, { modulusLength: 2048, extractable: true });
  const privateJwk = await exportJWK(privateKey);
  // RFC 7638 thumbprint: a kid derived from the key itself cannot collide with another key's.
  const kid = await calculateJwkThumbprint(privateJwk);
  return { kid, createdAt: new Date().toISOString(), privateJwk };
}

async function loadKey(stored: StoredKey): Promise<SigningKey> {
  const privateKey = (await importJWK(stored.privateJwk, ALGORITHM)) as CryptoKey;
  return { kid: stored.kid, privateKey };
}

function publicJwk(stored: StoredKey): JWK {
  const jwk: JWK = { kid: stored.kid, use: 'sig', alg: ALGORITHM };
  for (const member of PUBLIC_RSA_MEMBERS) jwk[member] = stored.privateJwk[member];
  return jwk;
}

function serialise(keys: StoredKey[]): string {
  return JSON.stringify({ keys }, null, 2) + '\n';
}

function tempName(file: string): string {
  return `${file}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
}
