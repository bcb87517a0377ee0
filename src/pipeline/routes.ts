/**
 * Which topic a tenant's records go to: TOPIC_ROUTES for events, DLQ_TOPIC_ROUTES for dead
 * letters, e.g. `tenant_alpha=events-alpha,tenant_beta=events-beta,*=events` — a tenant's own
 * topic gives it its own retention, ACLs and consumers. `*` (or no route) is KAFKA_TOPIC /
 * DLQ_TOPIC. Every promise is per record, so it holds per topic: the key (learner_id) and so the
 * partition and per-learner order, the spill log (each spilled batch names its topic), dedup
 * (claims are per tenant, and a tenant has one topic).
 */
import { pickRecords } from '../spill/batch-codec.js';
import type { PackedRecords } from '../codec/packed.js';

/** Kafka's rule for topic names. */
const TOPIC_NAME = /^[a-zA-Z0-9._-]{1,249}$/;

/** TOPIC_ROUTES and DLQ_TOPIC_ROUTES of a configuration; throws RouteError naming the setting. */
export function topicRoutes(c: { TOPIC_ROUTES: string; DLQ_TOPIC_ROUTES: string; KAFKA_TOPIC: string; DLQ_TOPIC: string }): { events: TopicRoutes; dlq: TopicRoutes } {
  return { events: TopicRoutes.parse(c.TOPIC_ROUTES, c.KAFKA_TOPIC, 'TOPIC_ROUTES'), dlq: TopicRoutes.parse(c.DLQ_TOPIC_ROUTES, c.DLQ_TOPIC, 'DLQ_TOPIC_ROUTES') };
}

export class RouteError extends Error {
  override name = 'RouteError';
}

export class TopicRoutes {
  private constructor(
    private readonly byTenant: ReadonlyMap<string, string>,
    readonly fallback: string,
  ) {}

  /** `spec` as TOPIC_ROUTES takes it; `setting` names it in errors; `fallback` is the topic of `*`'s absence. */
  static parse(spec: string, fallback: string, setting: string): TopicRoutes {
    const byTenant = new Map<string, string>();
    let star = fallback;
    for (const raw of spec.split(',').map((s) => s.trim()).filter((s) => s !== '')) {
      const eq = raw.indexOf('=');
      const tenant = eq < 0 ? '' : raw.slice(0, eq).trim();
      const topic = eq < 0 ? '' : raw.slice(eq + 1).trim();
      if (tenant === '' || topic === '') throw new RouteError(`${setting}: "${raw}" is not tenant=topic`);
      if (!TOPIC_NAME.test(topic)) throw new RouteError(`${setting}: "${topic}" is not a Kafka topic name (letters, digits, . _ -; at most 249)`);
      if (tenant === '*') star = topic;
      else if (byTenant.has(tenant)) throw new RouteError(`${setting}: tenant ${tenant} is routed twice`);
      else byTenant.set(tenant, topic);
    }
    return new TopicRoutes(byTenant, star);
  }

  topicOf(tenant: string | null | undefined): string {
    return (tenant != null ? this.byTenant.get(tenant) : undefined) ?? this.fallback;
  }

  /** Every topic a record may go to. */
  get topics(): string[] {
    return [...new Set([this.fallback, ...this.byTenant.values()])];
  }

  /** Some tenant has a topic of its own: batches must be split. */
  get routed(): boolean {
    for (const t of this.byTenant.values()) if (t !== this.fallback) return true;
    return false;
  }

  /**
   * The records grouped by topic, each group in the batch's order (one group, the records as they are,
   * when nothing is routed). `tenantHeader` is the index of tenant_id in each record's header values.
   */
  split(records: PackedRecords, tenantHeader: number): { topic: string; records: PackedRecords }[] {
    if (!this.routed || records.count === 0) return [{ topic: this.fallback, records }];
    const groups = new Map<string, number[]>();
    for (let i = 0; i < records.count; i++) {
      const topic = this.topicOf(records.headers[i]?.[tenantHeader]);
      let g = groups.get(topic);
      if (!g) {
        g = [];
        groups.set(topic, g);
      }
      g.push(i);
    }
    if (groups.size === 1) return [{ topic: groups.keys().next().value as string, records }];
    return [...groups].map(([topic, at]) => ({ topic, records: pickRecords(records, at) }));
  }
}
