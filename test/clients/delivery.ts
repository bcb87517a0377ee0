/**
 * What a client delivered, judged from the records read back from Kafka: every event once,
 * and per learner in the order it was tracked (metadata.seq).
 */
import type { ReadRecord } from '../helpers/consumer.js';

export interface DeliveryReport {
  missing: string[];
  /** event ids written more than once, with their count */
  duplicates: [string, number][];
  orderViolations: string[];
}

export function deliveryReport(records: ReadRecord[], ids: readonly string[]): DeliveryReport {
  const want = new Set(ids);
  const counts = new Map<string, number>();
  const last = new Map<string, number>();
  const orderViolations: string[] = [];
  for (const r of records) {
    const v = JSON.parse(r.value) as { event_id: string; metadata?: { seq?: number } };
    if (!want.has(v.event_id)) continue;
    const n = (counts.get(v.event_id) ?? 0) + 1;
    counts.set(v.event_id, n);
    if (n > 1) continue;
    const seq = v.metadata?.seq ?? -1;
    const prev = last.get(r.key ?? '') ?? -1;
    if (seq < prev) orderViolations.push(`${r.key}: seq ${seq} after ${prev}`);
    last.set(r.key ?? '', seq);
  }
  return {
    missing: ids.filter((id) => !counts.has(id)),
    duplicates: [...counts].filter(([, n]) => n > 1),
    orderViolations,
  };
}
