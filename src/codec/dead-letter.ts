/**
 * The dead-letter record: what a DLQ consumer needs to understand, fix and replay an
 * event that did not reach the main topic. Documented in README "Dead-letter records".
 */
import type { EventError } from './validator.js';

export type DeadLetterReason = 'validation' | 'too_large' | 'poison_pill' | 'tenant_forbidden';

export interface DeadLetterInput {
  reason: DeadLetterReason;
  errors: EventError[];
  retryCount: number;
  failedAt: string;
  batchId: string;
  instance: string;
  tenantId: string | null;
  eventIndex: number;
  original: unknown;
}

export function deadLetterValue(d: DeadLetterInput): string {
  try {
    return serialise(d, d.original === undefined ? null : d.original);
  } catch {
    // Nesting too deep for JSON.stringify: the record still goes out, saying why the original is missing.
    return serialise(d, { unserialisable: 'nesting too deep to serialise' });
  }
}

function serialise(d: DeadLetterInput, original: unknown): string {
  return JSON.stringify({
    reason: d.reason,
    errors: d.errors,
    retry_count: d.retryCount,
    failed_at: d.failedAt,
    batch_id: d.batchId,
    event_index: d.eventIndex,
    collector_instance: d.instance,
    tenant_id: d.tenantId,
    original_event: original,
  });
}
