/**
 * Per-tenant quotas: events per second and bytes per second (of the events as written to
 * Kafka), each a token bucket of `burst_seconds` worth, shared by every process of the host
 * (src/quota/table.ts). A batch is charged for each tenant's events in it, all tenants at
 * once: it fits whole or is refused whole (429 COLLECTOR_ERR_TENANT_QUOTA with the computed
 * Retry-After) — nothing is half-acknowledged. Tenants without a quota of their own get the
 * "*" quota (each its own buckets) if there is one, else no limit.
 *
 * Quotas come from TENANT_QUOTAS_FILE ({"quotas": {...}}) or the "quotas" key of
 * API_KEYS_FILE, and are swapped whole on reload; the buckets' fill levels live on in
 * shared memory across reloads and restarts.
 */
import { createHash } from 'node:crypto';
import type { PackedRecords } from '../codec/packed.js';
import { PARAMS_PER_KEY, PINNED, TAKE_NEVER } from './table.js';
import { InternalError } from '../errors.js';

export interface TenantQuota {
  eventsPerSecond: number;
  bytesPerSecond: number;
  burstSeconds: number;
}

export type Charge =
  | { ok: true }
  | { ok: false; tenant: string; detail: string; retryAfterS?: number };

export class QuotaFileError extends InternalError {
  override readonly name = 'QuotaFileError';
  constructor(message: string) {
    super('COLLECTOR_ERR_QUOTA_FILE', message);
  }
}

/** Checks a "quotas" object: tenant (or "*") → {events_per_second, bytes_per_second, burst_seconds?}; 0 = no limit. */
export function parseQuotas(raw: unknown, where = 'quotas'): Map<string, TenantQuota> {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new QuotaFileError(`${where}: quotas must be an object`);
  const out = new Map<string, TenantQuota>();
  for (const [tenant, q] of Object.entries(raw as Record<string, unknown>)) {
    const at = `${where}: quotas["${tenant}"]`;
    const o = q as Record<string, unknown>;
    if (typeof o !== 'object' || o === null) throw new QuotaFileError(`${at} must be an object`);
    const num = (name: string, def: number, min: number) => {
      const v = o[name] ?? def;
      if (typeof v !== 'number' || !Number.isFinite(v) || v < min) throw new QuotaFileError(`${at}.${name} must be a number >= ${min}`);
      return v;
    };
    out.set(tenant, {
      eventsPerSecond: num('events_per_second', 0, 0),
      bytesPerSecond: num('bytes_per_second', 0, 0),
      burstSeconds: num('burst_seconds', 1, 0.001),
    });
  }
  return out;
}

/** Reads {"quotas": {...}} (TENANT_QUOTAS_FILE) — or the keys file, whose "quotas" key is the same shape. */
export function quotasOfFileText(text: string, where: string): Map<string, TenantQuota> {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new QuotaFileError(`${where}: not JSON (${(err as Error).message})`);
  }
  const q = (raw as { quotas?: unknown } | null)?.quotas;
  return q === undefined ? new Map() : parseQuotas(q, where);
}

const MAX_CACHED_KEYS = 65_536;

/** Where the buckets are: the host's table (src/quota/table.ts) or the shared store (src/shared-store/buckets.ts). */
export interface Buckets<W extends QuotaWait = QuotaWait> {
  take(keys: BigUint64Array, params: Float64Array, nowUs?: number): W;
}
export type QuotaWait = number | Promise<number>;

/** W: what the buckets answer — the host table at once (number), the shared store later (a promise). */
export class QuotaPolicy<W extends QuotaWait = number> {
  #quotas = new Map<string, TenantQuota>();
  #keys = new Map<string, bigint>();

  constructor(private readonly table: Buckets<W>) {}

  replace(quotas: Map<string, TenantQuota>): void {
    this.#quotas = quotas;
  }

  /** Tenants with a quota of their own (for bounded metric labels). */
  get tenants(): string[] {
    return [...this.#quotas.keys()].filter((t) => t !== '*');
  }

  get active(): boolean {
    return this.#quotas.size > 0;
  }

  /** 64-bit bucket key of a tenant (0 and 1 are reserved by the table). */
  #keyOf(tenant: string): bigint {
    let k = this.#keys.get(tenant);
    if (k === undefined) {
      k = createHash('sha256').update(tenant).digest().readBigUInt64LE(0);
      if (k < 2n) k += 2n;
      if (this.#keys.size >= MAX_CACHED_KEYS) this.#keys.clear();
      this.#keys.set(tenant, k);
    }
    return k;
  }

  /**
   * Charge what a batch costs against its tenants' quotas: every event it carries, the main-topic records
   * (tenant_id is header `tenantHeader`) and the dead letters (tenant_id is header `deadTenantHeader`: the sending
   * key's tenant when an event claims one the key may not write) — an invalid event costs a Kafka write as a valid
   * one does, so a tenant over its quota is refused whatever it sends. A promise only when the buckets are in the
   * shared store.
   */
  charge(
    records: PackedRecords, tenantHeader = 0, nowUs?: number, deadLetters?: PackedRecords, deadTenantHeader = 2,
  ): W extends number ? Charge : Charge | Promise<Charge> {
    return this.#charge(records, tenantHeader, nowUs, deadLetters, deadTenantHeader) as W extends number ? Charge : Charge | Promise<Charge>;
  }

  #charge(records: PackedRecords, tenantHeader: number, nowUs: number | undefined, deadLetters: PackedRecords | undefined, deadTenantHeader: number): Charge | Promise<Charge> {
    if (this.#quotas.size === 0 || records.count + (deadLetters?.count ?? 0) === 0) return { ok: true };
    const need = new Map<string, { events: number; bytes: number; q: TenantQuota }>();
    const any = this.#quotas.get('*');
    const add = (from: PackedRecords, header: number) => {
      for (let i = 0; i < from.count; i++) {
        const tenant = from.headers[i]![header]!;
        let n = need.get(tenant);
        if (!n) {
          const q = this.#quotas.get(tenant) ?? any;
          if (!q || (q.eventsPerSecond === 0 && q.bytesPerSecond === 0)) continue;
          n = { events: 0, bytes: 0, q };
          need.set(tenant, n);
        }
        n.events++;
        n.bytes += from.offsets[i + 1]! - from.offsets[i]!;
      }
    };
    add(records, tenantHeader);
    if (deadLetters) add(deadLetters, deadTenantHeader);
    if (need.size === 0) return { ok: true };
    const tenants = [...need.keys()];
    const keys = new BigUint64Array(tenants.length);
    const params = new Float64Array(tenants.length * PARAMS_PER_KEY);
    tenants.forEach((t, i) => {
      const { events, bytes, q } = need.get(t)!;
      keys[i] = this.#keyOf(t);
      const pinned = this.#quotas.has(t) ? PINNED : 0;
      params.set([q.eventsPerSecond, q.eventsPerSecond * q.burstSeconds, q.bytesPerSecond, q.bytesPerSecond * q.burstSeconds, events, bytes, pinned], i * PARAMS_PER_KEY);
    });
    const wait: QuotaWait = this.table.take(keys, params, nowUs);
    return typeof wait === 'number' ? this.#judge(wait, tenants, need) : wait.then((w) => this.#judge(w, tenants, need));
  }

  #judge(wait: number, tenants: string[], need: Map<string, { events: number; bytes: number; q: TenantQuota }>): Charge {
    if (wait === 0) return { ok: true };
    // Name the tenant to blame: the first whose own share does not fit alone (the answer is for the whole batch).
    const blame = tenants.find((t) => {
      const { events, bytes, q } = need.get(t)!;
      return (q.eventsPerSecond > 0 && events > q.eventsPerSecond * q.burstSeconds) || (q.bytesPerSecond > 0 && bytes > q.bytesPerSecond * q.burstSeconds);
    });
    if (wait === TAKE_NEVER) {
      const t = blame ?? tenants[0]!;
      const { events, bytes, q } = need.get(t)!;
      return {
        ok: false, tenant: t,
        detail: `the batch holds ${events} event(s), ${bytes} bytes of tenant '${t}', more than its quota allows at once ` +
          `(${q.eventsPerSecond * q.burstSeconds} events, ${q.bytesPerSecond * q.burstSeconds} bytes; 0 = no limit): send smaller batches`,
      };
    }
    const retryAfterS = Math.max(1, Math.ceil(wait / 1000));
    const t = tenants.length === 1 ? tenants[0]! : tenants.join(', ');
    return { ok: false, tenant: tenants[0]!, retryAfterS, detail: `tenant '${t}' is over its quota; the batch fits in ${Math.ceil(wait)} ms` };
  }
}
