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

/**
 * The answer's JSON. The common answer — everything accepted, nothing to list — is written
 * from a template (JSON.stringify walks the object and its empty arrays, for ~1 µs of every
 * 1-event request); anything else goes through JSON.stringify. Both give the same text,
 * byte for byte (test/pipeline/answer.test.ts).
 */
export function answerJson(body: CollectBody | ErrorBody): string {
  if (!('accepted_count' in body)) return JSON.stringify(body);
  const b = body;
  if (b.error !== undefined || b.dlq_events.length > 0 || b.warnings.length > 0 || (b.duplicates !== undefined && b.duplicates.length > 0)) {
    return JSON.stringify(body);
  }
  if (b.duplicates === undefined && (b.buffered !== undefined || b.duplicate_count !== undefined)) return JSON.stringify(body);
  if (b.duplicates !== undefined && (b.buffered === undefined || b.duplicate_count === undefined)) return JSON.stringify(body);
  if (!Number.isFinite(b.processing_time_ms)) return JSON.stringify(body);
  let partitions = '';
  for (let i = 0; i < b.kafka_partitions.length; i++) partitions += (i > 0 ? ',' : '') + b.kafka_partitions[i];
  const tail = b.duplicates === undefined ? '' : `,"buffered":${b.buffered},"duplicate_count":${b.duplicate_count},"duplicates":[]`;
  return `{"batch_id":${JSON.stringify(b.batch_id)},"accepted_count":${b.accepted_count},"rejected_count":${b.rejected_count},"processing_time_ms":${b.processing_time_ms},"kafka_partition":${b.kafka_partition},"kafka_partitions":[${partitions}],"dlq_events":[],"warnings":[]${tail}}`;
}
