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
import { classifyFailure, isQueueFull, meansBrokerAway } from '../producer/classify.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { poisonDeadLetters } from '../pipeline/poison.js';
import { decodeSpilledBatch, type SpilledBatch } from './batch-codec.js';
import type { SpillClient } from './client.js';
import type { OrderHeads } from './heads.js';
import { before, orderKey, SLOTS } from './host-table.js';
import { sweepStaleSlots } from './sweep.js';

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
  /** the host order this process publishes in */
  heads: OrderHeads;
  baseDir: string;
}

const CHUNK_RECORDS = 256;
const CHUNK_BYTES = 16 << 20;
const IDLE_MS = 1000;
const RETRY_MS = 250;
// Waiting on another log of the host is a hand-over between processes: poll the table (one pread) often.
const BLOCKED_POLL_MS = 1;
const ADOPT_WHEN_BLOCKED_MS = 2000;
const ERROR_BACKOFF_MAX_MS = 5000;

interface Pending {
  seq: number;
  events: number;
  key: number;
  batch: SpilledBatch;
}

export class Replayer {
  private stopped = false;
  private wake: (() => void) | undefined;
  /** read, decoded, not yet acknowledged records per source, in log order */
  private readonly buffered = new Map<string, Pending[]>();
  /** failed attempts per "source/seq/record" while this process lives (answered failures only) */
  private readonly attempts = new Map<string, number>();
  private loop: Promise<void> | undefined;
  private blockedSince = 0;
  private errorBackoff = 0;
  /** logs this process has seen, and how many records of each are still replayed "unsure": a log found non-empty
   *  (recovered at start, adopted from a dead sibling) may have had its holder's last chunk in Kafka, not yet acked
   *  on disk; those records come again, so the first CHUNK_RECORDS of it are counted as possible duplicates */
  private readonly seen = new Set<string>();
  private readonly unsure = new Map<string, number>();

  constructor(private readonly d: ReplayerDeps) {}

  start(): void {
    this.loop = this.run();
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

  /** Never ends on an error: a failed read, ack or send is logged and retried with backoff (#17.4). */
  private async run(): Promise<void> {
    while (!this.stopped) {
      try {
        await this.step();
        this.errorBackoff = 0;
      } catch (err) {
        this.errorBackoff = Math.min(ERROR_BACKOFF_MAX_MS, Math.max(RETRY_MS, this.errorBackoff * 2));
        const code = (err as { code?: string }).code;
        if (code === 'COLLECTOR_ERR_SPILL_CORRUPT') this.d.telemetry.spillCorrupt(1);
        this.d.log.error({ err, code, retry_in_ms: this.errorBackoff }, code === 'COLLECTOR_ERR_SPILL_CORRUPT' ? 'spill log: a corrupt record was quarantined; replay goes on after it' : 'replay step failed; retrying');
        this.buffered.clear();
        await this.sleep(this.errorBackoff);
      }
    }
  }

  private track(): void {
    const { spill, heads } = this.d;
    for (const s of spill.sources) {
      if (!heads.tracked(s.dir)) heads.track(s.dir, s.records > 0);
      if (!this.seen.has(s.source)) {
        this.seen.add(s.source);
        if (s.records > 0) this.unsure.set(s.source, CHUNK_RECORDS);
      }
    }
  }

  private async step(): Promise<void> {
    const { spill, producer, circuit, heads } = this.d;
    this.track();
    const live = spill.sources.filter((s) => s.records > 0 || (this.buffered.get(s.source)?.length ?? 0) > 0);
    for (const s of spill.sources) {
      if (s.records === 0 && !this.buffered.get(s.source)?.length) {
        heads.setFloor(s.dir, 0);
        if (s.dir !== heads.ownDir) {
          // drained adopted log: clear its slot first, then let its lock go
          heads.release(s.dir);
          await spill.release(s.source);
        }
      }
    }
    if (live.length === 0) {
      this.blockedSince = 0;
      await this.sleep(IDLE_MS);
      if (!this.stopped) await spill.refresh();
      await this.unblock();
      return;
    }
    if (!producer.isConnected || !circuit.tryProbe()) {
      await this.sleep(RETRY_MS);
      return;
    }
    // The head of every log this process holds, exact (read and decoded).
    for (const s of live) {
      let buf = this.buffered.get(s.source);
      if (buf?.length) continue;
      const records = await spill.read(s.source, s.ackedSeq + 1, CHUNK_RECORDS, CHUNK_BYTES);
      if (records.length === 0) {
        await spill.refresh();
        return;
      }
      buf = records.map((r) => {
        const batch = decodeSpilledBatch(Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength));
        return { seq: r.seq, events: r.events, key: orderKey(batch.stamp), batch };
      });
      this.buffered.set(s.source, buf);
      heads.setFloor(s.dir, buf[0]!.key);
    }
    // The oldest of them, and the oldest head of every other log of the host.
    let pick: (typeof live)[number] | undefined;
    for (const s of live) {
      const k = this.buffered.get(s.source)![0]!.key;
      if (!pick || before(k, heads.slot(s.dir), this.buffered.get(pick.source)![0]!.key, heads.slot(pick.dir))) pick = s;
    }
    const source = pick!;
    const mySlot = heads.slot(source.dir);
    const table = heads.table.read();
    let boundKey = Infinity;
    let boundSlot = SLOTS;
    for (let j = 0; j < SLOTS; j++) {
      const v = table[j]!;
      if (j === mySlot || v <= 0) continue;
      if (before(v, j, boundKey, boundSlot)) {
        boundKey = v;
        boundSlot = j;
      }
    }
    // The log's own pinned first copies (spilled while still in flight) also bound it.
    const pin = heads.pinned(source.dir);
    const buf = this.buffered.get(source.source)!;
    let n = 0;
    while (n < buf.length && before(buf[n]!.key, mySlot, boundKey, boundSlot) && (pin === 0 || buf[n]!.key <= pin)) n++;
    if (n === 0) {
      // Another log of the host owes an older batch: wait for it (adopting it if its holder died).
      if (this.blockedSince === 0) this.blockedSince = Date.now();
      if (Date.now() - this.blockedSince > ADOPT_WHEN_BLOCKED_MS) {
        this.blockedSince = Date.now();
        await this.unblock();
      }
      await this.sleep(BLOCKED_POLL_MS);
      return;
    }
    this.blockedSince = 0;
    const probing = circuit.state === 'half_open';
    const candidates = buf.slice(0, probing ? 1 : n);
    const chunk = candidates.slice(0, fitting(candidates, this.d.queueBudget - producer.queued));
    const ok = await this.sendChunk(source.source, chunk);
    if (ok) {
      const last = chunk[chunk.length - 1]!;
      buf.splice(0, chunk.length);
      // Published as soon as Kafka has the chunk, before the (fsynced) log ack: the other logs of the host
      // wait on this value, not on our disk. A crash in between only re-sends the chunk (duplicates).
      // Until the next head is read, the key just delivered is its lower bound.
      heads.setFloor(source.dir, buf[0]?.key ?? last.key);
      await spill.ack(source.source, last.seq);
      if (!buf.length && !spill.sources.find((s) => s.source === source.source)?.records) heads.setFloor(source.dir, 0);
      if (circuit.state !== 'closed') this.d.log.info({ source: source.source }, 'kafka is back: circuit closed, draining the spill log');
      circuit.succeeded();
      this.d.telemetry.replayed(chunk.reduce((a, r) => a + r.events, 0));
    } else {
      circuit.trip();
      await this.sleep(RETRY_MS);
    }
  }

  /** Adopts logs whose holder died and clears the slots of dead holders that owe nothing. */
  private async unblock(): Promise<void> {
    const { heads, spill } = this.d;
    const table = heads.table.read();
    const owned = heads.ownedSlots();
    let stale = false;
    for (let j = 0; j < SLOTS; j++) if (table[j]! > 0 && !owned.has(j)) stale = true;
    if (!stale) return;
    const toAdopt = sweepStaleSlots(this.d.baseDir, heads.table, owned);
    if (toAdopt) {
      await spill.adopt();
      this.track();
    }
    heads.republish();
  }

  /** True when every record of the chunk is in Kafka (or quarantined). */
  private async sendChunk(source: string, records: Pending[]): Promise<boolean> {
    const { producer, telemetry } = this.d;
    const batches = records.map((r) => r.batch);
    // Produce calls are issued in log order, so per-partition order holds.
    const results = await Promise.all(batches.map((b) => producer.send(b.topic, b.records, b.headerNames, b.timestamp)));
    let complete = true;
    let delivered = 0;
    let unsure = this.unsure.get(source) ?? 0;
    for (let i = 0; i < batches.length; i++) {
      const b = batches[i]!;
      const r = results[i]!;
      delivered += b.records.count - r.failures.length;
      // A second copy of a record whose first may be in Kafka: counted by whoever replays it (the spilling
      // process may be dead by now).
      if (b.firstCopyOut || unsure > 0) telemetry.possibleDuplicates(b.records.count - r.failures.length);
      if (unsure > 0) unsure--;
      telemetry.kafkaWritten(b.topic === this.d.dlqTopic ? 'dlq' : 'events', b.records.count - r.failures.length);
      const condemned: { record: number; message: string }[] = [];
      for (const f of r.failures) {
        if (isQueueFull(f.code, f.message)) {
          complete = false;
          continue;
        }
        const key = `${source}/${records[i]!.seq}/${f.record}`;
        // A broker that is away (timeout, transport, all down) says nothing about the record: not an attempt.
        const away = meansBrokerAway(f.code, f.message);
        const n = (this.attempts.get(key) ?? 0) + (away ? 0 : 1);
        if (!away) this.attempts.set(key, n);
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
    if (unsure > 0) this.unsure.set(source, unsure);
    else this.unsure.delete(source);
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
