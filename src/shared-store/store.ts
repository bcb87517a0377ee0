/**
 * The store the replicas share (REDIS_URL: Redis 7 or Valkey, one primary): event-id claims
 * (claims.ts) and tenant token buckets (buckets.ts) live there so that dedup and quotas hold
 * across hosts, not only across the processes of one host.
 *
 * States:
 *   shared    every call goes to the store, bounded by REDIS_TIMEOUT_MS; a call that times out
 *             is judged by this host alone, that call only
 *   degraded  a call failed, the connection is down, or DEGRADE_AFTER_TIMEOUTS calls in a row timed
 *             out: calls are not made at all (the batch is judged by this host alone — its
 *             shared-memory dedup table, quota / REPLICAS), and a PING every PROBE_MS checks
 *             whether the store answers again; the first answer → shared
 * One log line per change of state, a gauge and a counter (telemetry/store-metrics.ts), and
 * health reports `degraded` with the reason while it lasts.
 *
 * Why skip calls while degraded rather than try each one: a store that is gone would cost every
 * batch the full timeout, and a store that is slow would be hammered while it recovers. Why not
 * degrade on the first timeout: a lone late answer (a scheduling hiccup on a busy machine: the
 * bench's store round trips have a p99 of ~4 ms on its 2-core box) would otherwise switch dedup
 * and quotas to host-local for a whole probe period, ~10 batches at 20 per second.
 *
 * Never fails a batch: a call answers the store's reply or `undefined` (judge locally). Nothing
 * here logs REDIS_URL's user-info (maskUrlCredentials); ioredis errors quote host:port only.
 */
import { Redis } from 'ioredis';
import type { Logger } from 'pino';
import { maskUrlCredentials } from '../config/redact.js';
import type { StoreCall, StoreMetrics } from '../telemetry/store-metrics.js';

const PROBE_MS = 500;
/** consecutive timed-out calls that make the store degraded (an error or a lost connection does at once) */
export const DEGRADE_AFTER_TIMEOUTS = 3;

export type StoreState = 'shared' | 'degraded';

/** A call over REDIS_TIMEOUT_MS (see call()); ioredis's own commandTimeout is only the backstop. */
class StoreTimeout extends Error {}
const BACKSTOP_FACTOR = 20;

export interface StoreStatus {
  state: StoreState;
  /** why the store is not used (while degraded) */
  reason?: string;
}

export interface StoreOptions {
  url: string;
  timeoutMs: number;
  keyPrefix: string;
  log: Logger;
  metrics?: StoreMetrics;
}

export class SharedStore {
  readonly redis: Redis;
  readonly keyPrefix: string;
  #state: StoreState = 'shared';
  #reason: string | undefined;
  #probe: NodeJS.Timeout | undefined;
  #closed = false;
  #timeoutsInARow = 0;

  constructor(private readonly o: StoreOptions) {
    this.keyPrefix = o.keyPrefix;
    this.redis = new Redis(o.url, {
      // The bound is call()'s; this only ends a command whose answer never comes, so it cannot pile up.
      commandTimeout: Math.max(1000, o.timeoutMs * BACKSTOP_FACTOR),
      // A command sent while the connection is down fails at once instead of queueing behind the reconnect.
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      connectTimeout: Math.max(1000, o.timeoutMs),
      // Reconnect for as long as the process lives: the store coming back must be noticed.
      retryStrategy: (times) => Math.min(100 * times, 1000),
      lazyConnect: false,
    });
    // ioredis emits 'error' on every failed reconnect; the state change below is the one log line.
    this.redis.on('error', (err: Error) => this.degrade(err.message));
    o.metrics?.state('shared');
  }

  get status(): StoreStatus {
    return this.#state === 'shared' ? { state: 'shared' } : { state: 'degraded', reason: this.#reason! };
  }

  get shared(): boolean {
    return this.#state === 'shared';
  }

  /** Resolves once the first connection is up or failed (start-up log; nothing waits on it). */
  async connected(): Promise<boolean> {
    if (this.redis.status === 'ready') return true;
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        this.redis.off('ready', onReady);
        this.redis.off('error', onError);
        resolve(ok);
      };
      const onReady = () => done(true);
      const onError = () => done(false);
      this.redis.once('ready', onReady);
      this.redis.once('error', onError);
    });
  }

  /**
   * Runs `op` against the store while shared: its result, or undefined when the store is degraded,
   * the call failed (the store is then degraded) or it took longer than REDIS_TIMEOUT_MS (degraded
   * after DEGRADE_AFTER_TIMEOUTS in a row).
   */
  async call<T>(what: StoreCall, op: (redis: Redis) => Promise<T>): Promise<T | undefined> {
    if (this.#state !== 'shared' || this.redis.status !== 'ready') {
      if (this.#state === 'shared') this.degrade(`not connected (${this.redis.status})`);
      this.o.metrics?.fallback(what);
      return undefined;
    }
    const start = performance.now();
    try {
      const answer = await this.#bounded(op(this.redis));
      this.#timeoutsInARow = 0;
      return answer;
    } catch (err) {
      const timedOut = err instanceof StoreTimeout;
      if (!timedOut || ++this.#timeoutsInARow >= DEGRADE_AFTER_TIMEOUTS) {
        this.degrade(timedOut ? `${what}: ${this.#timeoutsInARow} calls in a row slower than ${this.o.timeoutMs} ms` : `${what}: ${(err as Error).message}`);
      }
      this.o.metrics?.fallback(what);
      return undefined;
    } finally {
      this.o.metrics?.took(what, (performance.now() - start) / 1000);
    }
  }

  /**
   * `answer`, or a StoreTimeout once REDIS_TIMEOUT_MS has passed with no answer to read. The timer only
   * looks once the event loop has polled its sockets (setImmediate runs after the poll phase): when this
   * process's own loop was busy past the bound, an answer the store sent in time is read first and is not
   * taken for a slow store. (A timer alone, as ioredis's commandTimeout, fires before that poll: on a
   * saturated collector nearly every call "timed out" and the store was degraded while it answered in time.)
   */
  #bounded<T>(answer: Promise<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let settled = false;
      const timer = setTimeout(() => {
        setImmediate(() => {
          if (settled) return;
          settled = true;
          reject(new StoreTimeout(`no answer within ${this.o.timeoutMs} ms`));
        });
      }, this.o.timeoutMs);
      answer.then(
        (v) => {
          clearTimeout(timer);
          if (settled) return;
          settled = true;
          resolve(v);
        },
        (err: unknown) => {
          clearTimeout(timer);
          if (settled) return;
          settled = true;
          reject(err);
        },
      );
    });
  }

  degrade(reason: string): void {
    if (this.#closed || this.#state === 'degraded') return;
    this.#timeoutsInARow = 0;
    this.#state = 'degraded';
    this.#reason = maskUrlCredentials(reason);
    this.o.metrics?.state('degraded');
    this.o.log.warn(
      { store: maskUrlCredentials(this.o.url), reason: this.#reason },
      'SHARED STORE DEGRADED: dedup and quotas hold per host only (host-local dedup, quota / REPLICAS) until the store answers again',
    );
    this.#probe = setInterval(() => void this.#check(), PROBE_MS).unref();
  }

  async #check(): Promise<void> {
    if (this.redis.status !== 'ready') return;
    try {
      await this.redis.ping();
    } catch {
      return;
    }
    if (this.#closed || this.#state === 'shared') return;
    clearInterval(this.#probe);
    this.#state = 'shared';
    this.#reason = undefined;
    this.o.metrics?.state('shared');
    this.o.log.info({ store: maskUrlCredentials(this.o.url) }, 'shared store back: dedup and quotas hold across replicas again');
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#probe);
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}
