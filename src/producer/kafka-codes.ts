/**
 * The librdkafka error codes the collector decides on, by their names in rdkafka.h
 * (rd_kafka_resp_err_t without the RD_KAFKA_RESP_ prefix, as node-rdkafka's CODES.ERRORS names
 * them). Written out rather than imported: node-rdkafka's table loads its whole binding (~9 MB
 * per process) and the producer is our own addon; test/producer/classify.test.ts holds every
 * value here to node-rdkafka's table. Negative codes are librdkafka's own (local), the others
 * the broker's.
 */
export const RESP_ERR = {
  ERR__PURGE_INFLIGHT: -151,
  ERR__PURGE_QUEUE: -152,
  ERR__QUEUE_FULL: -184,
  ERR__TIMED_OUT: -185,
  ERR__INVALID_ARG: -186,
  ERR__ALL_BROKERS_DOWN: -187,
  ERR__MSG_TIMED_OUT: -192,
  ERR__RESOLVE: -193,
  ERR__TRANSPORT: -195,
  ERR__DESTROY: -197,
  ERR_UNKNOWN: -1,
  ERR_INVALID_MSG: 2,
  ERR_INVALID_MSG_SIZE: 4,
  ERR_LEADER_NOT_AVAILABLE: 5,
  ERR_NOT_LEADER_FOR_PARTITION: 6,
  ERR_REQUEST_TIMED_OUT: 7,
  ERR_BROKER_NOT_AVAILABLE: 8,
  ERR_MSG_SIZE_TOO_LARGE: 10,
  ERR_NETWORK_EXCEPTION: 13,
  ERR_RECORD_LIST_TOO_LARGE: 18,
  ERR_NOT_ENOUGH_REPLICAS: 19,
  ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND: 20,
  ERR_TOPIC_AUTHORIZATION_FAILED: 29,
  ERR_CLUSTER_AUTHORIZATION_FAILED: 31,
  ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT: 43,
  ERR_INVALID_RECORD: 87,
} as const;
