/**
 * The batch producer addon (native/producer, C over the librdkafka node-rdkafka builds):
 * its interface and its loader. See native/producer/README.md.
 */
import { loadNativeAddon } from '../native-addon.js';

declare const handleBrand: unique symbol;
export type ProducerHandle = { readonly [handleBrand]: true };

/** [record index, librdkafka error code, message] */
export type NativeFailure = [number, number, string];

export const EV_BATCH = 0;
export const EV_ERROR = 1;

export interface NativeProducer {
  librdkafkaVersion: string;
  /** conf as flat [key, value, key, value, …] string lists; onEvent gets settled batches and client errors */
  create(
    global: string[],
    topic: string[],
    onEvent: (kind: number, a: number, b: number[] | string, c?: NativeFailure[] | null) => void,
  ): ProducerHandle;
  /** a metadata round trip: rejects when no broker answers within the timeout */
  connect(h: ProducerHandle, timeoutMs: number): Promise<void>;
  /**
   * enqueues the records in order; returns the ones librdkafka refused at once (they get no report). From the
   * first refusal on (unless only that record was too large) the rest is not offered and comes back with the
   * refusal's code: no record may reach Kafka ahead of a refused one of its batch.
   */
  produce(
    h: ProducerHandle,
    topic: string,
    bytes: ArrayBuffer,
    offsets: Uint32Array,
    count: number,
    keys: (string | null)[],
    headerNames: readonly string[],
    headers: string[][],
    timestampMs: number,
    id: number,
  ): NativeFailure[] | null;
  outqLen(h: ProducerHandle): number;
  /** the value librdkafka holds for a global property (null when unknown): what the configuration became */
  configValue(h: ProducerHandle, name: string): string | null;
  ref(h: ProducerHandle, on: boolean): void;
  /** SASL PLAIN/SCRAM credentials for the next authentication (librdkafka's rd_kafka_sasl_set_credentials) */
  saslCredentials(h: ProducerHandle, username: string, password: string): void;
  close(h: ProducerHandle): Promise<void>;
}

export function loadNativeProducer(): NativeProducer {
  return loadNativeAddon<NativeProducer>('producer');
}

/** librdkafka properties as the addon takes them: strings, node-rdkafka's own switches left out. */
export function confPairs(conf: object): string[] {
  const out: string[] = [];
  for (const [k, v] of Object.entries(conf)) {
    if (v === undefined || k === 'dr_cb' || k === 'dr_msg_cb' || k === 'event_cb') continue;
    out.push(k, String(v));
  }
  return out;
}
