/**
 * Drains the spill logs of the host into Kafka, oldest first, while live traffic continues.
 *
 * Two roles (docs/ARCHITECTURE.md "Host-wide order"):
 *   - leader (one per host, replay-lock.ts): reads EVERY log of the host read-only through the
 *     spill thread (sibling-reader.ts), merges them by stamp (merge.ts) and sends the merged
 *     order through its one producer, a chunk at a time; after Kafka acknowledged a chunk it
 *     writes each log's replay marker (replayed.ts). It is also the circuit's prober: when its
 *     circuit is open it sends one batch (half-open) and, once Kafka acknowledges it, closes the
 *     circuit and drains at full speed. It adopts the logs of dead processes (sweep.ts).
 *   - owner (every process, the leader too): turns the markers of the logs it holds into its own
 *     durable acks (segments truncated and deleted by their owner only), publishes whether they
 *     still owe, and closes its circuit when the leader got its records into Kafka.
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
import type { BatchDelivery, EventProducer, RecordFailure } from '../producer/producer.js';
import type { Circuit } from '../producer/circuit.js';
import { classifyFailure, isQueueFull, meansBrokerAway } from '../producer/classify.js';
import { RESP_ERR } from '../producer/kafka-codes.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { poisonDeadLetters } from '../pipeline/poison.js';
import { decodeSpilledBatch, type SpilledBatch } from '../spill/index.js';
import type { SpillClient } from '../spill/index.js';
import type { OrderHeads } from './heads.js';
import { orderKey, SLOTS, stampNow } from './host-table.js';
import { mergeChunk } from './merge.js';
import type { ReplayLeadership } from './replay-lock.js';
import { sweepStaleSlots } from './sweep.js';
import type { TopicRoutes } from '../pipeline/routes.js';

export interface ReplayerDeps {
  spill: SpillClient;
  producer: EventProducer;
  circuit: Circuit;
  telemetry: Telemetry;
  log: Logger;
  /** where dead letters go, by tenant (DLQ_TOPIC_ROUTES) */
  dlqRoutes: TopicRoutes;
  deadLetterHeaders: readonly string[];
  instance: string;
  maxRetries: number;
  /** events a chunk may put in the producer's queue (with what it holds already) */
  queueBudget: number;
  /** the host order this process publishes in */
  heads: OrderHeads;
  baseDir: string;
  /** the host-wide replay lock */
  leadership: ReplayLeadership;
}

const CHUNK_RECORDS = 256;
const CHUNK_BYTES = 16 << 20;
const IDLE_MS = 1000;
/** how long an idle probe waits for a broker's metadata answer */
const IDLE_PROBE_TIMEOUT_MS = 2000;
const RETRY_MS = 250;
// The leader looks at the host table this often when no log owes (one pread): a sibling's spill does not wake it.
const LEADER_IDLE_MS = 20;
// Waiting on an append in progress or a pinned first copy elsewhere in the host, or on the owners' acks.
const BLOCKED_POLL_MS = 1;
// An owner whose log owes applies the leader's markers this often while they move (its slot drops to 0 only
// then), backing off to SETTLE_IDLE_MS while they do not (an outage: nothing is replayed for minutes).
const SETTLE_POLL_MS = 2;
const SETTLE_IDLE_MS = 50;
const ACQUIRE_EVERY_MS = 250;
const SWEEP_EVERY_MS = 1000;
const ADOPT_WHEN_BLOCKED_MS = 2000;
const ERROR_BACKOFF_MAX_MS = 5000;

interface Pending {
  seq: number;
  events: number;
  key: number;
  batch: SpilledBatch;
}

/** The leader's view of one log of the host. */
interface Cursor {
  dir: string;
  slot: number;
  /** next seq to read; 0: from where the log stands (its checkpoint or marker) */
  next: number;
  buf: Pending[];
  end: boolean;
  /** records still replayed "unsure" (a dead leader may have had them in Kafka without a marker) */
  unsure: number;
}

export class Replayer {
  private stopped = false;
  private wake: (() => void) | undefined;
  /** failed attempts per "dir/seq/record" while this process lives (answered failures only) */
  private readonly attempts = new Map<string, number>();
  private loop: Promise<void> | undefined;
  private blockedSince = 0;
  private errorBackoff = 0;
  private lastAcquire = 0;
  private settleDelay = SETTLE_POLL_MS;
  private lastSweep = 0;
  /** leader: per slot */
  private readonly cursors = new Map<number, Cursor>();
  private slotDirs = new Map<number, string>();
  /** leader: took the lock over from a leader that died; logs first read now are "unsure" */
  private afterCrash = false;

  constructor(private readonly d: ReplayerDeps) {}

  start(): void {
    this.loop = this.run();
  }

  /** New records were appended: don't wait for the idle timer. */
  kick(): void {
    this.wake?.();
  }

  get leading(): boolean {
    return this.d.leadership.held;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.kick();
    await this.loop;
    // Only after the last chunk's markers are written: the next leader starts from them.
    this.d.leadership.release();
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

  /** Never ends on an error: a failed read, ack or send is logged and retried with backoff: a replayer that stopped would strand the log until a restart. */
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
        for (const c of this.cursors.values()) {
          c.buf = [];
          c.next = 0;
        }
        await this.sleep(this.errorBackoff);
      }
    }
  }

  private track(): void {
    const { spill, heads } = this.d;
    for (const s of spill.sources) {
      if (heads.tracked(s.dir)) continue;
      heads.track(s.dir, s.records > 0);
      // An adopted log takes no appends: everything in it is as durable as it gets.
      if (s.dir !== heads.ownDir) heads.setDurable(s.dir, 0);
    }
  }

  private async step(): Promise<void> {
    const owes = await this.own();
    if (!this.d.leadership.held && Date.now() - this.lastAcquire >= ACQUIRE_EVERY_MS) {
      this.lastAcquire = Date.now();
      const got = this.d.leadership.tryAcquire();
      if (got) {
        this.afterCrash = got.afterCrash;
        this.cursors.clear();
        this.d.log.info({ after_crash: got.afterCrash }, 'this process replays the spill logs of the host');
      }
    }
    if (this.d.leadership.held) return this.lead();
    if (!owes) await this.probeIdle();
    await this.sleep(owes ? this.settleDelay : IDLE_MS);
  }

  /**
   * Owner duties for the logs this process holds: the leader's markers become acks, the slots say
   * whether they still owe, drained adopted logs are let go. True while some held log owes.
   */
  private async own(): Promise<boolean> {
    const { spill, heads, circuit } = this.d;
    this.track();
    if (spill.sources.some((s) => s.records > 0)) {
      const moved = await spill.settle();
      this.settleDelay = moved ? SETTLE_POLL_MS : Math.min(SETTLE_IDLE_MS, this.settleDelay * 2);
      // Kafka took records of ours through the leader: it is back for us too.
      if (moved && !this.d.leadership.held && circuit.state !== 'closed') {
        circuit.succeeded();
        this.d.log.info('kafka is back (the host replay leader delivered our spilled records): circuit closed');
      }
    }
    let owes = false;
    for (const s of spill.sources) {
      if (s.records > 0) {
        owes = true;
        // Owes: any positive value does (the leader reads the exact keys in the log itself).
        if (heads.value(s.dir) === 0) heads.setFloor(s.dir, 1);
        continue;
      }
      heads.setFloor(s.dir, 0);
      if (s.dir !== heads.ownDir) {
        // drained adopted log: clear its slot first, then let its lock go
        heads.release(s.dir);
        await spill.release(s.source);
      }
    }
    return owes;
  }

  private async lead(): Promise<void> {
    const { spill, producer, circuit, heads } = this.d;
    const table = heads.table;
    const owing = table.read();
    let any = false;
    for (let j = 0; j < SLOTS; j++) if (owing[j]! > 0) any = true;
    for (const c of this.cursors.values()) if (c.buf.length) any = true;
    if (!any) {
      this.blockedSince = 0;
      this.cursors.clear();
      await this.probeIdle();
      await this.sleep(LEADER_IDLE_MS);
      return;
    }
    if (Date.now() - this.lastSweep >= SWEEP_EVERY_MS) {
      this.lastSweep = Date.now();
      await this.unblock();
    }
    if (!producer.isConnected || !circuit.tryProbe()) {
      await this.sleep(RETRY_MS);
      return;
    }
    // The horizon, then the holds, then the reads: an append stamped before the horizon is either held
    // (its hold was published before its stamp was taken) or complete in its log when it is read.
    const horizon = orderKey(stampNow());
    const holds = Float64Array.from(table.readHolds());
    const durable = Float64Array.from(table.readDurable());
    const values = Float64Array.from(table.read());
    for (let j = 0; j < SLOTS; j++) {
      if (!(values[j]! > 0) && !this.cursors.get(j)?.buf.length) {
        this.cursors.delete(j);
        continue;
      }
      let c = this.cursors.get(j);
      if (!c) {
        let dir = this.slotDirs.get(j);
        if (dir === undefined) {
          this.slotDirs = table.slotDirs();
          dir = this.slotDirs.get(j);
          if (dir === undefined) continue;
        }
        c = { dir, slot: j, next: 0, buf: [], end: true, unsure: this.afterCrash ? CHUNK_RECORDS : 0 };
        this.cursors.set(j, c);
      }
      // Read when nothing is buffered, or when the buffer reached the end of the log (more may be there now).
      if (c.buf.length > 0 && !(c.end && c.buf.length < CHUNK_RECORDS)) continue;
      const got = await spill.peek(c.dir, c.next, CHUNK_RECORDS - c.buf.length, CHUNK_BYTES, durable[j]!);
      for (const r of got.records) {
        const batch = decodeSpilledBatch(Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength));
        c.buf.push({ seq: r.seq, events: r.events, key: orderKey(batch.stamp), batch });
      }
      c.next = got.records.length ? got.records[got.records.length - 1]!.seq + 1 : got.from;
      c.end = got.end;
      if (got.lost.length) {
        this.d.telemetry.spillCorrupt(got.lost.reduce((a, l) => a + l.to - l.from + 1, 0));
        this.d.log.error({ dir: c.dir, lost: got.lost }, 'spill log: a corrupt record was quarantined (SPILL LOG DAMAGE: a copy of its segment is in the log\'s quarantine/ folder); replay goes on after it');
      }
    }
    this.afterCrash = false;
    const logs = [...this.cursors.values()];
    const probing = circuit.state === 'half_open';
    const picks = mergeChunk(logs, holds, horizon, probing ? 1 : CHUNK_RECORDS, this.d.queueBudget - producer.queued);
    if (picks.length === 0) {
      // Blocked by an append in progress or a pinned first copy (adopting the log if its holder died),
      // or everything is sent and the owners have yet to ack.
      if (logs.some((l) => l.buf.length > 0)) {
        if (this.blockedSince === 0) this.blockedSince = Date.now();
        if (Date.now() - this.blockedSince > ADOPT_WHEN_BLOCKED_MS) {
          this.blockedSince = Date.now();
          await this.unblock();
        }
      }
      await this.sleep(BLOCKED_POLL_MS);
      return;
    }
    this.blockedSince = 0;
    const chunk = picks.map(([i, k]) => ({ cursor: logs[i]!, rec: logs[i]!.buf[k]! }));
    const ok = await this.sendChunk(chunk);
    if (!ok) {
      circuit.trip();
      await this.sleep(RETRY_MS);
      return;
    }
    const sent = new Map<Cursor, number>();
    for (const { cursor } of chunk) sent.set(cursor, (sent.get(cursor) ?? 0) + 1);
    for (const [cursor, n] of sent) {
      const last = cursor.buf[n - 1]!;
      cursor.buf.splice(0, n);
      await spill.mark(cursor.dir, last.seq);
    }
    if (circuit.state !== 'closed') this.d.log.info('kafka is back: circuit closed, draining the spill logs of the host');
    circuit.succeeded();
    this.d.telemetry.replayed(chunk.reduce((a, r) => a + r.rec.events, 0));
  }

  /**
   * The circuit's probe when there is no spilled batch to probe with: this process spilled nothing (it had
   * no traffic during the outage), or the host owes nothing. A metadata answer from a broker closes it;
   * without this an idle process stayed open — "degraded", kafka_connected 0 — until its next batch was
   * spilled and replayed. Closing is safe for order: while any log of the host owes, batches spill anyway.
   */
  private async probeIdle(): Promise<void> {
    const { producer, circuit, log } = this.d;
    if (circuit.state === 'closed' || !producer.isConnected || !circuit.tryProbe()) return;
    try {
      await producer.probe(IDLE_PROBE_TIMEOUT_MS);
    } catch {
      circuit.trip();
      return;
    }
    // A client error during the probe re-opened it: that says more than the answer that came before.
    if (circuit.state !== 'half_open') return;
    circuit.succeeded();
    log.info('kafka is back (a broker answered; nothing of ours to replay): circuit closed');
  }

  /** Adopts logs whose holder died and clears the slots of dead holders that owe nothing. */
  private async unblock(): Promise<void> {
    const { heads, spill } = this.d;
    const table = heads.table.read();
    const holds = heads.table.readHolds();
    const owned = heads.ownedSlots();
    let stale = false;
    for (let j = 0; j < SLOTS; j++) if ((table[j]! > 0 || holds[j]! > 0) && !owned.has(j)) stale = true;
    if (!stale) return;
    const toAdopt = sweepStaleSlots(this.d.baseDir, heads.table, owned);
    if (toAdopt) {
      await spill.adopt();
      this.track();
    }
    heads.republish();
  }

  /** True when every record of the chunk is in Kafka (or quarantined). */
  private async sendChunk(chunk: { cursor: Cursor; rec: Pending }[]): Promise<boolean> {
    const { producer, telemetry } = this.d;
    const batches = chunk.map((c) => c.rec.batch);
    const results = await offerInOrder(producer, batches);
    let complete = true;
    let delivered = 0;
    for (let i = 0; i < batches.length; i++) {
      const b = batches[i]!;
      const r = results[i]!;
      const cursor = chunk[i]!.cursor;
      const source = cursor.dir;
      delivered += b.records.count - r.failures.length;
      // A second copy of a record whose first may be in Kafka: counted by whoever replays it (the spilling
      // process may be dead by now).
      if (b.firstCopyOut || cursor.unsure > 0) telemetry.possibleDuplicates(b.records.count - r.failures.length);
      if (cursor.unsure > 0) cursor.unsure--;
      // Dead-letter records are told by their header names, whichever topic they were routed to.
      const deadLetters = b.headerNames[0] === this.d.deadLetterHeaders[0];
      telemetry.kafkaWritten(deadLetters ? 'dlq' : 'events', b.records.count - r.failures.length, b.topic);
      const condemned: { record: number; message: string }[] = [];
      for (const f of r.failures) {
        if (isQueueFull(f.code, f.message)) {
          complete = false;
          continue;
        }
        const key = `${source}/${chunk[i]!.rec.seq}/${f.record}`;
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
      if (deadLetters) {
        // A dead letter Kafka will not take: nowhere left to put it but the log line (and the counter the alert watches).
        telemetry.deadLettersDropped(condemned.length);
        this.d.log.error({ count: condemned.length, err: condemned[0]!.message, event_ids: condemned.map((c) => b.records.eventIds[c.record]) }, 'dead letter refused by Kafka: dropped');
        continue;
      }
      const { dead } = poisonDeadLetters({
        records: b.records, failed: condemned, batchId: b.records.headers[0]?.[b.headerNames.indexOf('batch_id')] ?? '',
        instance: this.d.instance, retryCount: Math.max(...condemned.map((c) => this.attempts.get(`${source}/${chunk[i]!.rec.seq}/${c.record}`) ?? 1)),
        tenantHeader: b.headerNames.indexOf('tenant_id'),
      });
      telemetry.poisoned(condemned.length);
      this.d.log.warn({ count: condemned.length, err: condemned[0]!.message }, 'poison pill in the spill log: quarantined to the DLQ');
      for (const group of this.d.dlqRoutes.split(dead, this.d.deadLetterHeaders.indexOf('tenant_id'))) {
        const dl = await producer.send(group.topic, group.records, this.d.deadLetterHeaders, b.timestamp);
        telemetry.kafkaWritten('dlq', group.records.count - dl.failures.length, group.topic);
        if (dl.failures.length > 0) complete = false;
      }
    }
    if (!complete) telemetry.possibleDuplicates(delivered);
    else {
      const done = new Set(chunk.map((c) => `${c.cursor.dir}/${c.rec.seq}/`));
      for (const k of this.attempts.keys()) if (done.has(k.slice(0, k.lastIndexOf('/') + 1))) this.attempts.delete(k);
    }
    return complete;
  }
}

/**
 * Produces a chunk's batches in log order, so per-partition order holds. Once librdkafka refuses a record at
 * once (queue full) the batches after it are not offered: one it would still take would reach Kafka ahead of
 * the refused record, which is sent again only with the whole chunk. They come back as refused (queue full),
 * so the chunk is incomplete and sent again from its first batch.
 */
export function offerInOrder(producer: EventProducer, batches: readonly Pick<SpilledBatch, 'topic' | 'records' | 'headerNames' | 'timestamp'>[]): Promise<BatchDelivery[]> {
  let held = false;
  const onRefused = (refused: readonly RecordFailure[]) => {
    if (refused.some((f) => isQueueFull(f.code, f.message))) held = true;
  };
  return Promise.all(batches.map((b) => (held ? Promise.resolve(heldBack(b.records.count)) : producer.send(b.topic, b.records, b.headerNames, b.timestamp, onRefused))));
}

/** A batch not offered because a record before it was refused at once: every record as refused, queue full. */
export function heldBack(count: number): BatchDelivery {
  return { partitions: [], failures: Array.from({ length: count }, (_, record) => ({ record, code: RESP_ERR.ERR__QUEUE_FULL, message: 'Local: Queue full (held back behind a refused record)' })) };
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
