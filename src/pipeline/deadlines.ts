/**
 * Many deadlines of one length (a request's body timeout, its answer deadline, a batch's
 * spill-after) on one timer. Every request used to arm and clear its own setTimeouts — a
 * Timeout object, a timer-list insert and a closure each, two or three per request, for
 * deadlines that almost never fire. Deadlines of one length expire in the order they were
 * armed, so a FIFO of (due time, item) with one timer for its head is enough: arming is a
 * push into preallocated arrays, cancelling clears the entry (the item is not held for the
 * length of the deadline), and the timer fires about once per length under steady load.
 *
 * A cancelled entry is a hole; holes at the head are dropped when cancelled, the rest when
 * the timer reaches them. The arrays double when full and never shrink (bounded by the
 * deadlines pending at the busiest moment).
 */

/** onExpire for queues whose items are the expiry callbacks themselves. */
export const runExpiry = (expire: () => void): void => expire();

/** Where an armed deadline sits, to cancel it; 0 is never a ticket. */
export type DeadlineTicket = number;

export class DeadlineQueue<T extends object> {
  private due: Float64Array;
  private items: (T | null)[];
  /** sequence numbers: entry n lives at n & mask; head ≤ n < tail are pending or holes */
  private head = 1;
  private tail = 1;
  private mask: number;
  private timer: NodeJS.Timeout | undefined;
  private readonly fire = () => this.expire();

  constructor(
    private readonly lengthMs: number,
    private readonly onExpire: (item: T) => void,
    private readonly now: () => number = () => performance.now(),
    capacity = 256,
  ) {
    if (!(lengthMs >= 0)) throw new RangeError('deadlines: the length must be ≥ 0 ms');
    let cap = 16;
    while (cap < capacity) cap *= 2;
    this.due = new Float64Array(cap);
    this.items = new Array<T | null>(cap).fill(null);
    this.mask = cap - 1;
  }

  /** Deadlines armed and neither expired nor cancelled, plus holes not yet dropped (tests, metrics). */
  get size(): number {
    return this.tail - this.head;
  }

  /** Calls onExpire(item) lengthMs from now unless cancelled first. */
  arm(item: T): DeadlineTicket {
    if (this.tail - this.head > this.mask) this.grow();
    const n = this.tail++;
    const at = this.now() + this.lengthMs;
    this.due[n & this.mask] = at;
    this.items[n & this.mask] = item;
    if (this.timer === undefined) this.schedule(at);
    return n;
  }

  /** Forgets an armed deadline; a ticket already expired or cancelled (or 0) is ignored. */
  cancel(ticket: DeadlineTicket): void {
    if (ticket < this.head || ticket >= this.tail) return;
    this.items[ticket & this.mask] = null;
    // Holes at the head go at once, so a queue whose deadlines are all cancelled stays empty.
    while (this.head < this.tail && this.items[this.head & this.mask] === null) this.head++;
    if (this.head === this.tail) this.stop();
  }

  /**
   * Ends every pending deadline now, through `handler` instead of onExpire (the circuit opened:
   * no batch waits out its spill-after, and each is told why).
   */
  expireAll(handler: (item: T) => void = this.onExpire): void {
    const items: T[] = [];
    for (let n = this.head; n < this.tail; n++) {
      const item = this.items[n & this.mask] ?? null;
      if (item) items.push(item);
      this.items[n & this.mask] = null;
    }
    this.head = this.tail;
    this.stop();
    for (const item of items) handler(item);
  }

  /** Drops every pending deadline without calling anything (shutdown). */
  clear(): void {
    for (let n = this.head; n < this.tail; n++) this.items[n & this.mask] = null;
    this.head = this.tail;
    this.stop();
  }

  private expire(until = this.now()): void {
    this.timer = undefined;
    while (this.head < this.tail) {
      const i = this.head & this.mask;
      const item = this.items[i] ?? null;
      if (item !== null && this.due[i]! > until) break;
      this.items[i] = null;
      this.head++;
      // A throwing handler must not strand the deadlines behind it: the rest expire on a new timer.
      if (item !== null) {
        try {
          this.onExpire(item);
        } catch (err) {
          this.reschedule();
          throw err;
        }
      }
    }
    this.reschedule();
  }

  private reschedule(): void {
    if (this.head < this.tail && this.timer === undefined) this.schedule(this.due[this.head & this.mask]!);
  }

  private schedule(at: number): void {
    this.timer = setTimeout(this.fire, Math.max(0, at - this.now()));
    // Deadlines never keep the process alive: the work they guard does.
    this.timer.unref();
  }

  private stop(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private grow(): void {
    const cap = (this.mask + 1) * 2;
    const due = new Float64Array(cap);
    const items = new Array<T | null>(cap).fill(null);
    const mask = cap - 1;
    for (let n = this.head; n < this.tail; n++) {
      due[n & mask] = this.due[n & this.mask]!;
      items[n & mask] = this.items[n & this.mask]!;
    }
    this.due = due;
    this.items = items;
    this.mask = mask;
  }
}
