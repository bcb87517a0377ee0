/**
 * Drains the spill logs into Kafka, oldest first, while live traffic continues. It is
 * also the circuit's prober: when the circuit is open it sends one batch (half-open)
 * and, when Kafka acknowledges it, closes the circuit and drains at full speed.
 *
 * A chunk of records is acknowledged in the log (durably) only after Kafka has
 * acknowledged every record of it; a chunk that fails partly is re-read and re-sent
 * whole, so replay is at-least-once and the re-sent records are counted as possible
 * duplicates. A record refused for good, or failing more than maxRetries times, is
 * quarantined to the DLQ so it never wedges the records behind it.
 *
 * A chunk holds at most queueBudget events minus what the producer already holds: a chunk
 * of 256 spilled 1000-event batches is 256,000 records, past librdkafka's queue cap, and
 * its QUEUE_FULL failures once made the circuit flap (replay at ~120 events/s) and, after
 * maxRetries, quarantined good events as poison pills. Queue-full failures are retried
 * without counting as attempts.
 */
import type { Logger } from 'pino';
import type { EventProducer } from '../producer/producer.js';
import type { Circuit } from '../producer/circuit.js';
import { classifyFailure, isQueueFull } from '../producer/classify.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { poisonDeadLetters } from '../pipeline/poison.js';
import { decodeSpilledBatch } from './batch-codec.js';
import type { SpillClient } from './client.js';

export interface ReplayerDeps {
  spill: SpillClient;
  producer: EventProducer;
  circuit: Circuit;
  telemetry: Telemetry;
  log: Logger;
  dlqTopic: string;
  deadLetterHeaders: readonly string[];
  instance: string;
  maxRetries: number;
  /** events a chunk may put in the producer's queue (with what it holds already) */
  queueBudget: number;
}

const CHUNK_RECORDS = 256;
const CHUNK_BYTES = 16 << 20;
const IDLE_MS = 1000;
const RETRY_MS = 250;

export class Replayer {
  private stopped = false;
  private wake: (() => void) | undefined;
  private readonly cursor = new Map<string, number>();
  /** failed attempts per "source/seq/record" while this process lives */
  private readonly attempts = new Map<string, number>();
  private loop: Promise<void> | undefined;

  constructor(private readonly d: ReplayerDeps) {}

  start(): void {
    this.loop = this.run().catch((err: unknown) => this.d.log.error({ err }, 'replayer stopped on an error'));
  }

  /** New records were appended: don't wait for the idle timer. */
  kick(): void {
    this.wake?.();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.kick();
    await this.loop;
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }

  private async run(): Promise<void> {
    const { spill, producer, circuit } = this.d;
    while (!this.stopped) {
      const source = spill.sources.find((s) => s.records > 0);
      if (!source) {
        await this.sleep(IDLE_MS);
        if (!this.stopped) await spill.refresh().catch(() => undefined);
        continue;
      }
      if (!producer.isConnected || !circuit.tryProbe()) {
        await this.sleep(RETRY_MS);
        continue;
      }
      const probing = circuit.state === 'half_open';
      const from = this.cursor.get(source.source) ?? source.ackedSeq + 1;
      const read = await spill.read(source.source, from, probing ? 1 : CHUNK_RECORDS, CHUNK_BYTES);
      const records = read.slice(0, fitting(read, this.d.queueBudget - producer.queued));
      if (records.length === 0) {
        await spill.refresh();
        this.cursor.delete(source.source);
        continue;
      }
      const ok = await this.sendChunk(source.source, records);
      const last = records[records.length - 1]!;
      if (ok) {
        await spill.ack(source.source, last.seq);
        this.cursor.set(source.source, last.seq + 1);
        if (circuit.state !== 'closed') this.d.log.info({ source: source.source }, 'kafka is back: circuit closed, draining the spill log');
        circuit.succeeded();
        this.d.telemetry.replayed(records.reduce((n, r) => n + r.events, 0));
      } else {
        circuit.trip();
        this.cursor.delete(source.source); // re-read from the last durable ack
        await this.sleep(RETRY_MS);
      }
    }
  }

  /** True when every record of the chunk is in Kafka (or quarantined). */
  private async sendChunk(source: string, records: { seq: number; payload: Uint8Array }[]): Promise<boolean> {
    const { producer, telemetry } = this.d;
    const batches = records.map((r) => decodeSpilledBatch(Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength)));
    // Produce calls are issued in log order, so per-partition order holds.
    const results = await Promise.all(batches.map((b) => producer.send(b.topic, b.records, b.headerNames, b.timestamp)));
    let complete = true;
    let delivered = 0;
    for (let i = 0; i < batches.length; i++) {
      const b = batches[i]!;
      const r = results[i]!;
      delivered += b.records.count - r.failures.length;
      telemetry.kafkaWritten(b.topic === this.d.dlqTopic ? 'dlq' : 'events', b.records.count - r.failures.length);
      const condemned: { record: number; message: string }[] = [];
      for (const f of r.failures) {
        if (isQueueFull(f.code, f.message)) {
          complete = false;
          continue;
        }
        const key = `${source}/${records[i]!.seq}/${f.record}`;
        const n = (this.attempts.get(key) ?? 0) + 1;
        this.attempts.set(key, n);
        if (classifyFailure(f.code, f.message) === 'final' || n > this.d.maxRetries) {
          condemned.push(f);
          continue;
        }
        complete = false;
        // Failed after reaching a broker: it may be in Kafka already, and it will be sent again.
        telemetry.possibleDuplicates(1);
      }
      if (condemned.length === 0) continue;
      if (b.topic === this.d.dlqTopic) {
        // A dead letter Kafka will not take: nowhere left to put it but the log line.
        this.d.log.error({ count: condemned.length, err: condemned[0]!.message, event_ids: condemned.map((c) => b.records.eventIds[c.record]) }, 'dead letter refused by Kafka: dropped');
        continue;
      }
      const { dead } = poisonDeadLetters({
        records: b.records, failed: condemned, batchId: b.records.headers[0]?.[b.headerNames.indexOf('batch_id')] ?? '',
        instance: this.d.instance, retryCount: Math.max(...condemned.map((c) => this.attempts.get(`${source}/${records[i]!.seq}/${c.record}`) ?? 1)),
        tenantHeader: b.headerNames.indexOf('tenant_id'),
      });
      telemetry.poisoned(condemned.length);
      this.d.log.warn({ count: condemned.length, err: condemned[0]!.message }, 'poison pill in the spill log: quarantined to the DLQ');
      const dl = await producer.send(this.d.dlqTopic, dead, this.d.deadLetterHeaders, b.timestamp);
      if (dl.failures.length > 0) complete = false;
    }
    if (!complete) telemetry.possibleDuplicates(delivered);
    else for (const k of this.attempts.keys()) if (k.startsWith(`${source}/`)) this.attempts.delete(k);
    return complete;
  }
}

/** How many of the records, from the first, fit in a budget of events (always at least one). */
export function fitting(records: readonly { events: number }[], budget: number): number {
  let events = 0;
  let n = 0;
  for (const r of records) {
    if (n > 0 && events + r.events > budget) break;
    events += r.events;
    n++;
  }
  return n;
}
