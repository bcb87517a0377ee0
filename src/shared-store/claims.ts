/**
 * Event-id claims in the shared store, with the host table's semantics (src/dedup/table.ts, lease
 * mode) but across every replica:
 *
 *   key  <prefix>d:<tenant>:<event_id>
 *   value "<token>"  in flight: claimed by the batch holding `token`, for leaseMs (PX)
 *         "="        done: acknowledged, remembered for windowMs (PX)
 *
 *   claim   SET NX PX lease → NEW; else "=" → DUPLICATE; own token (an id twice in one batch)
 *           → DUPLICATE; another token → IN_FLIGHT (the first copy may still fail: retry later)
 *   commit  own token or lapsed → "=" for the window (after Kafka or the disk acknowledged)
 *   release own token → deleted (the batch was refused: its retry must be new again)
 *
 * One script per call, so one round trip per batch and atomic against other replicas. A claimant
 * that dies between claim and commit blocks retries for leaseMs at most, as on one host.
 *
 * What the store does not promise: if it loses its data (restarted without persistence, failed
 * over to a replica that had not got the writes) ids acknowledged before are new again, and a
 * commit that could not be sent (store degraded) leaves the id in flight until its lease lapses.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import { CLAIM_DUPLICATE, CLAIM_IN_FLIGHT, CLAIM_NEW } from '../dedup/table.js';
import type { SharedStore } from './store.js';

/** One event's dedup key: the tenant it belongs to and its event_id. */
export interface ClaimKey {
  tenant: string;
  eventId: string;
}

const CLAIM = `
local out = {}
for i, k in ipairs(KEYS) do
  if redis.call('SET', k, ARGV[1], 'NX', 'PX', ARGV[2]) then
    out[i] = '${CLAIM_NEW}'
  else
    local v = redis.call('GET', k)
    if v == '=' or v == ARGV[1] then out[i] = '${CLAIM_DUPLICATE}' else out[i] = '${CLAIM_IN_FLIGHT}' end
  end
end
return table.concat(out)`;

const COMMIT = `
for _, k in ipairs(KEYS) do
  local v = redis.call('GET', k)
  if v == false or v == ARGV[1] then redis.call('SET', k, '=', 'PX', ARGV[2]) end
end
return 0`;

const RELEASE = `
for _, k in ipairs(KEYS) do
  if redis.call('GET', k) == ARGV[1] then redis.call('DEL', k) end
end
return 0`;

interface ClaimCommands {
  collectorClaim(n: number, ...args: string[]): Promise<string>;
  collectorCommit(n: number, ...args: string[]): Promise<number>;
  collectorRelease(n: number, ...args: string[]): Promise<number>;
}

export interface SharedClaim {
  /** CLAIM_* per key, as the host table answers */
  result: Uint8Array;
  commit(): void;
  release(): void;
}

export class SharedClaims {
  readonly #redis: Redis & ClaimCommands;

  constructor(private readonly store: SharedStore, private readonly windowMs: number, private readonly leaseMs: number) {
    const r = store.redis;
    r.defineCommand('collectorClaim', { lua: CLAIM });
    r.defineCommand('collectorCommit', { lua: COMMIT });
    r.defineCommand('collectorRelease', { lua: RELEASE });
    this.#redis = r as Redis & ClaimCommands;
  }

  #keys(keys: readonly ClaimKey[]): string[] {
    const prefix = `${this.store.keyPrefix}d:`;
    const tenants = new Map<string, string>();
    return keys.map(({ tenant, eventId }) => {
      let t = tenants.get(tenant);
      if (t === undefined) {
        t = encodeURIComponent(tenant);
        tenants.set(tenant, t);
      }
      return `${prefix}${t}:${eventId}`;
    });
  }

  /** Claims every key in one call; undefined when the store is degraded (judge with the host table alone). */
  async claim(keys: readonly ClaimKey[]): Promise<SharedClaim | undefined> {
    const names = this.#keys(keys);
    const token = randomUUID();
    const answer = await this.store.call('dedup_claim', () => this.#redis.collectorClaim(names.length, ...names, token, String(this.leaseMs)));
    if (answer === undefined) return undefined;
    const result = new Uint8Array(names.length);
    for (let i = 0; i < names.length; i++) result[i] = answer.charCodeAt(i) - 48;
    const mine = names.filter((_, i) => result[i] === CLAIM_NEW);
    // Settling is not awaited: the answer to the client does not depend on it (an unsent commit
    // leaves the claim in flight until its lease lapses, an unsent release the same). It is sent
    // after the answer (setImmediate runs once the promise reactions that write it are done):
    // encoding and writing 100 keys is not the client's wait. A retry that comes meanwhile finds
    // the claim in flight and is told to retry, as it would while the commit travels.
    const settle = (done: boolean) => {
      if (mine.length === 0) return;
      setImmediate(() => {
        void this.store.call('dedup_settle', () =>
          done ? this.#redis.collectorCommit(mine.length, ...mine, token, String(this.windowMs)) : this.#redis.collectorRelease(mine.length, ...mine, token),
        );
      });
    };
    return { result, commit: () => settle(true), release: () => settle(false) };
  }
}
