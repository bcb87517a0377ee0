/**
 * librdkafka settings from the collector's config. Topic-level properties (acks,
 * message.timeout.ms, partitioner) are silently ignored by node-rdkafka in the global
 * object, so they go in the second (topic) object.
 */
import type { ProducerGlobalConfig, ProducerTopicConfig } from 'node-rdkafka';
import type { Config } from '../config/schema.js';
import { securitySettings } from './security.js';

export function producerSettings(config: Readonly<Config>): { global: ProducerGlobalConfig; topic: ProducerTopicConfig } {
  const extra = JSON.parse(config.KAFKA_CONFIG_JSON) as Record<string, unknown>;
  const global: ProducerGlobalConfig = {
    'bootstrap.servers': config.KAFKA_BOOTSTRAP_SERVERS,
    'client.id': `${config.KAFKA_CLIENT_ID}-${config.INSTANCE_ID}`,
    'enable.idempotence': config.KAFKA_IDEMPOTENT,
    'compression.codec': config.KAFKA_COMPRESSION_TYPE,
    'linger.ms': config.KAFKA_LINGER_MS,
    'batch.size': config.KAFKA_BATCH_SIZE,
    'max.in.flight.requests.per.connection': config.KAFKA_MAX_IN_FLIGHT,
    'queue.buffering.max.messages': config.KAFKA_QUEUE_MAX_MESSAGES,
    'socket.keepalive.enable': true,
    // Nagle + delayed ACK adds tens of ms per produce round trip; we batch ourselves (linger.ms).
    'socket.nagle.disable': true,
    // Brokers that go away must be noticed fast (circuit breaker), not after minutes.
    'reconnect.backoff.max.ms': 1000,
    'dr_cb': true,
    ...(securitySettings(config) as ProducerGlobalConfig),
    ...(extra as ProducerGlobalConfig),
  };
  const topic: ProducerTopicConfig = {
    'request.required.acks': config.KAFKA_ACKS === 'all' ? -1 : Number(config.KAFKA_ACKS),
    'message.timeout.ms': config.KAFKA_DELIVERY_TIMEOUT_MS,
    // The Java client's partitioner: the same key lands on the same partition whoever produces it.
    partitioner: 'murmur2_random',
  };
  // A topic-level property; snappy takes no level and `none` compresses nothing.
  if (['gzip', 'lz4', 'zstd'].includes(config.KAFKA_COMPRESSION_TYPE)) topic['compression.level'] = config.KAFKA_COMPRESSION_LEVEL;
  return { global, topic };
}
