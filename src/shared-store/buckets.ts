/**
 * Tenant token buckets in the shared store, so a tenant's quota is one quota for the whole
 * deployment, not one per replica. Same contract as the host table (src/quota/table.ts): the
 * params per key are events/s, event burst, bytes/s, byte burst, events needed, bytes needed;
 * all keys fit and are debited, or nothing is and the answer is the ms until the batch fits
 * (TAKE_NEVER when a need exceeds its burst). One script call per batch, atomic.
 *
 * GCRA: per bucket one number, the theoretical arrival time (TAT, ms on the store's clock, so
 * replicas' clocks do not matter). With T = 1000 / rate and tau = burst × T, `need` events fit
 * when max(TAT, now) + need × T − tau <= now; debiting moves TAT there. A bucket left alone
 * expires once it would be full again.
 *
 *   key <prefix>q:<tenant key hex>:e   events bucket
 *       <prefix>q:<tenant key hex>:b   bytes bucket
 *
 * While the store is degraded the host's own table judges, with every rate and burst divided by
 * REPLICAS (each host its share). A burst is never cut below what the batch needs if the full
 * burst holds it: a batch the quota allows is not refused as too large because the store is away.
 */
import type { Redis } from 'ioredis';
import { PARAMS_PER_KEY, type QuotaTable } from '../quota/table.js';
import type { Buckets } from '../quota/policy.js';
import type { SharedStore } from './store.js';

const TAKE = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + tonumber(t[2]) / 1000
local wait, never, debit = 0, false, {}
for i = 1, #KEYS do
  local p = (math.floor((i - 1) / 2)) * ${PARAMS_PER_KEY} + ((i - 1) % 2) * 2
  local rate, burst = tonumber(ARGV[p + 1]), tonumber(ARGV[p + 2])
  local need = tonumber(ARGV[math.floor((i - 1) / 2) * ${PARAMS_PER_KEY} + 5 + (i - 1) % 2])
  if rate > 0 and need > 0 then
    if need > burst then never = true end
    local T = 1000 / rate
    local tat = tonumber(redis.call('GET', KEYS[i]) or '0')
    if tat < now then tat = now end
    local nt = tat + need * T
    local w = nt - burst * T - now
    if w > wait then wait = w end
    debit[#debit + 1] = { KEYS[i], nt }
  end
end
if never then return -1 end
if wait > 0 then return math.max(1, math.ceil(wait)) end
for _, d in ipairs(debit) do
  redis.call('SET', d[1], string.format('%.3f', d[2]), 'PX', math.max(1, math.ceil(d[2] - now)))
end
return 0`;

interface TakeCommand {
  collectorTake(n: number, ...args: string[]): Promise<number>;
}

export class SharedBuckets implements Buckets<Promise<number>> {
  readonly #redis: Redis & TakeCommand;

  constructor(private readonly store: SharedStore, private readonly local: QuotaTable, private readonly replicas: number) {
    store.redis.defineCommand('collectorTake', { lua: TAKE });
    this.#redis = store.redis as Redis & TakeCommand;
  }

  async take(keys: BigUint64Array, params: Float64Array, nowUs?: number): Promise<number> {
    const names: string[] = [];
    for (const k of keys) {
      const base = `${this.store.keyPrefix}q:${k.toString(16)}`;
      names.push(`${base}:e`, `${base}:b`);
    }
    const args = Array.from(params, (v) => String(v));
    const wait = await this.store.call('quota', () => this.#redis.collectorTake(names.length, ...names, ...args));
    return wait ?? this.local.take(keys, hostShare(params, this.replicas), nowUs);
  }
}

/** `params` with every rate and burst divided by `replicas`; a burst stays >= the need while the full burst holds it. */
export function hostShare(params: Float64Array, replicas: number): Float64Array {
  const out = Float64Array.from(params);
  if (replicas <= 1) return out;
  for (let i = 0; i < out.length; i += PARAMS_PER_KEY) {
    for (const [rate, burst, need] of [[0, 1, 4], [2, 3, 5]] as const) {
      out[i + rate] = params[i + rate]! / replicas;
      const full = params[i + burst]!;
      const needed = params[i + need]!;
      out[i + burst] = Math.max(full / replicas, needed <= full ? needed : 0);
    }
  }
  return out;
}
