/**
 * Which replicas reach Kafka, through the shared store: every second each process whose producer
 * is connected (circuit closed) stamps its host in one sorted set (score = ms), and reads which
 * other hosts stamped in the last STALE_MS.
 *
 * Why: a replica that cannot reach Kafka still acknowledges from its spill log and writes those
 * events when Kafka is back — after events its client sent later through another replica. Measured
 * behind HAProxy with 3 hosts (docs/multi-host.md): 0 per-learner order violations with Kafka
 * reachable from all, 122 in 74,260 events with one host spilling. So such a replica fails
 * readiness while another reaches Kafka, and the balancer routes around it. When no replica reaches
 * Kafka (Kafka itself is down), or the store cannot tell, every replica stays ready and spills:
 * refusing everything would be worse than late order.
 *
 *   key <prefix>kafka-reach   zset: host → last ms it reached Kafka
 */
import type { SharedStore } from './store.js';

const EVERY_MS = 1000;
const STALE_MS = 3000;

export class KafkaReach {
  #others = false;
  #timer: NodeJS.Timeout | undefined;

  constructor(private readonly store: SharedStore, private readonly host: string, private readonly reachable: () => boolean) {}

  /** Another host reached Kafka within the last few seconds (false when the store cannot tell). */
  get othersReach(): boolean {
    return this.#others && this.store.shared;
  }

  start(): this {
    this.#timer = setInterval(() => void this.#tick(), EVERY_MS).unref();
    return this;
  }

  async #tick(): Promise<void> {
    const key = `${this.store.keyPrefix}kafka-reach`;
    const now = Date.now();
    const hosts = await this.store.call('kafka_reach', async (r) => {
      const m = r.multi();
      if (this.reachable()) m.zadd(key, now, this.host);
      m.zremrangebyscore(key, 0, now - 60_000);
      m.zrangebyscore(key, now - STALE_MS, '+inf');
      const res = await m.exec();
      return (res?.at(-1)?.[1] ?? []) as string[];
    });
    this.#others = hosts?.some((h) => h !== this.host) ?? false;
  }

  stop(): void {
    clearInterval(this.#timer);
  }
}
