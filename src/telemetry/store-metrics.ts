/**
 * Prometheus series of the shared store (REDIS_URL): whether this process judges batches with
 * it (1) or alone (0), and how many calls were answered locally instead, by what they were for.
 */
import client from 'prom-client';

export type StoreCall = 'dedup_claim' | 'dedup_settle' | 'quota' | 'kafka_reach';

export class StoreMetrics {
  private readonly shared: client.Gauge;
  private readonly fallbacks: client.Counter<'call'>;

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
    for (const call of ['dedup_claim', 'dedup_settle', 'quota', 'kafka_reach'] satisfies StoreCall[]) this.fallbacks.inc({ call }, 0);
  }

  state(state: 'shared' | 'degraded'): void {
    this.shared.set(state === 'shared' ? 1 : 0);
  }

  fallback(call: StoreCall): void {
    this.fallbacks.inc({ call });
  }
}
