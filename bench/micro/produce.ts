/**
 * Main-thread cost of producing, per record: node-rdkafka one call per record (headers
 * and opaques built as the collector used to, and cheaper variants) against the
 * collector's batch producer (native/producer: one call per batch, reports counted in C). Needs a
 * broker (KAFKA_BOOTSTRAP_SERVERS, topic `events`). Each variant produces 100-record
 * batches (the spec's event) as fast as reports come back, a bounded number of batches in
 * flight, and reports CPU ms per 1k records of the main thread and of librdkafka's threads.
 * Run: node dist/bench/micro/produce.js [secondsPerVariant=4] [variant,...]
 */
import Kafka from 'node-rdkafka';
import type { DeliveryReport, LibrdKafkaError, MessageHeader } from 'node-rdkafka';
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../../src/config/load.js';
import { producerSettings } from '../../src/producer/settings.js';
import { syntheticBatch } from '../../src/pipeline/synthetic.js';
import pino from 'pino';
import { EventProducer } from '../../src/producer/producer.js';
import { PackedBuilder, type PackedRecords } from '../../src/codec/packed.js';
import { threadCpu } from '../lib/proc.js';

const SECONDS = Number(process.argv[2] ?? 4);
const only = process.argv[3]?.split(',');
const config = loadConfig();
const HEADERS = ['tenant_id', 'event_type', 'batch_id', 'received_at'] as const;

interface Batch { values: Buffer[]; keys: string[]; headers: string[][]; packed: PackedRecords }
const pool: Batch[] = [];
for (let b = 0; b < 50; b++) {
  const events = syntheticBatch(100, {}, b * 100);
  const batchId = randomUUID();
  const at = new Date().toISOString();
  const packed = new PackedBuilder();
  for (const [i, e] of events.entries()) {
    packed.add(JSON.stringify(e), e.learner_id as string, [e.tenant_id as string, e.event_type as string, batchId, at], e.event_id as string, i);
  }
  pool.push({
    values: events.map((e) => Buffer.from(JSON.stringify(e))),
    keys: events.map((e) => e.learner_id as string),
    headers: events.map((e) => [e.tenant_id as string, e.event_type as string, batchId, at]),
    packed: packed.build(),
  });
}

type Variant = {
  name: string;
  /** builds the headers argument of one record */
  headers: (b: Batch, i: number, cache: Map<string, MessageHeader>) => MessageHeader[] | undefined;
  opaque: 'per-record' | 'batch' | 'none';
};

const variants: Variant[] = [
  { name: 'collector (map → 4 objects, opaque per record)', opaque: 'per-record',
    headers: (b, i) => HEADERS.map((name, h) => ({ [name]: b.headers[i]![h]! })) },
  { name: 'cached header objects, opaque per record', opaque: 'per-record',
    headers: (b, i, cache) => b.headers[i]!.map((v, h) => {
      const k = `${h}\u0000${v}`;
      let o = cache.get(k);
      if (!o) {
        o = { [HEADERS[h]!]: v };
        cache.set(k, o);
      }
      return o;
    }) },
  { name: 'map → 4 objects, opaque = batch', opaque: 'batch',
    headers: (b, i) => HEADERS.map((name, h) => ({ [name]: b.headers[i]![h]! })) },
  { name: 'no headers, no opaque (floor)', opaque: 'none', headers: () => undefined },
];

/** CPU of this process's threads between two snapshots, per 1k records: main, librdkafka's, the rest. */
function cpuLine(name: string, t0: ReturnType<typeof threadCpu>, t1: ReturnType<typeof threadCpu>, delivered: number): string {
  let main = 0;
  let rdk = 0;
  let rest = 0;
  for (const [tid, b] of t1) {
    const d = b.s - (t0.get(tid)?.s ?? 0);
    if (tid === process.pid) main += d;
    else if (b.name.startsWith('rdk:')) rdk += d;
    else rest += d;
  }
  const per1k = (s: number) => ((s * 1e6) / delivered).toFixed(1).padStart(6);
  return `${name.padEnd(50)} ${Math.round(delivered / SECONDS).toLocaleString('en-US').padStart(8)} rec/s  main ${per1k(main)}  rdk ${per1k(rdk)}  other ${per1k(rest)} ms/1k`;
}

/** The collector's producer (src/producer/producer.ts: native/producer, one call per batch). */
async function runNative(): Promise<void> {
  const producer = new EventProducer({ ...config, INSTANCE_ID: 'micro-produce' }, pino({ level: 'silent' }));
  await producer.connect(15_000);
  let inFlight = 0;
  let delivered = 0;
  const waiting: (() => void)[] = [];
  const loop = async (seconds: number) => {
    const end = performance.now() + seconds * 1000;
    for (let k = 0; performance.now() < end; k++) {
      if (inFlight >= 40) await new Promise<void>((r) => waiting.push(r));
      const b = pool[k % pool.length]!;
      inFlight++;
      void producer.send(config.KAFKA_TOPIC, b.packed, HEADERS, Date.now()).then((d) => {
        if (d.failures.length) throw new Error(d.failures[0]!.message);
        inFlight--;
        delivered += b.packed.count;
        waiting.shift()?.();
      });
      if (k % 10 === 0) await new Promise((r) => setImmediate(r));
    }
    while (inFlight > 0) await new Promise((r) => setTimeout(r, 1));
  };
  await loop(1);
  delivered = 0;
  const t0 = threadCpu(process.pid);
  await loop(SECONDS);
  console.log(cpuLine('native batch (the collector\'s EventProducer)', t0, threadCpu(process.pid), delivered));
  await producer.flush(5000);
  await producer.disconnect();
}

async function run(v: Variant): Promise<void> {
  const { global, topic } = producerSettings({ ...config, INSTANCE_ID: 'micro-produce' });
  const producer = new Kafka.Producer(global, topic);
  await new Promise<void>((resolve, reject) => producer.connect({ timeout: 15_000 }, (err) => (err ? reject(err) : resolve())));
  let inFlight = 0;
  let delivered = 0;
  let waiter: (() => void) | undefined;
  const done = new Map<object, number>();
  producer.on('delivery-report', (err: LibrdKafkaError | null, r: DeliveryReport) => {
    inFlight--;
    if (err) throw err;
    delivered++;
    const o = r.opaque as { b: object } | object | undefined;
    if (o && 'b' in o) done.set(o.b, (done.get(o.b) ?? 0) + 1);
    if (waiter && inFlight <= 2000) { const w = waiter; waiter = undefined; w(); }
  });
  const poller = setInterval(() => producer.poll(), 1);
  const cache = new Map<string, MessageHeader>();
  const produceBatch = (b: Batch) => {
    const ts = Date.now();
    const batchOpaque = {};
    for (let i = 0; i < b.values.length; i++) {
      const opaque = v.opaque === 'per-record' ? { b: batchOpaque, record: i } : v.opaque === 'batch' ? batchOpaque : undefined;
      producer.produce(config.KAFKA_TOPIC, null, b.values[i]!, b.keys[i]!, ts, opaque, v.headers(b, i, cache));
      inFlight++;
    }
  };
  const loop = async (seconds: number) => {
    const end = performance.now() + seconds * 1000;
    for (let k = 0; performance.now() < end; k++) {
      if (inFlight > 4000) await new Promise<void>((r) => (waiter = r));
      produceBatch(pool[k % pool.length]!);
      if (k % 10 === 0) await new Promise((r) => setImmediate(r));
    }
    while (inFlight > 0) await new Promise((r) => setTimeout(r, 1));
  };
  await loop(1); // warm-up
  delivered = 0;
  const t0 = threadCpu(process.pid);
  await loop(SECONDS);
  const t1 = threadCpu(process.pid);
  clearInterval(poller);
  console.log(cpuLine(v.name, t0, t1, delivered));
  await new Promise((r) => producer.disconnect(5000, r));
}

console.log(`node-rdkafka ${Kafka.librdkafkaVersion}, ${SECONDS} s per variant, 100-record batches, ≤ 4000 records in flight`);
for (const v of variants) if (!only || only.some((o) => v.name.startsWith(o))) await run(v);
if (!only || only.includes('native')) await runNative();
