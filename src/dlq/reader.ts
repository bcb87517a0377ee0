/**
 * Reads a topic from a start (its beginning, or the first record at or after a time) up to the end
 * it had when reading began, partition by partition, without a consumer group: the DLQ tools only
 * look, they never move anyone's committed offsets. read_committed, so records of an aborted
 * transaction (a replay killed half-way) are never seen. Transaction markers take offsets that
 * carry no record, so the end is judged by the consumer's position, not by the last record seen.
 */
import Kafka from 'node-rdkafka';
import { randomUUID } from 'node:crypto';
import type { RawRecord } from './record.js';

export interface ReadOptions {
  bootstrap: string;
  topic: string;
  /** librdkafka settings besides bootstrap.servers (security, client id) */
  extra?: Record<string, unknown>;
  since?: number | undefined;
  /** no progress for this long: stop and say so (a partition whose leader is away) */
  stallMs?: number;
}

type Consumer = Kafka.KafkaConsumer;

const call = <T>(fn: (cb: (err: Kafka.LibrdKafkaError | null, v: T) => void) => void): Promise<T> =>
  new Promise((resolve, reject) => fn((err, v) => (err ? reject(err) : resolve(v))));

export class TopicReader {
  private constructor(private readonly consumer: Consumer, private readonly ends: Map<number, number>, readonly topic: string) {}

  static async open(o: ReadOptions): Promise<TopicReader> {
    const consumer = new Kafka.KafkaConsumer(
      {
        ...(o.extra ?? {}),
        'bootstrap.servers': o.bootstrap,
        'group.id': `dlq-tool-${randomUUID()}`, // never joined nor committed: assign() below
        'enable.auto.commit': false,
        'isolation.level': 'read_committed',
      },
      { 'auto.offset.reset': 'earliest' },
    );
    await call<unknown>((cb) => consumer.connect({ timeout: 20_000 }, cb));
    try {
      const meta = await call<Kafka.Metadata>((cb) => consumer.getMetadata({ topic: o.topic, timeout: 20_000 }, cb));
      const t = meta.topics.find((x) => x.name === o.topic);
      if (!t || t.partitions.length === 0) throw new Error(`topic ${o.topic} does not exist`);
      const ends = new Map<number, number>();
      const assignment: Kafka.Assignment[] = [];
      for (const p of t.partitions) {
        const w = await call<Kafka.WatermarkOffsets>((cb) => consumer.queryWatermarkOffsets(o.topic, p.id, 20_000, cb));
        let start = w.lowOffset;
        if (o.since !== undefined) {
          const [at] = await call<Kafka.TopicPartitionOffset[]>((cb) => consumer.offsetsForTimes([{ topic: o.topic, partition: p.id, offset: o.since! }], 20_000, cb));
          // -1: no record at or after that time in this partition.
          start = at && at.offset >= 0 ? at.offset : w.highOffset;
        }
        if (start < w.highOffset) {
          ends.set(p.id, w.highOffset);
          assignment.push({ topic: o.topic, partition: p.id, offset: start });
        }
      }
      if (assignment.length) consumer.assign(assignment);
      return new TopicReader(consumer, ends, o.topic);
    } catch (err) {
      await new Promise((r) => consumer.disconnect(r));
      throw err;
    }
  }

  /** Records in batches, in offset order per partition, until every partition reached its end. */
  async *batches(stallMs = 30_000): AsyncGenerator<RawRecord[]> {
    let lastProgress = Date.now();
    while (this.ends.size > 0) {
      const msgs = await call<Kafka.Message[]>((cb) => this.consumer.consume(500, cb));
      const out: RawRecord[] = [];
      for (const m of msgs) {
        const end = this.ends.get(m.partition);
        if (end === undefined || m.offset >= end) continue;
        const headers: Record<string, string> = {};
        for (const h of m.headers ?? []) for (const [k, v] of Object.entries(h)) headers[k] = Buffer.isBuffer(v) ? v.toString('utf8') : String(v);
        out.push({ topic: m.topic, partition: m.partition, offset: m.offset, timestamp: m.timestamp, key: m.key === null || m.key === undefined ? null : m.key.toString(), value: m.value, headers });
      }
      for (const pos of this.consumer.position()) {
        const end = this.ends.get(pos.partition);
        if (end !== undefined && pos.offset >= end) this.ends.delete(pos.partition);
      }
      if (out.length > 0) {
        lastProgress = Date.now();
        yield out;
      } else if (Date.now() - lastProgress > stallMs) {
        throw new Error(`reading ${this.topic}: no progress for ${stallMs} ms on partition(s) ${[...this.ends.keys()].join(', ')}`);
      }
    }
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, 10_000);
      this.consumer.disconnect(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }
}
