/**
 * Prometheus series of the shared store (REDIS_URL): whether this process judges batches with
 * it (1) or alone (0), how many calls were answered locally instead, by what they were for, and
 * how long the calls that went to the store took. The claim and quota calls are on every batch's
 * answer path: their duration is what the store adds to a request's latency, so an operator can
 * tell a slow store (or a store starved of CPU beside the collector) from a slow collector.
 */
import client from 'prom-client';

export type StoreCall = 'dedup_claim' | 'dedup_settle' | 'quota' | 'kafka_reach';

export class StoreMetrics {
  private readonly shared: client.Gauge;
  private readonly fallbacks: client.Counter<'call'>;
  private readonly seconds: client.Histogram<'call'>;

  constructor(registry: client.Registry) {
    this.shared = new client.Gauge({
      name: 'collector_shared_store_up',
      help: 'Whether dedup claims and tenant quotas go to the shared store (1) or are judged by this host alone because the store is slow or unreachable (0: degraded)',
      registers: [registry],
    });
    this.fallbacks = new client.Counter({
      name: 'collector_shared_store_fallbacks_total',
      help: 'Store calls answered by this host alone (store degraded, failed or slower than REDIS_TIMEOUT_MS), by call: dedup_claim, dedup_settle, quota, kafka_reach',
      labelNames: ['call'],
      registers: [registry],
    });
    this.seconds = new client.Histogram({
      name: 'collector_shared_store_call_seconds',
      help: 'Duration of the calls that went to the shared store (sent until answered, failed or timed out), by call: dedup_claim, dedup_settle, quota, kafka_reach',
      labelNames: ['call'],
      // Fine below REDIS_TIMEOUT_MS (5 ms by default), where a store's round trip lives (~0.3-1 ms to a
      // local one, a 100-key claim ~0.35 ms of it inside redis): what it adds to the answer is read here.
      buckets: [0.0001, 0.00025, 0.0005, 0.00075, 0.001, 0.00125, 0.0015, 0.002, 0.0025, 0.003, 0.004, 0.005, 0.01, 0.025, 0.05],
      registers: [registry],
    });
    for (const call of ['dedup_claim', 'dedup_settle', 'quota', 'kafka_reach'] satisfies StoreCall[]) this.fallbacks.inc({ call }, 0);
  }

  /** A call that went to the store took `seconds`. */
  took(call: StoreCall, seconds: number): void {
    this.seconds.observe({ call }, seconds);
  }

  state(state: 'shared' | 'degraded'): void {
    this.shared.set(state === 'shared' ? 1 : 0);
  }

  fallback(call: StoreCall): void {
    this.fallbacks.inc({ call });
  }
}
