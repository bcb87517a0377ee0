/**
 * classifyFailure over librdkafka's named error codes: a record the broker or librdkafka refuses
 * for what it is (its size, its format, the client's rights) is final — retrying it only delays
 * the batch behind it and ends in the same refusal — while a broker that is away or slow is
 * retriable. The codes are node-rdkafka's CODES.ERRORS (librdkafka's rd_kafka_resp_err_t).
 */
import t from 'tap';
import { createRequire } from 'node:module';
import { classifyFailure, meansBrokerAway, type FailureKind } from '../../src/producer/classify.js';
import { RESP_ERR } from '../../src/producer/kafka-codes.js';

const { CODES } = createRequire(import.meta.url)('node-rdkafka') as { CODES: { ERRORS: Record<string, number> } };
const E = CODES.ERRORS;

const CASES: [name: string, kind: FailureKind][] = [
  // The record itself: no retry fixes it.
  ['ERR_MSG_SIZE_TOO_LARGE', 'final'],
  ['ERR_INVALID_MSG_SIZE', 'final'],
  ['ERR_INVALID_MSG', 'final'],
  ['ERR_INVALID_RECORD', 'final'],
  ['ERR_RECORD_LIST_TOO_LARGE', 'final'],
  ['ERR_UNSUPPORTED_FOR_MESSAGE_FORMAT', 'final'],
  ['ERR_TOPIC_AUTHORIZATION_FAILED', 'final'],
  ['ERR_CLUSTER_AUTHORIZATION_FAILED', 'final'],
  ['ERR__INVALID_ARG', 'final'],
  // Kafka away, slow or moving: keep the record and retry.
  ['ERR__MSG_TIMED_OUT', 'retriable'],
  ['ERR__TIMED_OUT', 'retriable'],
  ['ERR__TRANSPORT', 'retriable'],
  ['ERR__RESOLVE', 'retriable'],
  ['ERR__ALL_BROKERS_DOWN', 'retriable'],
  ['ERR__QUEUE_FULL', 'retriable'],
  ['ERR__PURGE_QUEUE', 'retriable'],
  ['ERR__PURGE_INFLIGHT', 'retriable'],
  ['ERR_LEADER_NOT_AVAILABLE', 'retriable'],
  ['ERR_NOT_LEADER_FOR_PARTITION', 'retriable'],
  ['ERR_REQUEST_TIMED_OUT', 'retriable'],
  ['ERR_BROKER_NOT_AVAILABLE', 'retriable'],
  ['ERR_NETWORK_EXCEPTION', 'retriable'],
  ['ERR_NOT_ENOUGH_REPLICAS', 'retriable'],
  ['ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND', 'retriable'],
];

t.test('classifyFailure over named librdkafka codes', async (t) => {
  for (const [name, kind] of CASES) {
    const code = E[name];
    t.type(code, 'number', `${name} is one of librdkafka's codes`);
    t.equal(classifyFailure(code!, `Broker: ${name}`), kind, `${name} (${code}) is ${kind}`);
    if (kind === 'final') t.notOk(meansBrokerAway(code!, ''), `${name} never passes for a broker away`);
  }
});

t.test("the collector's named codes are librdkafka's", async (t) => {
  for (const [name, code] of Object.entries(RESP_ERR)) t.equal(code, E[name], name);
});

t.test('code -1 (no code known): the message decides', async (t) => {
  t.equal(classifyFailure(-1, 'Broker: Message size too large'), 'final');
  t.equal(classifyFailure(-1, 'Broker: Cluster authorization failed'), 'final');
  t.equal(classifyFailure(-1, 'Broker: Unsupported for message format'), 'final');
  t.equal(classifyFailure(-1, 'Local: Broker transport failure'), 'retriable');
});
