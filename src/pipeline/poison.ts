/**
 * Poison pills: records Kafka refuses for a reason retrying cannot fix (too large for
 * the broker, invalid, not authorised) or that failed more than KAFKA_MAX_RETRIES
 * times. They become dead letters (reason `poison_pill`) so they never wedge the live
 * path or the replay behind them.
 */
import { PackedBuilder, recordValue, type PackedRecords } from '../codec/packed.js';
import { deadLetterValue } from '../codec/dead-letter.js';
import type { RejectedEvent } from '../codec/decode.js';

export interface PoisonInput {
  records: PackedRecords;
  /** positions in `records` with the failure that condemned each */
  failed: { record: number; message: string }[];
  batchId: string;
  instance: string;
  retryCount: number;
  /** index into headers of tenant_id, or -1 */
  tenantHeader: number;
  /** DLQ_MAX_RECORD_BYTES (the default when absent) */
  maxBytes?: number;
}

export function poisonDeadLetters(p: PoisonInput): { dead: PackedRecords; rejected: RejectedEvent[] } {
  const b = new PackedBuilder();
  const rejected: RejectedEvent[] = [];
  const failedAt = new Date().toISOString();
  for (const f of p.failed) {
    const raw = recordValue(p.records, f.record).toString();
    let original: unknown;
    try {
      original = JSON.parse(raw);
    } catch {
      original = raw;
    }
    const tenant = p.tenantHeader >= 0 ? (p.records.headers[f.record]?.[p.tenantHeader] ?? null) : null;
    const errors = [{ code: 'invalid' as const, path: '', message: `Kafka refused the record: ${f.message}` }];
    const eventId = p.records.eventIds[f.record] ?? '';
    const index = p.records.indexes[f.record] ?? -1;
    const value = deadLetterValue({
      reason: 'poison_pill', errors, retryCount: p.retryCount, failedAt, batchId: p.batchId,
      instance: p.instance, tenantId: tenant, eventIndex: index, original,
    }, p.maxBytes);
    b.add(value, p.records.keys[f.record] ?? null, ['poison_pill', p.batchId, tenant ?? '', failedAt], eventId, index);
    rejected.push({ index, event_id: eventId || null, reason: 'poison_pill', errors });
  }
  return { dead: b.build(), rejected };
}
