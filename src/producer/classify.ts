/**
 * The one place that decides whether a Kafka failure is worth retrying. Failures carry
 * their librdkafka code (delivery reports and refused enqueues alike, native/producer);
 * code -1 (no code known, e.g. not connected) leaves the decision to the message text.
 *
 * final     — retrying cannot help (the record itself is refused): quarantine it (poison pill)
 * retriable — Kafka is away or slow: keep it (spill) and retry
 */
export type FailureKind = 'final' | 'retriable';

// librdkafka codes of produce() errors that no retry fixes.
const FINAL_CODES = new Set([
  10, // ERR_MSG_SIZE_TOO_LARGE (broker)
  2, // ERR_CORRUPT_MESSAGE
  29, // ERR_TOPIC_AUTHORIZATION_FAILED
  87, // ERR_INVALID_RECORD
  18, // ERR_RECORD_LIST_TOO_LARGE
  -186, // ERR__INVALID_ARG
]);

const FINAL_TEXT = /too large|message size|invalid record|corrupt message|authorization|not authorized|invalid arg|record.*invalid/i;

export function classifyFailure(code: number, message: string): FailureKind {
  if (FINAL_CODES.has(code)) return 'final';
  if (code === -1 && FINAL_TEXT.test(message)) return 'final';
  return 'retriable';
}

/**
 * librdkafka's own queue is full (queue.buffering.max.messages): our backpressure, not a
 * fault of the record or of Kafka. It must never count as a failed attempt of a record.
 */
export function isQueueFull(code: number, message: string): boolean {
  return code === -184 || /queue full/i.test(message);
}

/** The client error (librdkafka's error_cb) that means every broker is unreachable right now. */
export function meansBrokersDown(code: number, message: string): boolean {
  return code === -187 || /all broker connections are down|all brokers? (are )?down/i.test(message);
}

// librdkafka codes that say a broker is away or busy, nothing about the record: timed out,
// transport, resolve, all brokers down, purged on shutdown, leader moving, not enough replicas.
const AWAY_CODES = new Set([-197, -195, -193, -192, -187, -185, -152, -151, 5, 6, 7, 8, 13, 19, 20]);
const AWAY_TEXT = /timed? ?out|transport|broker|connection|disconnect|not available|leader|replicas|purged/i;

/** A failure that must never count as a record's attempt: the record may be fine, Kafka is not there (#17.1). */
export function meansBrokerAway(code: number, message: string): boolean {
  if (classifyFailure(code, message) === 'final') return false;
  return AWAY_CODES.has(code) || (code === -1 && AWAY_TEXT.test(message));
}
