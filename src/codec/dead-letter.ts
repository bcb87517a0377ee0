/**
 * The dead-letter record: what a DLQ consumer needs to understand, fix and replay an
 * event that did not reach the main topic. Documented in docs/api.md "Dead-letter records".
 *
 * Bounded: an invalid event has no size limit of its own (MAX_EVENT_BYTES bounds valid ones),
 * and a dead letter over librdkafka's message.max.bytes or the topic's max.message.bytes is
 * refused for good. Over DLQ_MAX_RECORD_BYTES the original is replaced by its size, its
 * SHA-256 and as much of its JSON as fits, so the record always lands.
 */
import { createHash } from 'node:crypto';
import type { EventError } from './validator.js';

export type DeadLetterReason = 'validation' | 'too_large' | 'poison_pill' | 'tenant_forbidden';

/** The default of DLQ_MAX_RECORD_BYTES: half of librdkafka's and the broker's default message size limit. */
export const DEFAULT_DEAD_LETTER_MAX_BYTES = 524_288;

export interface DeadLetterInput {
  reason: DeadLetterReason;
  errors: EventError[];
  retryCount: number;
  failedAt: string;
  batchId: string;
  instance: string;
  /** the tenant the record belongs to: the event's, or the sending key's when the event claims another */
  tenantId: string | null;
  /** the API key that sent the event (AUTH_MODE=api_key) */
  keyId?: string;
  /** what the event claimed as tenant_id when that is not a tenant its key may write */
  claimedTenantId?: string;
  eventIndex: number;
  original: unknown;
}

/** In place of an original too large for the record. */
export interface TruncatedOriginal {
  /** UTF-8 bytes of the original's JSON */
  bytes: number;
  /** SHA-256 (hex) of those bytes: finds the event in the client's own logs */
  sha256: string;
  /** the first characters of that JSON */
  head: string;
}

export function deadLetterValue(d: DeadLetterInput, maxBytes = DEFAULT_DEAD_LETTER_MAX_BYTES): string {
  let original: string;
  try {
    original = JSON.stringify(d.original === undefined ? null : d.original);
  } catch {
    // Nesting too deep for JSON.stringify: the record still goes out, saying why the original is missing.
    original = JSON.stringify({ unserialisable: 'nesting too deep to serialise' });
  }
  // UTF-8 is at most 3 bytes per UTF-16 unit: count exactly only when it could matter.
  const whole = serialise(d, original);
  if (whole.length * 3 <= maxBytes || Buffer.byteLength(whole) <= maxBytes) return whole;
  return truncated(d, original, maxBytes);
}

export function truncatedOriginal(original: string, head: string): TruncatedOriginal {
  return { bytes: Buffer.byteLength(original), sha256: createHash('sha256').update(original).digest('hex'), head };
}

function truncated(d: DeadLetterInput, original: string, maxBytes: number): string {
  // Error messages and paths quote the client's input (a long key, say): short enough to leave room for the rest.
  const errors = d.errors.map((e) => ({ code: e.code, path: e.path.slice(0, 256), message: e.message.slice(0, 512) }));
  const bounded = { ...d, errors };
  const marker = truncatedOriginal(original, '');
  const base = Buffer.byteLength(serialise(bounded, 'null', marker));
  const budget = maxBytes - base;
  // The head's JSON string costs up to 6 bytes per character (\u escapes): shrink until it fits.
  let n = Math.max(0, Math.min(original.length, budget));
  let head = '';
  for (;;) {
    head = original.slice(0, n);
    const c = head.charCodeAt(n - 1);
    if (c >= 0xd800 && c <= 0xdbff) head = head.slice(0, -1); // never half a surrogate pair
    const cost = Buffer.byteLength(JSON.stringify(head)) - 2;
    if (cost <= budget || n === 0) break;
    n = Math.floor((n * budget) / cost) - 1;
    if (n < 0) n = 0;
  }
  return serialise(bounded, 'null', { ...marker, head });
}

function serialise(d: DeadLetterInput, original: string, cut?: TruncatedOriginal): string {
  // original_event is spliced in as JSON text: it is serialised once, to measure it too.
  const envelope = JSON.stringify({
    reason: d.reason,
    errors: d.errors,
    retry_count: d.retryCount,
    failed_at: d.failedAt,
    batch_id: d.batchId,
    event_index: d.eventIndex,
    collector_instance: d.instance,
    tenant_id: d.tenantId,
    ...(d.keyId !== undefined ? { key_id: d.keyId } : {}),
    ...(d.claimedTenantId !== undefined ? { claimed_tenant_id: d.claimedTenantId } : {}),
  });
  const tail = cut ? `,"original_event_truncated":${JSON.stringify(cut)}` : '';
  return `${envelope.slice(0, -1)},"original_event":${original}${tail}}`;
}

/**
 * A dead letter Kafka refused for good (a DLQ topic whose max.message.bytes is under
 * DLQ_MAX_RECORD_BYTES, say): the same record with no original at all — only its size and
 * digest — and the refusal, so what is left of it still lands.
 */
export function shrunkDeadLetter(value: string, refusal: string): string {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(value) as Record<string, unknown>;
  } catch {
    v = {};
  }
  const cut = v.original_event_truncated as TruncatedOriginal | undefined;
  const marker = cut ? { ...cut, head: '' } : truncatedOriginal(JSON.stringify(v.original_event ?? null), '');
  const errors = Array.isArray(v.errors) ? (v.errors as EventError[]).slice(0, 10).map((e) => ({ code: e.code, path: String(e.path).slice(0, 256), message: String(e.message).slice(0, 256) })) : [];
  return JSON.stringify({ ...v, errors, original_event: null, original_event_truncated: marker, dlq_refused: refusal.slice(0, 256) });
}
