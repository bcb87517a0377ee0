/**
 * The collect answer: the spec's "Response Format" plus our documented additions, and
 * the one table from outcome to HTTP status.
 *
 *   all events in Kafka                 → 200
 *   some in Kafka, the rest dead-letter → 207
 *   none valid, all dead-lettered       → 422 (COLLECTOR_ERR_ALL_REJECTED)
 *   whole-batch problems                → the code's status (400/413/415/503, src/errors.ts)
 */
import { ERRORS, type ErrorBody, type ErrorCode } from '../errors.js';
import type { RejectedEvent } from '../codec/decode.js';

export interface CollectBody {
  batch_id: string;
  accepted_count: number;
  rejected_count: number;
  processing_time_ms: number;
  /** the partition every accepted event went to; null when they span several (see kafka_partitions) or none */
  kafka_partition: number | null;
  /** every partition that received events of this batch, ascending */
  kafka_partitions: number[];
  dlq_events: RejectedEvent[];
  warnings: string[];
  /** true when some records were fsynced to the disk buffer instead of Kafka (delivered later, in order) */
  buffered?: boolean;
  /** events already acknowledged within the dedup window: acknowledged again, not written again (counted in accepted_count) */
  duplicate_count?: number;
  duplicates?: { index: number; event_id: string }[];
  error?: ErrorBody['error'];
}

export interface CollectAnswer {
  status: number;
  body: CollectBody | ErrorBody;
  /** seconds, for 503 answers */
  retryAfter?: number;
}

export function batchStatus(accepted: number, rejected: number): number {
  if (rejected === 0) return 200;
  return accepted > 0 ? 207 : ERRORS.COLLECTOR_ERR_ALL_REJECTED.status;
}

export function batchAnswer(
  batchId: string,
  accepted: number,
  rejected: RejectedEvent[],
  partitions: number[],
  warnings: string[],
  processingMs: number,
): CollectAnswer {
  const status = batchStatus(accepted, rejected.length);
  const body: CollectBody = {
    batch_id: batchId,
    accepted_count: accepted,
    rejected_count: rejected.length,
    processing_time_ms: Math.round(processingMs * 100) / 100,
    kafka_partition: partitions.length === 1 ? partitions[0]! : null,
    kafka_partitions: partitions,
    dlq_events: rejected,
    warnings,
  };
  if (status === 422) {
    const code: ErrorCode = 'COLLECTOR_ERR_ALL_REJECTED';
    body.error = { code, message: ERRORS[code].message };
  }
  return { status, body };
}
