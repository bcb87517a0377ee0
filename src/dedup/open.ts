/**
 * Event-id dedup at start: the host's shared-memory table (it fails fast, DedupUnavailableError, when the native addon
 * was not built: no silent fallback) and, with REDIS_URL, the claims across replicas behind it.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { hostTableName } from '../config/host-namespace.js';
import { SharedClaims } from '../shared-store/claims.js';
import type { SharedStore } from '../shared-store/store.js';
import { DedupTable, defaultDedupPath } from './table.js';

export function openDedup(config: Config, store: SharedStore | null, log: Logger): { dedup: DedupTable | null; sharedDedup: SharedClaims | null } {
  if (!config.DEDUP_ENABLED) return { dedup: null, sharedDedup: null };
  const dedup = DedupTable.open({
    path: config.DEDUP_PATH || defaultDedupPath(hostTableName(config)),
    capacity: config.DEDUP_CAPACITY,
    windowMs: config.DEDUP_WINDOW_MS,
    // A claim lives until the batch is acknowledged or refused; past this a crashed claimant stops blocking it.
    leaseMs: config.REQUEST_TIMEOUT_MS + config.SPILL_AFTER_MS,
  });
  log.info({ path: dedup.path, capacity: dedup.capacity, window_ms: dedup.windowMs, created: dedup.created }, 'dedup table open');
  return { dedup, sharedDedup: store ? new SharedClaims(store, config.DEDUP_WINDOW_MS, dedup.leaseMs) : null };
}
