/**
 * Where a batch's records go, and the durability rule: a batch is answered 2xx only
 * when every record is acknowledged by Kafka or written and fsynced to the spill log.
 *
 *   circuit closed and own spill log empty ──▶ produce; wait ≤ SPILL_AFTER_MS for reports
 *        ├─ all acknowledged ─────────────────▶ delivered
 *        ├─ some refused for good (poison) ───▶ those become dead letters
 *        ├─ some failed, retriable ───────────▶ those are spilled, in record order (a record refused at
 *        │                                     once holds back the rest of its batch: native.ts)
 *        └─ too slow, or the circuit opened ──▶ the whole batch is spilled, the circuit opens;
 *                                              late acknowledgements are counted as duplicates
 *   otherwise ───────────────────────────────▶ spilled (per-learner order: while any log of the
 *                                              HOST owes a batch, new ones queue behind it, in
 *                                              the host order: see host-table.ts, heads.ts)
 *
 * Host order rule: a batch is stamped (CLOCK_MONOTONIC, host-wide) just before it is
 * appended, and the stamp is published as owed before the append, so before its answer. Any
 * process that takes a request after that answer sees the host as spilling and spills too,
 * with a larger stamp; replay merges all logs of the host by stamp. A batch spilled while its
 * first copy is still in librdkafka (too slow) is pinned until that copy is delivered or
 * failed: nothing newer of the host is replayed before, so even a duplicate of batch N lands
 * before batch N+1.
 *
 * A record librdkafka refuses at once (queue full) is spilled once its batch's reports are in,
 * which can be milliseconds later; a batch of the same learner arriving meanwhile must not reach
 * Kafka, nor the log, ahead of it. So the refusal reserves the batch's place at once (its stamp,
 * published as owed: later batches of the host spill) and its turn in the log: appends of
 * batches stamped after it wait until it has appended.
 */
import type { Logger } from 'pino';
import type { PackedRecords } from '../codec/packed.js';
import type { RejectedEvent } from '../codec/decode.js';
import type { EventProducer, BatchDelivery, RecordFailure } from '../producer/producer.js';
import type { Circuit } from '../producer/circuit.js';
import { classifyFailure, isQueueFull } from '../producer/classify.js';
import { encodeSpilledBatch, pickRecords } from '../spill/batch-codec.js';
import { SpillFailure, type SpillClient } from '../spill/client.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import type { ErrorCode } from '../errors.js';
import { poisonDeadLetters } from './poison.js';
import { shrunkDeadLetter } from '../codec/dead-letter.js';
import { PackedBuilder, recordValue, type PackedRecords as Records } from '../codec/packed.js';
import type { OrderHeads } from '../replay/index.js';
import type { HostTable, OrderStamp } from '../replay/index.js';
import { DeadlineQueue } from './deadlines.js';
import type { TopicRoutes } from './routes.js';

export interface Part {
  topic: string;
  headerNames: readonly string[];
  records: PackedRecords;
  timestamp: number;
  /** main-topic records can become poison-pill dead letters; dead letters cannot */
  main: boolean;
  /** spilled while a first copy may still land in Kafka */
  firstCopyOut?: boolean;
}

export interface Delivered {
  ok: true;
  /** partitions of the main topic that received records directly */
  partitions: number[];
  /** records written to the spill log instead of Kafka */
  spilled: number;
  /** main-topic events Kafka refused for good, now dead letters */
  poisoned: RejectedEvent[];
}

export interface Undeliverable {
  ok: false;
  code: ErrorCode;
  detail: string;
  retryAfter: number;
}

export interface DelivererDeps {
  producer: EventProducer;
  spill: SpillClient;
  circuit: Circuit;
  telemetry: Telemetry;
  log: Logger;
  spillAfterMs: number;
  /** where dead letters go, by tenant (DLQ_TOPIC_ROUTES; DLQ_TOPIC for everyone without a route) */
  dlqRoutes: TopicRoutes;
  deadLetterHeaders: readonly string[];
  instance: string;
  /** after an append: wake the replayer */
  onSpilled: () => void;
  /** seconds a client should wait when the spill log is full */
  retryAfterFull: () => number;
  /** DLQ_MAX_RECORD_BYTES, for poison-pill dead letters */
  maxDeadLetterBytes?: number;
  /** the host order: what this process owes, and what every process of the host owes */
  heads: OrderHeads;
  host: HostTable;
}

type Race = { kind: 'done'; results: BatchDelivery[] } | { kind: 'open' } | { kind: 'slow' };

/** A batch's place in the host order and in this log, taken when librdkafka refused some of it at once. */
interface Reservation {
  stamp: OrderStamp;
  /** the appends of the batches reserved before this one have been issued */
  before: Promise<void>;
  /** set once the stamp is used for an append */
  used: boolean;
  /** the later batches may append (and the stamp is given back if it was never used) */
  release(): void;
}

const SLOW: Race = { kind: 'slow' };
const OPEN: Race = { kind: 'open' };

export class Deliverer {
  /** batches waiting for their reports, each due to be spilled SPILL_AFTER_MS after it was produced */
  private readonly slow: DeadlineQueue<(r: Race) => void>;
  /** resolves once every reserved batch has issued its append (or given its place back) */
  private turn: Promise<void> = Promise.resolve();
  private reservations = 0;

  constructor(private readonly d: DelivererDeps) {
    this.slow = new DeadlineQueue(d.spillAfterMs, (finish) => finish(SLOW));
    d.circuit.onOpen(() => this.slow.expireAll((finish) => finish(OPEN)));
  }

  async deliver(parts: Part[], batchId: string): Promise<Delivered | Undeliverable> {
    const { producer, circuit, spill } = this.d;
    const live = parts.filter((p) => p.records.count > 0);
    if (!circuit.closed || spill.ownNonEmpty || !producer.isConnected || this.d.host.spilling()) return this.spillParts(live);

    let reserved: Reservation | undefined;
    const onRefused = (refused: readonly RecordFailure[]) => {
      if (!reserved && refused.some((f) => isQueueFull(f.code, f.message))) reserved = this.reserve();
    };
    const all = Promise.all(live.map((p) => producer.send(p.topic, p.records, p.headerNames, p.timestamp, onRefused)));
    try {
      return await this.settle(live, all, batchId, reserved);
    } finally {
      reserved?.release();
    }
  }

  private async settle(live: Part[], all: Promise<BatchDelivery[]>, batchId: string, reserved: Reservation | undefined): Promise<Delivered | Undeliverable> {
    const { producer, circuit } = this.d;
    const race = await this.raceDelivery(all);
    if (race.kind !== 'done') {
      if (race.kind === 'slow') {
        this.d.log.warn({ batch_id: batchId, after_ms: this.d.spillAfterMs }, 'kafka too slow: opening the circuit, spilling');
        circuit.trip();
      }
      // The producer may still deliver these: each one it does, and each that fails after reaching a
      // broker (a timeout says nothing of whether the write happened), may duplicate the spilled copy.
      // Pinned until then: nothing newer of the host replays before this first copy settles.
      let pinned: OrderStamp | undefined;
      // The spilled copy says so (firstCopyOut): whoever replays it counts the possible duplicates, also when this
      // process dies before its first copies settle.
      const spilled = await this.spillParts(live.map((p) => ({ ...p, firstCopyOut: true })), (stamp) => {
        pinned = stamp;
        this.d.heads.pin(stamp);
      }, reserved);
      void all.then(() => {
        if (pinned) this.d.heads.unpin(pinned);
      });
      return spilled;
    }

    const partitions = new Set<number>();
    const toSpill: Part[] = [];
    const poisoned: RejectedEvent[] = [];
    for (let i = 0; i < live.length; i++) {
      const part = live[i]!;
      const result = race.results[i]!;
      if (part.main) for (const p of result.partitions) partitions.add(p);
      this.d.telemetry.kafkaWritten(part.main ? 'events' : 'dlq', part.records.count - result.failures.length, part.topic);
      if (result.failures.length === 0) continue;
      const refused = result.failures.filter((f) => classifyFailure(f.code, f.message) === 'final');
      const retriable = result.failures.filter((f) => !refused.includes(f));
      if (!part.main && refused.length > 0) {
        // A dead letter refused for good is no outage: no circuit, no spill (the replay would only drop it).
        const again = await this.refusedDeadLetters(part.topic, part.records, refused, part.timestamp, batchId);
        if (again.length > 0) toSpill.push({ ...part, records: again.records });
      }
      // Kafka refuses a whole record batch for one oversized record: send each refused record
      // on its own before condemning it, so its neighbours are not quarantined with it.
      const final = !part.main ? [] : refused.length > 1 ? await this.isolate(part, refused, partitions) : refused;
      if (final.length > 0) {
        const { dead, rejected } = poisonDeadLetters({
          records: part.records, failed: final, batchId, instance: this.d.instance, retryCount: 1,
          tenantHeader: part.headerNames.indexOf('tenant_id'), maxBytes: this.d.maxDeadLetterBytes,
        });
        this.d.log.warn({ batch_id: batchId, count: final.length, err: final[0]!.message }, 'poison pill: quarantined to the DLQ');
        this.d.telemetry.poisoned(final.length);
        poisoned.push(...rejected);
        // Each tenant's dead letters to its own DLQ topic (one group unless DLQ_TOPIC_ROUTES splits them).
        for (const group of this.d.dlqRoutes.split(dead, this.d.deadLetterHeaders.indexOf('tenant_id'))) {
          const dl = await producer.send(group.topic, group.records, this.d.deadLetterHeaders, part.timestamp);
          this.d.telemetry.kafkaWritten('dlq', group.records.count - dl.failures.length, group.topic);
          const dlFinal = dl.failures.filter((f) => classifyFailure(f.code, f.message) === 'final');
          const dlRetry = dl.failures.filter((f) => !dlFinal.includes(f)).map((f) => f.record);
          if (dlFinal.length > 0) {
            const again = await this.refusedDeadLetters(group.topic, group.records, dlFinal, part.timestamp, batchId);
            dlRetry.push(...again.positions.map((k) => dlFinal[k]!.record));
          }
          if (dlRetry.length > 0) {
            toSpill.push({ topic: group.topic, headerNames: this.d.deadLetterHeaders, records: pickRecords(group.records, dlRetry), timestamp: part.timestamp, main: false });
          }
        }
      }
      if (retriable.length > 0) {
        circuit.trip();
        // Failed after reaching a broker (timed out, connection lost): Kafka may have the write anyway, and the
        // spilled copy will be replayed. Only a full local queue means the record never left this process.
        const reached = retriable.some((f) => !isQueueFull(f.code, f.message));
        toSpill.push({ ...part, records: pickRecords(part.records, retriable.map((f) => f.record)), firstCopyOut: reached });
      }
    }
    if (toSpill.length > 0) {
      const spilled = await this.spillParts(toSpill, undefined, reserved);
      if (!spilled.ok) return spilled;
      return { ok: true, partitions: [...partitions].sort((a, b) => a - b), spilled: spilled.spilled, poisoned };
    }
    return { ok: true, partitions: [...partitions].sort((a, b) => a - b), spilled: 0, poisoned };
  }

  /**
   * Dead letters Kafka refused for good: each is sent again without its original (size and digest
   * only). Those refused for good again are dropped, loudly; those that now fail retriably come
   * back (`positions` into `failed`, `records` the shrunk records) for the spill log.
   */
  private async refusedDeadLetters(
    topic: string,
    records: Records,
    failed: RecordFailure[],
    timestamp: number,
    batchId: string,
  ): Promise<{ length: number; positions: number[]; records: Records }> {
    const b = new PackedBuilder();
    for (const f of failed) {
      const i = f.record;
      b.add(shrunkDeadLetter(recordValue(records, i).toString(), f.message), records.keys[i] ?? null, records.headers[i]!, records.eventIds[i] ?? '', records.indexes[i] ?? -1);
    }
    const shrunk = b.build();
    const sent = await this.d.producer.send(topic, shrunk, this.d.deadLetterHeaders, timestamp);
    this.d.telemetry.kafkaWritten('dlq', shrunk.count - sent.failures.length, topic);
    const lost = sent.failures.filter((f) => classifyFailure(f.code, f.message) === 'final');
    if (lost.length > 0) {
      this.d.telemetry.deadLettersDropped(lost.length);
      this.d.log.error(
        { batch_id: batchId, count: lost.length, err: lost[0]!.message, event_ids: lost.map((f) => shrunk.eventIds[f.record]) },
        'dead letter refused by Kafka even without its original: dropped',
      );
    } else {
      this.d.log.warn({ batch_id: batchId, count: failed.length, err: failed[0]!.message }, 'dead letter refused by Kafka: sent again without its original');
    }
    const positions = sent.failures.filter((f) => !lost.includes(f)).map((f) => f.record);
    return { length: positions.length, positions, records: pickRecords(shrunk, positions) };
  }

  /** Re-sends each record alone; returns the ones Kafka refuses even alone (or that now fail retriably). */
  private async isolate(part: Part, refused: RecordFailure[], partitions: Set<number>): Promise<RecordFailure[]> {
    const still: RecordFailure[] = [];
    for (const f of refused) {
      const alone = await this.d.producer.send(part.topic, pickRecords(part.records, [f.record]), part.headerNames, part.timestamp);
      if (alone.failures.length === 0) {
        for (const p of alone.partitions) partitions.add(p);
        this.d.telemetry.kafkaWritten('events', 1, part.topic);
      } else still.push({ ...f, message: alone.failures[0]!.message, code: alone.failures[0]!.code });
    }
    return still;
  }

  private raceDelivery(all: Promise<BatchDelivery[]>): Promise<Race> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (r: Race) => {
        if (settled) return;
        settled = true;
        this.slow.cancel(ticket);
        resolve(r);
      };
      // Too slow or the circuit opened, whichever first: one timer and one circuit listener for all batches.
      const ticket = this.slow.arm(finish);
      void all.then((results) => finish({ kind: 'done', results }));
    });
  }

  /** Takes a batch's place now, for an append that comes later (see the header). */
  private reserve(): Reservation {
    const stamp = this.d.heads.beginAppend();
    const before = this.turn;
    let open!: () => void;
    const mine = new Promise<void>((resolve) => (open = resolve));
    this.turn = before.then(() => mine);
    this.reservations++;
    let released = false;
    const r: Reservation = {
      stamp,
      before,
      used: false,
      release: () => {
        if (released) return;
        released = true;
        this.reservations--;
        if (!r.used) this.d.heads.endAppend(stamp, false);
        open();
      },
    };
    return r;
  }

  private async spillParts(parts: Part[], onStored?: (stamp: OrderStamp) => void, reserved?: Reservation): Promise<Delivered | Undeliverable> {
    // Stamped and published as owed before the append: the host spills from here on (heads.ts).
    let stamp: OrderStamp;
    if (reserved && !reserved.used) {
      reserved.used = true;
      stamp = reserved.stamp;
      await reserved.before;
    } else {
      stamp = this.d.heads.beginAppend();
      // Behind every batch that reserved its place before this one was stamped.
      if (this.reservations > 0) await this.turn;
    }
    const payloads = parts.map((p) => encodeSpilledBatch({ topic: p.topic, timestamp: p.timestamp, headerNames: [...p.headerNames], records: p.records, stamp, firstCopyOut: p.firstCopyOut === true }));
    const events = parts.map((p) => p.records.count);
    try {
      const { lastSeq } = await this.d.spill.append(payloads, events);
      this.d.heads.setDurable(this.d.heads.ownDir, lastSeq + 1);
      onStored?.(stamp);
      this.d.heads.endAppend(stamp, true);
    } catch (err) {
      this.d.heads.endAppend(stamp, false);
      if (err instanceof SpillFailure && err.code === 'COLLECTOR_ERR_SPILL_FULL') {
        this.d.telemetry.spillFull();
        return { ok: false, code: 'COLLECTOR_ERR_BUFFER_FULL', detail: 'the disk buffer is at MAX_BUFFER_SIZE_MB', retryAfter: this.d.retryAfterFull() };
      }
      this.d.log.error({ err }, 'spill append failed');
      return { ok: false, code: 'COLLECTOR_ERR_SPILL_FAILED', detail: (err as Error).message, retryAfter: 5 };
    }
    const n = events.reduce((a, b) => a + b, 0);
    this.d.telemetry.spilled(n);
    this.d.onSpilled();
    return { ok: true, partitions: [], spilled: n, poisoned: [] };
  }
}

/**
 * The Retry-After of a batch refused because the disk buffer is full: the seconds until the replay frees room for a
 * typical batch at the host's replay rate (batches/s; the one replay leader may be another process), 30 s when
 * nothing drains (Kafka down), within 1–300 s.
 */
export function retryAfterFullS(hostReplayRate: number): number {
  return hostReplayRate > 0 ? Math.min(300, Math.max(1, Math.ceil(1000 / hostReplayRate))) : 30;
}
