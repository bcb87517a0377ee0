/**
 * Reads records back from the real broker: the only proof of delivery a test accepts.
 */
import Kafka from 'node-rdkafka';
import { randomUUID } from 'node:crypto';

export interface ReadRecord {
  key: string | null;
  value: string;
  partition: number;
  offset: number;
  headers: Record<string, string>;
}

/**
 * Consume `topic` from the beginning until `until(records)` is true or the timeout passes.
 * Returns what was read either way; the caller asserts.
 */
export async function readTopic(
  bootstrap: string,
  topic: string,
  until: (records: ReadRecord[]) => boolean,
  timeoutMs = 30_000,
  /** librdkafka settings besides the bootstrap (a secured listener's) */
  extra: Kafka.ConsumerGlobalConfig = {},
): Promise<ReadRecord[]> {
  const consumer = new Kafka.KafkaConsumer(
    { ...extra, 'group.id': `test-${randomUUID()}`, 'bootstrap.servers': bootstrap, 'enable.auto.commit': false },
    { 'auto.offset.reset': 'earliest' },
  );
  await new Promise<void>((resolve, reject) => consumer.connect({ timeout: 20_000 }, (err) => (err ? reject(err) : resolve())));
  consumer.subscribe([topic]);
  const out: ReadRecord[] = [];
  const deadline = Date.now() + timeoutMs;
  try {
    while (!until(out) && Date.now() < deadline) {
      const batch = await new Promise<Kafka.Message[]>((resolve, reject) =>
        consumer.consume(500, (err, msgs) => (err ? reject(err) : resolve(msgs))),
      );
      for (const m of batch) {
        const headers: Record<string, string> = {};
        for (const h of m.headers ?? []) for (const [k, v] of Object.entries(h)) headers[k] = v.toString();
        out.push({
          key: m.key === null || m.key === undefined ? null : m.key.toString(),
          value: m.value?.toString() ?? '',
          partition: m.partition,
          offset: m.offset,
          headers,
        });
      }
    }
  } finally {
    // librdkafka's consumer close can wait on a group leave the broker never answers: what was read is
    // read, so give the close a bound instead of letting it hold the test.
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 10_000);
      consumer.disconnect(() => { clearTimeout(timer); resolve(); });
    });
  }
  return out;
}

/** Event ids in the values of the records read. */
export function eventIds(records: ReadRecord[]): Set<string> {
  return new Set(records.map((r) => (JSON.parse(r.value) as { event_id: string }).event_id));
}

/**
 * Reads `topic` until every id in `ids` was seen (incrementally: the check is O(new records)),
 * or the timeout passes. Returns all records read; the caller asserts.
 */
export async function readUntilIds(bootstrap: string, topic: string, ids: Iterable<string>, timeoutMs = 60_000, extra: Kafka.ConsumerGlobalConfig = {}): Promise<ReadRecord[]> {
  const want = new Set(ids);
  let checked = 0;
  return readTopic(
    bootstrap,
    topic,
    (rs) => {
      for (; checked < rs.length; checked++) want.delete((JSON.parse(rs[checked]!.value) as { event_id: string }).event_id);
      return want.size === 0;
    },
    timeoutMs,
    extra,
  );
}
