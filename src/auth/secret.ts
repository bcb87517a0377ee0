/**
 * API key secrets: how they are made, stored and compared.
 *
 * A key is `evc_<id>_<secret>`: the id (not secret) finds the record in O(1), the secret is
 * 32 random bytes (256 bits, base64url). The keys file stores only SHA-256 of the whole key.
 * Why a fast hash and not a password KDF (scrypt, argon2): a KDF exists to slow down guessing
 * of low-entropy human passwords; these secrets are generated with 256 bits of entropy, so
 * guessing one from its digest is infeasible at any hash speed, while a KDF would put
 * milliseconds of CPU on every request. GitHub's and Stripe's API tokens are stored the
 * same way.
 *
 * Comparison: the presented key is hashed first, so what is compared is always two 32-byte
 * digests, with crypto.timingSafeEqual — the time taken cannot depend on how many leading
 * characters of the presented key are right (or on its length). An unknown id is compared
 * against a fixed dummy digest, so it costs the same as a wrong secret.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const KEY_PREFIX = 'evc_';
const ID_RE = /^[A-Za-z0-9]{4,32}$/;

export type DigestEqual = (a: Buffer, b: Buffer) => boolean;

export function isKeyId(id: string): boolean {
  return ID_RE.test(id);
}

/** A new key id: 12 random alphanumerics. */
export function newKeyId(): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789';
  const bytes = randomBytes(12);
  let id = '';
  for (const b of bytes) id += alphabet[b % alphabet.length];
  return id;
}

/** A new key in clear text (shown once, never stored) for id. */
export function newKey(id: string): string {
  if (!isKeyId(id)) throw new Error(`key id must be 4–32 letters or digits, got '${id}'`);
  return `${KEY_PREFIX}${id}_${randomBytes(32).toString('base64url')}`;
}

/** What the keys file stores for a key. */
export function digestOf(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/** The id a presented key claims (null when it is not shaped like one of ours). Not a secret. */
export function keyIdOf(presented: string): string | null {
  if (!presented.startsWith(KEY_PREFIX)) return null;
  const end = presented.indexOf('_', KEY_PREFIX.length);
  if (end < 0) return null;
  const id = presented.slice(KEY_PREFIX.length, end);
  return isKeyId(id) ? id : null;
}

const DUMMY = digestOf('evc_dummy_never-a-key');

/**
 * Whether `presented` is the key whose digest is `stored` (null: no such key — compared
 * against a dummy so that the work done is the same). Always one SHA-256 and one
 * comparison of two 32-byte digests; `equal` is injectable only so a unit test can see it.
 */
export function keyMatches(presented: string, stored: Buffer | null, equal: DigestEqual = timingSafeEqual): boolean {
  const digest = digestOf(presented);
  const against = stored !== null && stored.length === digest.length ? stored : DUMMY;
  const same = equal(digest, against);
  return same && against !== DUMMY;
}
