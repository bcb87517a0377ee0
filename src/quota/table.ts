/**
 * Token buckets shared by every collector process of a host (native/quota: a small table in
 * a shared-memory file, one lock word; see native/quota/README.md). This module only loads
 * the addon and wraps it; the policy (which tenant gets what) is src/quota/policy.ts.
 */
import { loadNativeAddon, sharedMemoryPath } from '../native-addon.js';

interface NativeQuota {
  open(path: string, slots: number): object;
  take(handle: object, keys: BigUint64Array, params: Float64Array, nowUs?: number): number;
  stats(handle: object): QuotaStats;
  close(handle: object): void;
}

/**
 * Values per key in `params`: events/s, event burst, bytes/s, byte burst, events needed, bytes needed, and flags
 * (PINNED: the tenant has a quota of its own, so it never shares the overflow bucket).
 */
export const PARAMS_PER_KEY = 7;
export const PINNED = 1;
export const TAKE_NEVER = -1;

/** /dev/shm/event-collector-<name>.quota (os tmpdir when there is no /dev/shm). */
export function defaultQuotaPath(name: string | number): string {
  return sharedMemoryPath(name, 'quota');
}

export interface QuotaStats {
  slots: number;
  used: number;
  lockSteals: number;
  /** slots handed to another tenant once their buckets were full again (idle) */
  reclaimed: number;
  /** takes of a tenant with a quota of its own that had to evict another tenant's live slot */
  evicted: number;
  /** takes that fell to the shared overflow bucket (no slot free, none idle) */
  overflowed: number;
}

export class QuotaTable {
  readonly #addon: NativeQuota;
  #handle: object | null;

  private constructor(addon: NativeQuota, handle: object, readonly path: string) {
    this.#addon = addon;
    this.#handle = handle;
  }

  /** Attach to (or create) the table at path; every process of a host must use the same slots. */
  static open(path: string, slots = 4096): QuotaTable {
    const addon = loadNativeAddon<NativeQuota>('quota', import.meta.url);
    return new QuotaTable(addon, addon.open(path, slots), path);
  }

  /**
   * All or nothing, atomically across processes: 0 when every key's buckets had room and were
   * debited; otherwise nothing is debited and the answer is the ms until the whole request would
   * fit, or TAKE_NEVER when some need exceeds its burst. `nowUs` (CLOCK_MONOTONIC µs by default)
   * is for tests.
   */
  take(keys: BigUint64Array, params: Float64Array, nowUs?: number): number {
    if (this.#handle === null) throw new Error('quota: the table is closed');
    return nowUs === undefined ? this.#addon.take(this.#handle, keys, params) : this.#addon.take(this.#handle, keys, params, nowUs);
  }

  stats(): QuotaStats {
    if (this.#handle === null) throw new Error('quota: the table is closed');
    return this.#addon.stats(this.#handle);
  }

  close(): void {
    if (this.#handle === null) return;
    this.#addon.close(this.#handle);
    this.#handle = null;
  }
}
