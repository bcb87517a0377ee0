/**
 * What this process publishes in the host order table (host-table.ts) for each log it holds:
 * the smallest order key it still owes Kafka. Three things make a log owe:
 *   - floor:   the key of the oldest unreplayed batch in the log (exact once read; before
 *              that a lower bound: 1 when a log is opened, the last replayed key afterwards)
 *   - pending: appends sent to the spill thread and not yet answered (the batch is not in
 *              the log yet, but its answer will say "stored": it owes from now on)
 *   - pins:    batches spilled while their first copy is still in librdkafka's hands; until
 *              that copy is delivered or failed, nothing newer may reach Kafka, so that even
 *              the duplicate lands before the learner's next batch
 * A value is published (one 8-byte write) BEFORE the answer that depends on it is sent, and
 * lowered to 0 only when none of the three holds; so any process that reads the table after
 * a client got its answer sees that log as owing, and spills / waits.
 *
 * It also publishes the log's hold (host-table.ts `holds`): min(appends in progress, pins), what
 * the host's replay leader cannot read in the log yet. An append's hold is published from a
 * clock reading taken BEFORE its stamp: a leader that took its horizon T and then read the holds
 * either sees the hold, or the append was stamped after T (replayer.ts, the merge).
 */
import type { HostTable, OrderStamp } from './host-table.js';
import { orderKey, stampNow } from './host-table.js';

interface Head {
  slot: number;
  floor: number;
  pending: Map<number, number>;
  pins: Map<number, number>;
  /** appends in progress, by the clock reading taken before their stamp */
  holding: Map<number, number>;
  written: number;
  holdWritten: number;
}

function add(m: Map<number, number>, k: number): void {
  m.set(k, (m.get(k) ?? 0) + 1);
}
function drop(m: Map<number, number>, k: number): void {
  const n = (m.get(k) ?? 0) - 1;
  if (n > 0) m.set(k, n);
  else m.delete(k);
}
function minKey(m: Map<number, number>): number {
  let v = 0;
  for (const k of m.keys()) if (v === 0 || k < v) v = k;
  return v;
}

export class OrderHeads {
  private readonly heads = new Map<string, Head>();
  private readonly provisional = new WeakMap<OrderStamp, number>();

  constructor(
    readonly table: HostTable,
    /** the directory name (under BUFFER_DIR) of this process's own log */
    readonly ownDir: string,
  ) {}

  /** Starts publishing for a log this process now holds. Unknown content counts as owing from key 1. */
  track(dir: string, owes: boolean): void {
    if (this.heads.has(dir)) return;
    const h: Head = { slot: this.table.slotOf(dir), floor: owes ? 1 : 0, pending: new Map(), pins: new Map(), holding: new Map(), written: -1, holdWritten: -1 };
    this.heads.set(dir, h);
    this.publish(dir);
  }

  tracked(dir: string): boolean {
    return this.heads.has(dir);
  }

  slot(dir: string): number {
    return this.heads.get(dir)!.slot;
  }

  ownedSlots(): Set<number> {
    return new Set([...this.heads.values()].map((h) => h.slot));
  }

  /** Stamps a batch about to be appended to the own log; it owes from this moment. */
  beginAppend(): OrderStamp {
    const held = orderKey(stampNow());
    add(this.own().holding, held);
    this.publish(this.ownDir);
    const stamp = stampNow();
    this.provisional.set(stamp, held);
    add(this.own().pending, orderKey(stamp));
    this.publish(this.ownDir);
    return stamp;
  }

  endAppend(stamp: OrderStamp, stored: boolean): void {
    const h = this.own();
    const k = orderKey(stamp);
    drop(h.pending, k);
    const held = this.provisional.get(stamp);
    if (held !== undefined) drop(h.holding, held);
    if (stored && (h.floor === 0 || k < h.floor)) h.floor = k;
    this.publish(this.ownDir);
  }

  pin(stamp: OrderStamp): void {
    add(this.own().pins, orderKey(stamp));
    this.publish(this.ownDir);
  }

  unpin(stamp: OrderStamp): void {
    drop(this.own().pins, orderKey(stamp));
    this.publish(this.ownDir);
  }

  /** The smallest pinned key of a log (0: none): its own newer batches must wait for it too. */
  pinned(dir: string): number {
    return minKey(this.heads.get(dir)?.pins ?? new Map());
  }

  /** The replayer learned the log's oldest unreplayed key (0: the log is empty). */
  setFloor(dir: string, key: number): void {
    const h = this.heads.get(dir);
    if (!h) return;
    h.floor = key;
    this.publish(dir);
  }

  /** Stop publishing for a log about to be released: it owes nothing (call before the lock goes). */
  release(dir: string): void {
    const h = this.heads.get(dir);
    if (!h) return;
    h.floor = 0;
    h.pending.clear();
    h.pins.clear();
    h.holding.clear();
    this.publish(dir);
    this.heads.delete(dir);
  }

  value(dir: string): number {
    const h = this.heads.get(dir);
    if (!h) return 0;
    let v = h.floor;
    for (const m of [h.pending, h.pins]) {
      const k = minKey(m);
      if (k > 0 && (v === 0 || k < v)) v = k;
    }
    return v;
  }

  /**
   * The first seq of a log not yet durable (0: no limit). Published after an append is answered and BEFORE its
   * hold is dropped (endAppend): a leader that sees no hold sees the new limit.
   */
  setDurable(dir: string, nextSeq: number): void {
    const h = this.heads.get(dir);
    if (h) this.table.writeDurable(h.slot, nextSeq);
  }

  /** What the replay leader cannot read in the log yet: appends in progress and pins (0: none). */
  hold(dir: string): number {
    const h = this.heads.get(dir);
    if (!h) return 0;
    const a = minKey(h.holding);
    const b = minKey(h.pins);
    return a === 0 ? b : b === 0 ? a : Math.min(a, b);
  }

  private own(): Head {
    return this.heads.get(this.ownDir)!;
  }

  private publish(dir: string): void {
    const h = this.heads.get(dir)!;
    // The hold first: it is the lower bound of the value, and a reader must never miss an append in progress.
    const hv = this.hold(dir);
    if (hv !== h.holdWritten) {
      this.table.writeHold(h.slot, hv);
      h.holdWritten = hv;
    }
    const v = this.value(dir);
    if (v === h.written) return;
    this.table.write(h.slot, v);
    h.written = v;
  }

  /** Writes every value again (a sweeper of another process may have judged our slot from a stale lock read). */
  republish(): void {
    for (const [dir, h] of this.heads) {
      h.written = -1;
      h.holdWritten = -1;
      this.publish(dir);
    }
  }
}
