/**
 * The ceiling the collector is measured against: the same Kafka records the collector
 * writes (value = an event's JSON, key = learner_id, headers tenant_id / event_type /
 * batch_id / received_at), produced straight into node-rdkafka from one process with
 * the collector's own librdkafka settings (producerSettings(loadConfig())) — no HTTP,
 * no validation, no worker hop. Events/s counts delivered records: the clock stops at
 * the last delivery report, as the collector answers only after its reports.
 *
 * One producer costs ~30 ms CPU per 1k records here (produce() calls, gzip in librdkafka),
 * i.e. one process saturates a core. N collector processes have N producers, so the
 * limit they are compared with is N producer processes running at once (rawLimit).
 */
import Kafka from 'node-rdkafka';
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadConfig } from '../src/config/load.js';
import type { DeliveryReport, LibrdKafkaError, MessageHeader } from 'node-rdkafka';
import { randomUUID } from 'node:crypto';
import type { Config } from '../src/config/schema.js';
import { producerSettings } from '../src/producer/settings.js';
import { syntheticBatch } from '../src/pipeline/synthetic.js';
import { cpuSeconds, round, Sampler, type Proc, type Usage } from './lib/proc.js';

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
function buildPool(batches: number, batchSize: number): Rec[][] {
  const pool: Rec[][] = [];
  for (let b = 0; b < batches; b++) {
    const batchId = randomUUID();
    const receivedAt = new Date().toISOString();
    pool.push(syntheticBatch(batchSize, {}, b * batchSize).map((e): Rec => ({
      value: Buffer.from(JSON.stringify(e)),
      key: e.learner_id as string,
      headers: [{ tenant_id: e.tenant_id as string }, { event_type: e.event_type as string }, { batch_id: batchId }, { received_at: receivedAt }],
    })));
  }
  return pool;
}

/** One producer in this process; `go` (if given) is awaited between warm-up and the clock start. */
export async function rawProducerLimit(config: Readonly<Config>, durationS: number, batchSize = 100,
  go: () => Promise<void> = async () => {}): Promise<RawResult> {
  // Same settings as the collector; only client.id differs, so broker-side quotas/metrics tell them apart.
  const { global, topic } = producerSettings({ ...config, INSTANCE_ID: `bench-raw-${process.env.BENCH_RAW_INDEX ?? 0}` });
  const producer = new Kafka.Producer(global, topic);
  const pool = buildPool(200, batchSize);
  const avgValueBytes = pool.flat().reduce((a, r) => a + r.value.length, 0) / (pool.length * batchSize);

  let inFlight = 0;
  let delivered = 0;
  let failed = 0;
  let lastError = '';
  let waiter: { atMost: number; resolve: () => void } | undefined;
  // Like the collector: a bounded amount in librdkafka's queue, refilled as reports arrive.
  const window = Math.min(50_000, Math.floor(config.KAFKA_QUEUE_MAX_MESSAGES * 0.8));
  producer.on('delivery-report', (err: LibrdKafkaError | null, _r: DeliveryReport) => {
    inFlight--;
    if (err) { failed++; lastError = err.message; } else delivered++;
    if (waiter && inFlight <= waiter.atMost) { const w = waiter; waiter = undefined; w.resolve(); }
  });
  const drained = (atMost: number) => new Promise<void>((resolve) => {
    if (inFlight <= atMost) resolve();
    else waiter = { atMost, resolve };
  });

  await new Promise<void>((resolve, reject) =>
    producer.connect({ timeout: 15_000 }, (err) => (err ? reject(new Error(`raw producer: ${err.message}`)) : resolve())));
  // The collector polls every millisecond while reports are due; so do we.
  const poller = setInterval(() => producer.poll(), 1);
  try {
    const produceBatch = (recs: Rec[]) => {
      const ts = Date.now();
      for (const r of recs) {
        try {
          producer.produce(config.KAFKA_TOPIC, null, r.value, r.key, ts, undefined, r.headers);
        } catch (e) {
          // Queue full cannot happen under the window; anything else would make the number meaningless.
          throw new Error(`raw producer: produce failed (${(e as Error).message}) with ${inFlight} in flight`);
        }
        inFlight++;
      }
    };
    // Warm-up: metadata, connections to the partition leaders, idempotent producer id.
    produceBatch(pool[0]!);
    await drained(0);
    await go();
    delivered = 0;

    const cpu0 = cpuSeconds(process.pid);
    const t0 = performance.now();
    const end = t0 + durationS * 1000;
    for (let b = 0; performance.now() < end; b++) {
      if (inFlight + batchSize > window) await drained(window / 2);
      produceBatch(pool[b % pool.length]!);
      if (b % 50 === 0) await new Promise((r) => setImmediate(r)); // let reports and the poller run
    }
    await drained(0);
    const seconds = (performance.now() - t0) / 1000;
    const cpu = cpuSeconds(process.pid) - cpu0;
    if (failed > 0) console.error(`raw producer: ${failed} records failed (${lastError})`);
    return {
      events: delivered,
      failed,
      seconds: round(seconds, 3),
      eventsPerS: Math.round(delivered / seconds),
      producerCpuMsPer1k: round((cpu * 1000) / (delivered / 1000), 3),
      avgValueBytes: Math.round(avgValueBytes),
    };
  } finally {
    clearInterval(poller);
    await new Promise((r) => producer.disconnect(5000, r));
  }
}

export interface RawLimit extends RawResult { producers: number; perProducer: number[]; usage: Usage }

/**
 * `n` producer processes, released together once all are warm; events/s is their sum.
 * CPU/RSS of the producers and of `extra` (the broker) are sampled while they run.
 */
export async function rawLimit(n: number, durationS: number, extra: Proc[]): Promise<RawLimit> {
  const script = fileURLToPath(import.meta.url);
  const kids: ChildProcess[] = [];
  const kill = () => kids.forEach((k) => k.exitCode === null && k.kill('SIGKILL'));
  process.once('exit', kill);
  try {
    const results: Promise<RawResult>[] = [];
    const ready: Promise<void>[] = [];
    for (let i = 0; i < n; i++) {
      const k = fork(script, [String(durationS)], { env: { ...process.env, BENCH_RAW_INDEX: String(i) }, stdio: 'inherit' });
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
  const result = await rawProducerLimit(loadConfig(), Number(process.argv[2]), 100, go);
  process.send({ result }, () => process.exit(0));
}
