/**
 * How the current payload schema set reaches the decode workers of a process: the main
 * thread writes its JSON into a SharedArrayBuffer under a sequence lock; a worker compares
 * the sequence number before each batch (one atomic load) and rebuilds its validators
 * only when it moved. No message to a Piscina worker is needed, none can be missed, and a
 * worker started later (Piscina replacing a dead one) reads the same set on its first task.
 */
import type { SchemaSetSnapshot } from './types.js';

/** Largest schema set (JSON bytes) a process can publish: 8 MiB, only the pages written are resident. */
export const CHANNEL_BYTES = 8 * 1024 * 1024;
const HEADER = 8;

export class SchemaChannel {
  readonly sab: SharedArrayBuffer;
  private readonly head: Int32Array;
  private readonly body: Uint8Array;

  constructor(sab?: SharedArrayBuffer) {
    this.sab = sab ?? new SharedArrayBuffer(HEADER + CHANNEL_BYTES);
    this.head = new Int32Array(this.sab, 0, 2);
    this.body = new Uint8Array(this.sab, HEADER);
  }

  /** Even, and bumped by 2 on every publish; 0: nothing published yet. */
  get sequence(): number {
    return Atomics.load(this.head, 0);
  }

  /** Main thread only (one writer). Throws when the set is too large; the previous set stays. */
  publish(snapshot: SchemaSetSnapshot): void {
    const bytes = Buffer.from(JSON.stringify(snapshot));
    if (bytes.length > this.body.length) {
      throw new Error(`the schema set is ${bytes.length} bytes as JSON; at most ${this.body.length} fit the workers' channel`);
    }
    Atomics.add(this.head, 0, 1); // odd: being written
    this.body.set(bytes);
    Atomics.store(this.head, 1, bytes.length);
    Atomics.add(this.head, 0, 1); // even: complete
  }

  /** The last published set and its sequence, or null when none was published. */
  read(): { sequence: number; snapshot: SchemaSetSnapshot } | null {
    for (;;) {
      const before = Atomics.load(this.head, 0);
      if (before === 0) return null;
      if (before % 2 === 1) continue; // a publish is under way: it takes microseconds
      const len = Atomics.load(this.head, 1);
      const copy = Buffer.from(this.body.slice(0, len));
      if (Atomics.load(this.head, 0) !== before) continue;
      return { sequence: before, snapshot: JSON.parse(copy.toString('utf8')) as SchemaSetSnapshot };
    }
  }
}
