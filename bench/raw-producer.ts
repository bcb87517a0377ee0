/**
 * The ceiling the collector is measured against: the same Kafka records the collector
 * writes (value = an event's JSON, key = learner_id, headers tenant_id / event_type /
 * batch_id / received_at), produced straight into Kafka from one process with the
 * collector's own librdkafka settings (producerSettings(loadConfig())) — no HTTP, no
 * validation, no worker hop. Events/s counts delivered records: the clock stops at the last
 * delivery report, as the collector answers only after its reports.
 *
 * Client: `collector` (default) is the collector's own producer (src/producer/producer.ts:
 * native/producer, one call per 100-record batch, reports counted in C) — the fastest way
 * this code base has into librdkafka, so the limit stays a limit. `node-rdkafka` is one
 * produce() call and one delivery-report event per record (what the collector used before
 * its batch producer, and the limit of reports up to 2026-11-27): BENCH_RAW_CLIENT picks.
 *
 * N collector processes have N producers, so the limit they are compared with is N
 * producer processes running at once (rawLimit).
 */
import Kafka from 'node-rdkafka';
import pino from 'pino';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadConfig } from '../src/config/load.js';
import type { DeliveryReport, LibrdKafkaError, MessageHeader } from 'node-rdkafka';
import { randomUUID } from 'node:crypto';
import type { Config } from '../src/config/schema.js';
import { producerSettings } from '../src/producer/settings.js';
import { EventProducer } from '../src/producer/producer.js';
import { PackedBuilder, type PackedRecords } from '../src/codec/packed.js';
import { EVENT_HEADERS } from '../src/codec/decode.js';
import { syntheticBatch } from '../src/pipeline/synthetic.js';
import { cpuSeconds, round, Sampler, type Proc, type Usage } from './lib/proc.js';

export type RawClient = 'collector' | 'node-rdkafka';

export interface RawResult {
  events: number;
  failed: number;
  seconds: number;
  eventsPerS: number;
  /** CPU of this (producing) process per 1000 delivered events, ms */
  producerCpuMsPer1k: number;
  avgValueBytes: number;
}

interface Rec { value: Buffer; key: string; headers: MessageHeader[] }

/** A pool of distinct batches, built before the clock starts so JSON.stringify is not measured. */
function buildPool(batches: number, batchSize: number): { recs: Rec[][]; packed: PackedRecords[] } {
  const recs: Rec[][] = [];
  const packed: PackedRecords[] = [];
  for (let b = 0; b < batches; b++) {
    const batchId = randomUUID();
    const receivedAt = new Date().toISOString();
    const events = syntheticBatch(batchSize, {}, b * batchSize);
    recs.push(events.map((e): Rec => ({
      value: Buffer.from(JSON.stringify(e)),
      key: e.learner_id as string,
      headers: [{ tenant_id: e.tenant_id as string }, { event_type: e.event_type as string }, { batch_id: batchId }, { received_at: receivedAt }],
    })));
    const builder = new PackedBuilder();
    events.forEach((e, i) => {
      builder.add(JSON.stringify(e), e.learner_id as string, [e.tenant_id as string, e.event_type as string, batchId, receivedAt], e.event_id as string, i);
    });
    packed.push(builder.build());
  }
  return { recs, packed };
}

/** One way into Kafka, driven by drive(): counts what it delivered, knows what is in flight. */
interface Client {
  /** sends batch b of the pool without waiting */
  send(b: number): void;
  inFlight(): number;
  delivered: number;
  failed: number;
  lastError: string;
  /** resolves when at most `atMost` records are in flight */
  drained(atMost: number): Promise<void>;
  close(): Promise<void>;
}

/** The collector's producer (src/producer/producer.ts): one send() per batch. */
async function collectorClient(config: Readonly<Config>, pool: PackedRecords[]): Promise<Client> {
  const producer = new EventProducer({ ...config, INSTANCE_ID: `bench-raw-${process.env.BENCH_RAW_INDEX ?? 0}` }, pino({ level: 'silent' }));
  await producer.connect(15_000);
  let inFlight = 0;
  let waiter: { atMost: number; resolve: () => void } | undefined;
  const c: Client = {
    delivered: 0, failed: 0, lastError: '',
    inFlight: () => inFlight,
    send(b) {
      const p = pool[b % pool.length]!;
      inFlight += p.count;
      void producer.send(config.KAFKA_TOPIC, p, EVENT_HEADERS, Date.now()).then((d) => {
        inFlight -= p.count;
        c.failed += d.failures.length;
        c.delivered += p.count - d.failures.length;
        if (d.failures.length) c.lastError = d.failures[0]!.message;
        if (waiter && inFlight <= waiter.atMost) { const w = waiter; waiter = undefined; w.resolve(); }
      });
    },
    drained: (atMost) => new Promise<void>((resolve) => {
      if (inFlight <= atMost) resolve();
      else waiter = { atMost, resolve };
    }),
    close: async () => { await producer.flush(5000); await producer.disconnect(); },
  };
  return c;
}

/** node-rdkafka, one produce() and one delivery-report event per record, polled every millisecond. */
async function nodeRdkafkaClient(config: Readonly<Config>, pool: Rec[][]): Promise<Client> {
  // Same settings as the collector; only client.id differs, so broker-side quotas/metrics tell them apart.
  const { global, topic } = producerSettings({ ...config, INSTANCE_ID: `bench-raw-${process.env.BENCH_RAW_INDEX ?? 0}` });
  const producer = new Kafka.Producer(global, topic);
  let inFlight = 0;
  let waiter: { atMost: number; resolve: () => void } | undefined;
  await new Promise<void>((resolve, reject) =>
    producer.connect({ timeout: 15_000 }, (err) => (err ? reject(new Error(`raw producer: ${err.message}`)) : resolve())));
  const poller = setInterval(() => producer.poll(), 1);
  const c: Client = {
    delivered: 0, failed: 0, lastError: '',
    inFlight: () => inFlight,
    send(b) {
      const ts = Date.now();
      for (const r of pool[b % pool.length]!) {
        try {
          producer.produce(config.KAFKA_TOPIC, null, r.value, r.key, ts, undefined, r.headers);
        } catch (e) {
          // Queue full cannot happen under the window; anything else would make the number meaningless.
          throw new Error(`raw producer: produce failed (${(e as Error).message}) with ${inFlight} in flight`);
        }
        inFlight++;
      }
    },
    drained: (atMost) => new Promise<void>((resolve) => {
      if (inFlight <= atMost) resolve();
      else waiter = { atMost, resolve };
    }),
    close: async () => { clearInterval(poller); await new Promise((r) => producer.disconnect(5000, r)); },
  };
  producer.on('delivery-report', (err: LibrdKafkaError | null, _r: DeliveryReport) => {
    inFlight--;
    if (err) { c.failed++; c.lastError = err.message; } else c.delivered++;
    if (waiter && inFlight <= waiter.atMost) { const w = waiter; waiter = undefined; w.resolve(); }
  });
  return c;
}

/** One producer in this process; `go` (if given) is awaited between warm-up and the clock start. */
export async function rawProducerLimit(config: Readonly<Config>, durationS: number, batchSize = 100,
  go: () => Promise<void> = async () => {}, client: RawClient = 'collector'): Promise<RawResult> {
  const pool = buildPool(200, batchSize);
  const avgValueBytes = pool.recs.flat().reduce((a, r) => a + r.value.length, 0) / (pool.recs.length * batchSize);
  // Like the collector: a bounded amount in librdkafka's queue, refilled as reports arrive.
  const window = Math.min(50_000, Math.floor(config.KAFKA_QUEUE_MAX_MESSAGES * 0.8));
  const c = client === 'collector' ? await collectorClient(config, pool.packed) : await nodeRdkafkaClient(config, pool.recs);
  try {
    // Warm-up: metadata, connections to the partition leaders, idempotent producer id.
    c.send(0);
    await c.drained(0);
    await go();
    c.delivered = 0;

    const cpu0 = cpuSeconds(process.pid);
    const t0 = performance.now();
    const end = t0 + durationS * 1000;
    for (let b = 0; performance.now() < end; b++) {
      if (c.inFlight() + batchSize > window) await c.drained(window / 2);
      c.send(b);
      if (b % 50 === 0) await new Promise((r) => setImmediate(r)); // let reports (and node-rdkafka's poller) run
    }
    await c.drained(0);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(process.pid) - cpu0;
    if (c.failed > 0) console.error(`raw producer: ${c.failed} records failed (${c.lastError})`);
    return {
      events: c.delivered,
      failed: c.failed,
      seconds: round(seconds, 3),
      eventsPerS: Math.round(c.delivered / seconds),
      producerCpuMsPer1k: round((cpu * 1000) / (c.delivered / 1000), 3),
      avgValueBytes: Math.round(avgValueBytes),
    };
  } finally {
    await c.close();
  }
}

export interface RawLimit extends RawResult { producers: number; perProducer: number[]; usage: Usage; client: RawClient }

/**
 * `n` producer processes, released together once all are warm; events/s is their sum.
 * CPU/RSS of the producers and of `extra` (the broker) are sampled while they run.
 */
export async function rawLimit(n: number, durationS: number, extra: Proc[], client: RawClient = 'collector'): Promise<RawLimit> {
  const script = fileURLToPath(import.meta.url);
  const kids: ChildProcess[] = [];
  const kill = () => kids.forEach((k) => {
    if (k.exitCode === null) k.kill('SIGKILL');
  });
  process.once('exit', kill);
  try {
    const results: Promise<RawResult>[] = [];
    const ready: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const k = fork(script, [String(durationS), client], { env: { ...process.env, BENCH_RAW_INDEX: String(i) }, stdio: 'inherit' });
      kids.push(k);
      const exited = new Promise<never>((_, reject) => k.once('exit', (code) => reject(new Error(`raw producer ${i} exited (${code})`))));
      ready.push(Promise.race([new Promise<void>((resolve) => k.once('message', () => resolve())), exited]));
      results.push(Promise.race([new Promise<RawResult>((resolve) => k.on('message', (m: { result?: RawResult }) => m.result && resolve(m.result))), exited]));
    }
    await Promise.all(ready);
    const sampler = new Sampler([...extra, ...kids.map((k, i) => ({ role: `producer#${i}`, pid: k.pid ?? 0 }))]);
    sampler.start();
    for (const k of kids) k.send('go');
    const rs = await Promise.all(results);
    const usage = sampler.stop();
    const events = rs.reduce((a, r) => a + r.events, 0);
    return {
      client,
      producers: n,
      perProducer: rs.map((r) => r.eventsPerS),
      events,
      failed: rs.reduce((a, r) => a + r.failed, 0),
      seconds: Math.max(...rs.map((r) => r.seconds)),
      eventsPerS: rs.reduce((a, r) => a + r.eventsPerS, 0),
      producerCpuMsPer1k: round(rs.reduce((a, r) => a + r.producerCpuMsPer1k * r.events, 0) / events, 3),
      avgValueBytes: rs[0]!.avgValueBytes,
      usage,
    };
  } finally {
    kill();
    process.removeListener('exit', kill);
  }
}

// Child mode (forked by rawLimit): warm up, say ready, wait for 'go', measure, report, exit.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href && process.send) {
  process.on('disconnect', () => process.exit(1)); // the parent died: do not produce forever
  const go = () => new Promise<void>((resolve) => { process.once('message', () => resolve()); process.send!('ready'); });
  const result = await rawProducerLimit(loadConfig(), Number(process.argv[2]), 100, go, (process.argv[3] ?? 'collector') as RawClient);
  process.send({ result }, () => process.exit(0));
}
