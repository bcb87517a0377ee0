/**
 * Cross-process event_id dedup table: a fixed-size hash table in a shared-memory file
 * (default /dev/shm/event-collector-<name>.dedup) that every collector process on the
 * host maps. Implemented by the native addon in native/dedup (see its README for the
 * layout and the concurrency argument); this module only loads it and wraps it.
 *
 * Flow, plain mode (leaseMs = 0, the default):
 *   const r = table.claimBatch(ids)         // 1 = new: produce it; 0 = duplicate: ack, do not produce
 *   produce the new ones; on failure:  table.release(ids, r)   // the retry must be new again
 *
 * Flow, lease mode (leaseMs > 0, recommended): a claim first holds the id for leaseMs
 * only, as "in flight"; commit() after Kafka acknowledged turns it into a full-window
 * entry, release() after a failure drops it. A retry that arrives while the first copy
 * is still in flight gets 2 (CLAIM_IN_FLIGHT): answer it "retry later", not "ok" — the
 * first copy may still fail. If a process dies between claim and commit, its claims
 * lapse after leaseMs instead of blocking retries for the whole window.
 *
 * Memory is fixed at open: `capacity` slots of 26 bytes (+4 KiB header). When a bucket
 * (32 slots) is full of live entries the oldest one is overwritten (stats().evictions):
 * under overload the effective window shrinks; memory never grows.
 *
 * If the addon is not built or cannot load, open() throws DedupUnavailableError: there
 * is no silent fallback (a per-process Map would not deduplicate across processes).
 */
import { createRequire } from 'node:module';
import { loadNativeAddon, sharedMemoryPath } from '../native-addon.js';
import { statSync } from 'node:fs';
import { InternalError } from '../errors.js';

export const CLAIM_DUPLICATE = 0;
export const CLAIM_NEW = 1;
export const CLAIM_IN_FLIGHT = 2;

/** 10 minutes. */
export const DEFAULT_WINDOW_MS = 600_000;
/**
 * 4 Mi slots = 104 MiB file. Holds a 10-minute window at 2,000 events/s (1.2 M live
 * entries) at load factor 0.29, where a 32-slot bucket overflows with probability ~1e-9.
 * At higher rates size it with capacityFor().
 */
export const DEFAULT_CAPACITY = 4 * 1024 * 1024;
/** Bytes of file per slot (832-byte buckets of 32 slots). */
export const BYTES_PER_SLOT = 26;
export const HEADER_BYTES = 4096;

export interface DedupOpenOptions {
  /** File to map. Default: defaultDedupPath(name). Must be on a local FS; tmpfs (/dev/shm) is meant. */
  path?: string;
  /** Used in the default path when `path` is not given (e.g. the port). Default 'default'. */
  name?: string | number;
  /** Slots, a power of two in [32, 2^32]. Default DEFAULT_CAPACITY. */
  capacity?: number;
  /** How long a committed id is remembered. Default DEFAULT_WINDOW_MS. */
  windowMs?: number;
  /** 0 (default): claims are committed at once. > 0: claims are leases of this length until commit(). */
  leaseMs?: number;
  /** Override where the compiled addon is looked for (tests, unusual layouts). */
  addonPath?: string;
}

export interface DedupStats {
  path: string;
  capacity: number;
  fileBytes: number;
  windowMs: number;
  leaseMs: number;
  /** Slots looked at for the estimates below (a strided sample of buckets unless exact). */
  sampledSlots: number;
  liveEstimate: number;
  pendingEstimate: number;
  loadFactor: number;
  /** Counters of this process's handle since open(). */
  claims: number;
  fresh: number;
  duplicates: number;
  inFlight: number;
  commits: number;
  lateCommits: number;
  releases: number;
  /** Live entries overwritten because their bucket was full: the window is shrinking. */
  evictions: number;
  evictedPending: number;
  /** Age of the last / the youngest committed entry evicted (the effective window then); -1 if none. */
  lastEvictionAgeMs: number;
  minEvictionAgeMs: number;
  lockContended: number;
  lockSteals: number;
  createdAtMs: number;
}

/** Ids as strings (UUID text → its 128 bits, anything else → a 128-bit hash), or packed 16-byte keys. */
export type DedupIds = readonly string[] | Uint8Array;

interface NativeOpenResult {
  handle: object;
  created: boolean;
  recreatedReason: string | null;
  capacity: number;
  createdAtMs: number;
  fileBytes: number;
  dev: bigint;
  ino: bigint;
}

interface NativeAddon {
  open(path: string, capacity: number): NativeOpenResult;
  // ids may also be ids.join('\n') with count = ids.length: the fast path for UUID batches,
  // answering undefined (nothing done) when the text is not `count` canonical UUIDs.
  claim(
    h: object,
    ids: DedupIds | string,
    count: number,
    nowMs: number,
    windowMs: number,
    leaseMs: number,
  ): Uint8Array | undefined;
  commit(
    h: object,
    ids: DedupIds | string,
    count: number,
    nowMs: number,
    windowMs: number,
    mask?: Uint8Array,
  ): number | undefined;
  release(h: object, ids: DedupIds | string, count: number, nowMs: number, mask?: Uint8Array): number | undefined;
  stats(h: object, nowMs: number, maxBuckets: number): Omit<DedupStats, 'path' | 'windowMs' | 'leaseMs'>;
  close(h: object): void;
  keyOf(id: string): Buffer;
  layoutVersion: number;
  bucketSlots: number;
  bucketBytes: number;
}

export class DedupUnavailableError extends InternalError {
  override readonly name = 'DedupUnavailableError';
  constructor(message: string, options?: { cause?: unknown }) {
    super('COLLECTOR_ERR_DEDUP_UNAVAILABLE', message, options);
  }
}

/**
 * The dedup addon (src/native-addon.ts finds it), or the one at addonPath (tests); a missing, broken or
 * incompatible build is a DedupUnavailableError naming the fix, never a silent fallback.
 */
export function loadAddon(addonPath?: string): NativeAddon {
  let addon: NativeAddon;
  try {
    addon = addonPath === undefined ? loadNativeAddon<NativeAddon>('dedup', import.meta.url) : (createRequire(import.meta.url)(addonPath) as NativeAddon);
  } catch (err) {
    throw new DedupUnavailableError(
      `dedup: the native addon failed to load (${(err as Error).message}); build it with \`npm run build:native\` (needs g++, make, python3)`,
      { cause: err },
    );
  }
  if (typeof addon.claim !== 'function' || addon.layoutVersion !== 1) {
    throw new DedupUnavailableError(`dedup: ${addonPath ?? 'native/dedup'} is not a compatible dedup addon; rebuild it with \`npm run build:native\``);
  }
  return addon;
}

/** /dev/shm/event-collector-<name>.dedup (os tmpdir when there is no /dev/shm). */
export function defaultDedupPath(name: string | number = 'default'): string {
  return sharedMemoryPath(name, 'dedup');
}

/**
 * Smallest power-of-two capacity that holds `eventsPerSec × windowMs` ids at `loadFactor`
 * (0.3 keeps bucket overflow negligible; 0.5 is still fine, above 0.6 evictions start).
 */
export function capacityFor(eventsPerSec: number, windowMs: number, loadFactor = 0.3): number {
  if (!(eventsPerSec > 0) || !(windowMs > 0) || !(loadFactor > 0 && loadFactor <= 1)) {
    throw new RangeError('capacityFor: eventsPerSec, windowMs > 0 and 0 < loadFactor <= 1');
  }
  const need = Math.max(32, Math.ceil((eventsPerSec * windowMs) / 1000 / loadFactor));
  return 2 ** Math.ceil(Math.log2(need));
}

/** Bytes of the shared file for a capacity. */
export function fileBytesFor(capacity: number): number {
  return HEADER_BYTES + capacity * BYTES_PER_SLOT;
}

function checkMs(name: string, v: number, allowZero: boolean): void {
  if (!Number.isFinite(v) || v < (allowZero ? 0 : 1) || v >= 2 ** 52) {
    throw new RangeError(`dedup: ${name} must be a finite number of ms ${allowZero ? '>= 0' : '> 0'}`);
  }
}

export class DedupTable {
  readonly path: string;
  readonly capacity: number;
  readonly windowMs: number;
  readonly leaseMs: number;
  readonly fileBytes: number;
  /** Wall-clock ms when the shared file was initialised (by whichever process did it). */
  readonly createdAtMs: number;
  /** This open() created (or replaced) the file rather than attaching to a live one. */
  readonly created: boolean;
  /** Why an existing file was replaced (null when attached or created fresh). */
  readonly recreatedReason: string | null;
  readonly #addon: NativeAddon;
  readonly #dev: bigint;
  readonly #ino: bigint;
  #handle: object | null;

  private constructor(addon: NativeAddon, path: string, windowMs: number, leaseMs: number, r: NativeOpenResult) {
    this.#addon = addon;
    this.#handle = r.handle;
    this.path = path;
    this.capacity = r.capacity;
    this.windowMs = windowMs;
    this.leaseMs = leaseMs;
    this.fileBytes = r.fileBytes;
    this.createdAtMs = r.createdAtMs;
    this.created = r.created;
    this.recreatedReason = r.recreatedReason;
    this.#dev = r.dev;
    this.#ino = r.ino;
  }

  /** Open (attach to, create, or replace an incompatible) table. Throws DedupUnavailableError without the addon. */
  static open(opts: DedupOpenOptions = {}): DedupTable {
    const capacity = opts.capacity ?? DEFAULT_CAPACITY;
    const windowMs = opts.windowMs ?? DEFAULT_WINDOW_MS;
    const leaseMs = opts.leaseMs ?? 0;
    if (!Number.isInteger(capacity) || capacity < 32 || capacity > 2 ** 32 || !Number.isInteger(Math.log2(capacity))) {
      throw new RangeError(`dedup: capacity must be a power of two in [32, 2^32], got ${capacity}`);
    }
    checkMs('windowMs', windowMs, false);
    checkMs('leaseMs', leaseMs, true);
    const path = opts.path ?? defaultDedupPath(opts.name);
    const addon = loadAddon(opts.addonPath);
    return new DedupTable(addon, path, windowMs, leaseMs, addon.open(path, capacity));
  }

  /** The 16-byte key an id maps to (to build packed Uint8Array batches, or to test). */
  static keyOf(id: string, addonPath?: string): Buffer {
    return loadAddon(addonPath).keyOf(id);
  }

  get closed(): boolean {
    return this.#handle === null;
  }

  /**
   * True when `path` no longer names the file this handle maps: another process replaced it
   * (incompatible capacity/layout) or someone removed it. This handle still works but no
   * longer shares with processes that open the path now: close() and open() again.
   */
  isStale(): boolean {
    try {
      const st = statSync(this.path, { bigint: true });
      return st.ino !== this.#ino || st.dev !== this.#dev;
    } catch {
      return true;
    }
  }

  #h(): object {
    if (this.#handle === null) throw new Error('dedup: the table is closed');
    return this.#handle;
  }

  /**
   * Claim each id at `nowMs`: per id CLAIM_NEW (1: first sighting within the window —
   * produce it), CLAIM_DUPLICATE (0: already committed — ack, don't produce) or, in lease
   * mode, CLAIM_IN_FLIGHT (2: claimed by someone whose write is not committed yet). An id
   * repeated within one batch is NEW once, then duplicate/in-flight. Processes race safely:
   * exactly one claimant of an id gets NEW.
   */
  claimBatch(ids: DedupIds, nowMs: number = Date.now()): Uint8Array {
    const h = this.#h();
    return this.#call(ids, (x, n) => this.#addon.claim(h, x, n, nowMs, this.windowMs, this.leaseMs));
  }

  /** Single-id convenience: true if new. Prefer claimBatch on hot paths. */
  claim(id: string, nowMs: number = Date.now()): boolean {
    return this.claimBatch([id], nowMs)[0] === CLAIM_NEW;
  }

  /**
   * After Kafka acknowledged: make the ids' entries last the full window from now. Pass the
   * claim result as `mask` to commit only what you claimed (entries are 1 / CLAIM_NEW). An id
   * whose lease had already lapsed is re-inserted; the count of those is returned. A no-op for
   * ids that are already committed (always the case in plain mode).
   */
  commit(ids: DedupIds, mask?: Uint8Array, nowMs: number = Date.now()): number {
    const h = this.#h();
    const m = mask && onlyNew(mask);
    return this.#call(ids, (x, n) => this.#addon.commit(h, x, n, nowMs, this.windowMs, m));
  }

  /**
   * Undo claims (the batch was not acknowledged; the client will retry and the retry must be
   * new). Pass the claim result as `mask` so that only ids this call claimed (1) are released —
   * never someone else's in-flight or committed entry. Returns how many entries were removed.
   */
  release(ids: DedupIds, mask?: Uint8Array, nowMs: number = Date.now()): number {
    const h = this.#h();
    const m = mask && onlyNew(mask);
    return this.#call(ids, (x, n) => this.#addon.release(h, x, n, nowMs, m));
  }

  /** Occupancy estimate from a strided sample of `sampleBuckets` buckets (0 = exact full scan) + counters. */
  stats(opts: { sampleBuckets?: number; nowMs?: number } = {}): DedupStats {
    const s = this.#addon.stats(this.#h(), opts.nowMs ?? Date.now(), opts.sampleBuckets ?? 4096);
    return { path: this.path, windowMs: this.windowMs, leaseMs: this.leaseMs, ...s };
  }

  /**
   * String ids go across as one joined string (one N-API string read instead of two N-API
   * calls per id); the addon answers undefined when that text is not ids.length canonical
   * UUIDs, and the array is passed instead (see native/dedup/README.md).
   */
  #call<R>(ids: DedupIds, op: (ids: DedupIds | string, count: number) => R | undefined): R {
    if (Array.isArray(ids) && ids.length > 0) {
      const r = op((ids as readonly string[]).join('\n'), ids.length);
      if (r !== undefined) return r;
    } else if (!Array.isArray(ids) && !(ids instanceof Uint8Array)) {
      throw new TypeError('dedup: ids must be an array of strings or a Uint8Array of packed 16-byte keys');
    }
    const r = op(ids, 0);
    if (r === undefined) throw new TypeError('dedup: ids must be an array of strings or a Uint8Array');
    return r;
  }

  /** Unmap. The shared file stays for the other processes (and the next start). */
  close(): void {
    if (this.#handle === null) return;
    this.#addon.close(this.#handle);
    this.#handle = null;
  }
}

/** A claim result as a mask of the ids claimed here (value 1). */
function onlyNew(result: Uint8Array): Uint8Array {
  let plain = true;
  for (let i = 0; i < result.length; i++) {
    if (result[i] !== 0 && result[i] !== CLAIM_NEW) {
      plain = false;
      break;
    }
  }
  if (plain) return result;
  const m = new Uint8Array(result.length);
  for (let i = 0; i < result.length; i++) m[i] = result[i] === CLAIM_NEW ? 1 : 0;
  return m;
}
