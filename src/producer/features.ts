/**
 * What the librdkafka in this install was built with. The batch producer (native/producer) links the
 * librdkafka node-rdkafka builds, so node-rdkafka's `features` list is the producer's too. Its build
 * detects optional codecs at `npm ci` time: zstd is there only when libzstd's headers were installed
 * first (Debian: libzstd-dev), and a codec librdkafka lacks would otherwise fail every produce.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

let cached: readonly string[] | null = null;

export function librdkafkaFeatures(): readonly string[] {
  cached ??= Object.freeze([...(require('node-rdkafka') as { features: string[] }).features]);
  return cached;
}

/** Kafka compression codecs, as KAFKA_COMPRESSION_TYPE names them, that this librdkafka can write. */
export function supportedCompression(features: readonly string[] = librdkafkaFeatures()): string[] {
  return ['none', ...['gzip', 'snappy', 'lz4', 'zstd'].filter((c) => features.includes(c))];
}
