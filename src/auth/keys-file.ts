/**
 * The API keys file (API_KEYS_FILE): JSON, written by `npm run keys` and read by every
 * collector process. It never holds a secret, only SHA-256 digests (src/auth/secret.ts).
 *
 *   {
 *     "version": 1,
 *     "keys": [
 *       { "id": "k3j…", "tenants": ["tenant-a"], "sha256": "<hex>", "created_at": "…",
 *         "description": "web app", "revoked_at": null }
 *     ],
 *     "quotas": { "tenant-a": { "events_per_second": 500, "bytes_per_second": 0, "burst_seconds": 1 } }
 *   }
 *
 * "tenants": ["*"] lets a key write every tenant (an internal relay). "quotas" is optional
 * here and may live in TENANT_QUOTAS_FILE instead (src/quota/policy.ts reads it).
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { isKeyId } from './secret.js';
import { InternalError } from '../errors.js';

export interface KeyRecord {
  id: string;
  tenants: string[];
  /** hex SHA-256 of the whole key */
  sha256: string;
  created_at: string;
  description?: string;
  revoked_at?: string | null;
}

export interface KeysFile {
  version: 1;
  keys: KeyRecord[];
  quotas?: Record<string, unknown>;
}

export class KeysFileError extends InternalError {
  override readonly name = 'KeysFileError';
  constructor(message: string) {
    super('COLLECTOR_ERR_KEYS_FILE', message);
  }
}

const HEX64 = /^[0-9a-f]{64}$/;

/** Parses and checks the whole file: a file with one bad record is refused whole (the last good one stays in force). */
export function parseKeysFile(text: string, where = 'API_KEYS_FILE'): KeysFile {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new KeysFileError(`${where}: not JSON (${(err as Error).message})`);
  }
  const o = raw as Partial<KeysFile>;
  if (typeof o !== 'object' || o === null || o.version !== 1 || !Array.isArray(o.keys)) {
    throw new KeysFileError(`${where}: expected {"version": 1, "keys": [...]}`);
  }
  const seen = new Set<string>();
  o.keys.forEach((k, i) => {
    const at = `${where}: keys[${i}]`;
    if (typeof k !== 'object' || k === null) throw new KeysFileError(`${at} is not an object`);
    if (typeof k.id !== 'string' || !isKeyId(k.id)) throw new KeysFileError(`${at}.id must be 4–32 letters or digits`);
    if (seen.has(k.id)) throw new KeysFileError(`${at}.id '${k.id}' appears twice`);
    seen.add(k.id);
    if (!Array.isArray(k.tenants) || k.tenants.length === 0 || !k.tenants.every((t) => typeof t === 'string' && t.length > 0)) {
      throw new KeysFileError(`${at}.tenants must be a non-empty array of tenant ids (or ["*"])`);
    }
    if (typeof k.sha256 !== 'string' || !HEX64.test(k.sha256)) throw new KeysFileError(`${at}.sha256 must be 64 lowercase hex digits`);
    if (k.revoked_at !== undefined && k.revoked_at !== null && typeof k.revoked_at !== 'string') {
      throw new KeysFileError(`${at}.revoked_at must be a timestamp or null`);
    }
  });
  if (o.quotas !== undefined && (typeof o.quotas !== 'object' || o.quotas === null || Array.isArray(o.quotas))) {
    throw new KeysFileError(`${where}: quotas must be an object of tenant → quota`);
  }
  return o as KeysFile;
}

export function readKeysFile(path: string): KeysFile {
  return parseKeysFile(readFileSync(path, 'utf8'), path);
}

/** Written to a temporary file and renamed: a reader sees the old file or the new one, never half of one. */
export function writeKeysFile(path: string, file: KeysFile): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp.${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(file, null, 2)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}
