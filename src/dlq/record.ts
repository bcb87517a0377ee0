/**
 * A dead letter as read back from the DLQ topic: the record src/codec/dead-letter.ts wrote, with
 * where it sits in Kafka. Parsing never throws: a record this collector did not write (or one
 * damaged) comes back with reason `unreadable`, so stats count it and replay leaves it alone.
 */
import type { EventError } from '../codec/validator.js';

export interface DeadLetterRecord {
  topic: string;
  partition: number;
  offset: number;
  /** the Kafka record's timestamp, ms */
  timestamp: number;
  reason: string;
  errors: EventError[];
  tenantId: string | null;
  batchId: string;
  receivedAt: string;
  failedAt: string;
  eventId: string | null;
  eventType: string | null;
  schemaVersion: number | null;
  /** the event as the client sent it (parsed), undefined when the record holds only a digest of it */
  original: unknown;
  /** the original was cut to fit DLQ_MAX_RECORD_BYTES (or refused by Kafka): it cannot be replayed */
  truncated: boolean;
  headers: Record<string, string>;
}

/** Where a dead letter sits: the key of its replay marker. */
export function deadLetterId(r: Pick<DeadLetterRecord, 'topic' | 'partition' | 'offset'>): string {
  return `${r.topic}:${r.partition}:${r.offset}`;
}

export interface RawRecord {
  topic: string;
  partition: number;
  offset: number;
  timestamp?: number | undefined;
  key?: string | null;
  value: Buffer | null | undefined;
  headers?: Record<string, string>;
}

export function parseDeadLetter(m: RawRecord): DeadLetterRecord {
  const base: DeadLetterRecord = {
    topic: m.topic, partition: m.partition, offset: m.offset, timestamp: m.timestamp ?? 0,
    reason: 'unreadable', errors: [], tenantId: null, batchId: '', receivedAt: '', failedAt: '',
    eventId: null, eventType: null, schemaVersion: null, original: undefined, truncated: false, headers: m.headers ?? {},
  };
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(m.value?.toString('utf8') ?? '') as Record<string, unknown>;
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return base;
  } catch {
    return base;
  }
  const str = (x: unknown) => (typeof x === 'string' ? x : null);
  const original = v.original_event;
  const o = typeof original === 'object' && original !== null && !Array.isArray(original) ? (original as Record<string, unknown>) : {};
  const truncated = v.original_event_truncated !== undefined || original === null || original === undefined;
  return {
    ...base,
    reason: str(v.reason) ?? 'unreadable',
    errors: Array.isArray(v.errors) ? (v.errors as EventError[]) : [],
    tenantId: str(v.tenant_id),
    batchId: str(v.batch_id) ?? '',
    receivedAt: m.headers?.received_at ?? str(v.failed_at) ?? '',
    failedAt: str(v.failed_at) ?? '',
    eventId: str(o.event_id),
    eventType: str(o.event_type),
    schemaVersion: typeof o.schema_version === 'number' ? o.schema_version : null,
    original: truncated ? undefined : original,
    truncated,
  };
}
