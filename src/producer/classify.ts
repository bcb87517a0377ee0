/**
 * The one place that decides whether a Kafka failure is worth retrying. Failures carry
 * their librdkafka code (delivery reports and refused enqueues alike, native/producer);
 * ERR_UNKNOWN (-1: no code known, e.g. not connected) leaves the decision to the message text.
 *
 * final     — retrying cannot help (the record itself is refused): quarantine it (poison pill)
 * retriable — Kafka is away or slow: keep it (spill) and retry
 */
import { RESP_ERR } from './kafka-codes.js';

export type FailureKind = 'final' | 'retriable';

// librdkafka codes of produce() errors that no retry fixes: the record's size or format, or the
// client's rights (an ACL change is an operator's fix; until then retries only hold up the batch).
const FINAL_CODES = new Set<number>([
  RESP_ERR.ERR_MSG_SIZE_TOO_LARGE,
  RESP_ERR.ERR_INVALID_MSG_SIZE,
  RESP_ERR.ERR_INVALID_MSG,
  RESP_ERR.ERR_INVALID_RECORD,
  RESP_ERR.ERR_RECORD_LIST_TOO_LARGE,
  RESP_ERR.ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT,
  RESP_ERR.ERR_TOPIC_AUTHORIZATION_FAILED,
  RESP_ERR.ERR_CLUSTER_AUTHORIZATION_FAILED,
  RESP_ERR.ERR__INVALID_ARG,
]);

const FINAL_TEXT = /too large|message size|invalid record|corrupt message|authorization|not authorized|invalid arg|record.*invalid|unsupported for message format/i;

export function classifyFailure(code: number, message: string): FailureKind {
  if (FINAL_CODES.has(code)) return 'final';
  if (code === RESP_ERR.ERR_UNKNOWN && FINAL_TEXT.test(message)) return 'final';
  return 'retriable';
}

/**
 * librdkafka's own queue is full (queue.buffering.max.messages): our backpressure, not a
 * fault of the record or of Kafka. It must never count as a failed attempt of a record.
 */
export function isQueueFull(code: number, message: string): boolean {
  return code === RESP_ERR.ERR__QUEUE_FULL || /queue full/i.test(message);
}

/** The client error (librdkafka's error_cb) that means every broker is unreachable right now. */
export function meansBrokersDown(code: number, message: string): boolean {
  return code === RESP_ERR.ERR__ALL_BROKERS_DOWN || /all broker connections are down|all brokers? (are )?down/i.test(message);
}

// librdkafka codes that say a broker is away or busy, nothing about the record: timed out,
// transport, resolve, all brokers down, purged on shutdown, leader moving, not enough replicas.
const AWAY_CODES = new Set<number>([
  RESP_ERR.ERR__DESTROY,
  RESP_ERR.ERR__TRANSPORT,
  RESP_ERR.ERR__RESOLVE,
  RESP_ERR.ERR__MSG_TIMED_OUT,
  RESP_ERR.ERR__ALL_BROKERS_DOWN,
  RESP_ERR.ERR__TIMED_OUT,
  RESP_ERR.ERR__PURGE_QUEUE,
  RESP_ERR.ERR__PURGE_INFLIGHT,
  RESP_ERR.ERR_LEADER_NOT_AVAILABLE,
  RESP_ERR.ERR_NOT_LEADER_FOR_PARTITION,
  RESP_ERR.ERR_REQUEST_TIMED_OUT,
  RESP_ERR.ERR_BROKER_NOT_AVAILABLE,
  RESP_ERR.ERR_NETWORK_EXCEPTION,
  RESP_ERR.ERR_NOT_ENOUGH_REPLICAS,
  RESP_ERR.ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND,
]);
const AWAY_TEXT = /timed? ?out|transport|broker|connection|disconnect|not available|leader|replicas|purged/i;

/** A failure that must never count as a record's attempt: the record may be fine, Kafka is not there. */
export function meansBrokerAway(code: number, message: string): boolean {
  if (classifyFailure(code, message) === 'final') return false;
  return AWAY_CODES.has(code) || (code === RESP_ERR.ERR_UNKNOWN && AWAY_TEXT.test(message));
}
