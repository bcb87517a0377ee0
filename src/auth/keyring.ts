/**
 * Who is writing: a presented API key string → the principal (key id and the tenants it
 * may write), or why not. Transport-agnostic on purpose: the HTTP edge passes the
 * Authorization / x-api-key header, a gRPC ingress passes call metadata, both get the same
 * answer. The keys come from API_KEYS_FILE and are swapped whole when the file changes
 * (src/auth/reload.ts), so a revoked key stops working within one poll in every process.
 */
import { parseKeysFile, type KeysFile } from './keys-file.js';
import { keyIdOf, keyMatches, type DigestEqual } from './secret.js';
import type { AuthRefusalReason } from '../errors.js';

export interface Principal {
  keyId: string;
  /** the tenants this key may write; null = any tenant ("*") */
  tenants: readonly string[] | null;
}

export type Verdict =
  | { ok: true; principal: Principal }
  | { ok: false; reason: AuthRefusalReason };

interface Entry {
  digest: Buffer;
  revoked: boolean;
  principal: Principal;
}

/** Longest header value looked at: a real key is ~60 characters; a megabyte of header is not hashed. */
const MAX_PRESENTED = 512;

export class Keyring {
  #entries = new Map<string, Entry>();
  #tenants = new Set<string>();
  #version = 0;

  constructor(file?: KeysFile) {
    if (file) this.replace(file);
  }

  static fromText(text: string, where?: string): Keyring {
    return new Keyring(parseKeysFile(text, where));
  }

  /** Swap in a new file's keys at once (a request sees the old set or the new one). */
  replace(file: KeysFile): void {
    const entries = new Map<string, Entry>();
    const tenants = new Set<string>();
    for (const k of file.keys) {
      const any = k.tenants.includes('*');
      if (!any) for (const t of k.tenants) tenants.add(t);
      entries.set(k.id, {
        digest: Buffer.from(k.sha256, 'hex'),
        revoked: k.revoked_at !== undefined && k.revoked_at !== null,
        principal: { keyId: k.id, tenants: any ? null : Object.freeze([...k.tenants]) },
      });
    }
    this.#entries = entries;
    this.#tenants = tenants;
    this.#version++;
  }

  /** How many times the keys were (re)loaded. */
  get version(): number {
    return this.#version;
  }

  get size(): { keys: number; revoked: number } {
    let revoked = 0;
    for (const e of this.#entries.values()) if (e.revoked) revoked++;
    return { keys: this.#entries.size, revoked };
  }

  /** Tenants named by some key (for bounded metric labels). */
  get tenants(): ReadonlySet<string> {
    return this.#tenants;
  }

  /**
   * The verdict on a presented key (undefined or '' when none was sent). "revoked" is only
   * told once the secret matched: a guesser cannot learn which ids exist or are revoked.
   */
  verify(presented: string | undefined, equal?: DigestEqual): Verdict {
    if (presented === undefined || presented === '') return { ok: false, reason: 'missing' };
    const key = presented.length > MAX_PRESENTED ? presented.slice(0, MAX_PRESENTED) : presented;
    const id = keyIdOf(key);
    const entry = id === null ? undefined : this.#entries.get(id);
    if (!keyMatches(key, entry?.digest ?? null, equal) || !entry) return { ok: false, reason: 'unknown' };
    if (entry.revoked) return { ok: false, reason: 'revoked' };
    return { ok: true, principal: entry.principal };
  }
}
