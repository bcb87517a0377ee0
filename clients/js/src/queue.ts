/**
 * The offline queue: every tracked event waits here, in track order, until the collector
 * answered for it. Kept in memory (what is sent, and what a page-close flush reads at once)
 * and written behind to a store (IndexedDB in browsers, a file in Node) so that a reload or
 * a restart resumes where it stopped.
 *
 *   head ──▶ [seq 17][seq 18] … [seq 42] ◀── tail (track appends)
 *            └─ sent and acknowledged from the head, a prefix at a time
 *
 * Invariants: seqs increase from head to tail; only a prefix is ever removed (batches are
 * sent one at a time from the head), so per-learner order survives retries and restarts.
 * Bounded by count and bytes: when full, the NEW event is dropped and counted (the older
 * ones may be in flight, and order is kept), and onDropped says so.
 */

export interface Stored<E> {
  seq: number;
  event: E;
  /** its JSON's length: the batch byte budget and the queue bound count it */
  bytes: number;
}

export interface QueueStore<E> {
  load(): Promise<Stored<E>[]>;
  append(items: Stored<E>[]): Promise<void>;
  /** forget every item with seq ≤ `seq` */
  removeUpTo(seq: number): Promise<void>;
}

export interface QueueLimits {
  maxEvents: number;
  maxBytes: number;
}

export class EventQueue<E> {
  private items: Stored<E>[] = [];
  private bytes = 0;
  private nextSeq = 1;
  /** store writes, in order: each waits for the one before, the first for open() */
  private writes: Promise<void>;
  private opened!: () => void;
  private pendingAppend: Stored<E>[] = [];
  dropped = 0;

  constructor(private readonly store: QueueStore<E>, private readonly limits: QueueLimits, private readonly onStoreError: (err: unknown) => void) {
    this.writes = new Promise((resolve) => (this.opened = resolve));
  }

  /** Loads what an earlier page or process left; events tracked meanwhile go after it. */
  async open(): Promise<void> {
    let earlier: Stored<E>[] = [];
    try {
      earlier = await this.store.load();
    } catch (err) {
      this.onStoreError(err);
    }
    earlier.sort((a, b) => a.seq - b.seq);
    const fresh = this.items;
    this.items = earlier;
    this.bytes = earlier.reduce((n, s) => n + s.bytes, 0);
    this.nextSeq = (earlier[earlier.length - 1]?.seq ?? 0) + 1;
    // Renumber what was tracked before the store answered, so it follows the earlier events.
    for (const s of fresh) {
      s.seq = this.nextSeq++;
      this.items.push(s);
      this.bytes += s.bytes;
    }
    this.opened();
  }

  get length(): number {
    return this.items.length;
  }

  get byteLength(): number {
    return this.bytes;
  }

  /** false: the queue is full and the event was dropped. */
  push(event: E, bytes: number): boolean {
    if (this.items.length >= this.limits.maxEvents || this.bytes + bytes > this.limits.maxBytes) {
      this.dropped++;
      return false;
    }
    const s = { seq: this.nextSeq++, event, bytes };
    this.items.push(s);
    this.bytes += bytes;
    this.pendingAppend.push(s);
    // One store write for everything tracked in the same tick.
    if (this.pendingAppend.length === 1) this.enqueueWrite(() => {
      const batch = this.pendingAppend;
      this.pendingAppend = [];
      return this.store.append(batch);
    });
    return true;
  }

  /** The head: at most `maxEvents` items and `maxBytes` (at least one item when any). */
  head(maxEvents: number, maxBytes: number): Stored<E>[] {
    const out: Stored<E>[] = [];
    let bytes = 0;
    for (const s of this.items) {
      if (out.length >= maxEvents || (out.length > 0 && bytes + s.bytes > maxBytes)) break;
      out.push(s);
      bytes += s.bytes;
    }
    return out;
  }

  /** The collector answered for every item up to `seq`. */
  ack(seq: number): void {
    let n = 0;
    while (n < this.items.length && this.items[n]!.seq <= seq) this.bytes -= this.items[n++]!.bytes;
    if (n === 0) return;
    this.items.splice(0, n);
    this.enqueueWrite(() => this.store.removeUpTo(seq));
  }

  /** Resolves when every change so far is in the store. */
  persisted(): Promise<void> {
    return this.writes;
  }

  private enqueueWrite(write: () => Promise<void>): void {
    this.writes = this.writes.then(write).catch((err: unknown) => this.onStoreError(err));
  }
}

/** A store that keeps nothing: the queue lives as long as the page or process. */
export function memoryStore<E>(): QueueStore<E> {
  return { load: async () => [], append: async () => {}, removeUpTo: async () => {} };
}
