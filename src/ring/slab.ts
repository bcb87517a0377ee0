/**
 * The shared-memory request slab: fixed-size slots in one SharedArrayBuffer, written by
 * the acceptor (main thread) and read in place by the decode workers.
 *
 *   SharedArrayBuffer
 *   +------------------------+-----------------+-----------------+-----+---------------------+
 *   | state: Int32 x slots   | slot 0          | slot 1          | ... | slot slots-1        |
 *   | 0 = free, t>0 = owned  | slotBytes bytes | slotBytes bytes |     | slotBytes bytes     |
 *   +------------------------+-----------------+-----------------+-----+---------------------+
 *
 * Why fixed slots and not a contiguous ring: workers finish out of order, and a
 * contiguous ring can only free space in order (one slow batch would block all space
 * behind it). A slot is freed the moment its own batch is decoded.
 *
 * Invariants:
 * - Only the main thread takes a slot (free → token), so taking needs no CAS.
 * - A slot is released (token → free) by the worker right after decoding, or by the main
 *   thread when the request is aborted or the task failed — both with compareExchange on
 *   the token, so a late release can never free a slot that was since re-taken by
 *   another request (tokens are never reused within 2^31 requests).
 * - Empty: every state word is 0. Full: no state word is 0 → the acceptor answers 503.
 * - Bytes of a slot are read by a worker only while the slot holds that task's token.
 */
export interface SlabShape {
  slots: number;
  slotBytes: number;
}

const HEADER_ALIGN = 64;

export function slabByteLength(shape: SlabShape): number {
  return headerBytes(shape.slots) + shape.slots * shape.slotBytes;
}

function headerBytes(slots: number): number {
  return Math.ceil((slots * 4) / HEADER_ALIGN) * HEADER_ALIGN;
}

export class Slab {
  readonly sab: SharedArrayBuffer;
  readonly slots: number;
  readonly slotBytes: number;
  private readonly state: Int32Array;
  private readonly bytes: Uint8Array;
  private readonly base: number;
  private nextToken = 1;

  constructor(shape: SlabShape, sab?: SharedArrayBuffer) {
    this.slots = shape.slots;
    this.slotBytes = shape.slotBytes;
    this.sab = sab ?? new SharedArrayBuffer(slabByteLength(shape));
    if (this.sab.byteLength !== slabByteLength(shape)) throw new RangeError('slab: buffer size does not match shape');
    this.state = new Int32Array(this.sab, 0, this.slots);
    this.base = headerBytes(this.slots);
    this.bytes = new Uint8Array(this.sab);
  }

  /** Main thread: take a free slot. Returns -1 when every slot is owned. */
  take(): { slot: number; token: number } | null {
    // The lowest free slot, not the next in rotation: a slot's pages stay resident once a body
    // touched them, so rotating through all of them spread 8 in-flight 1000-event bodies (~400 KB
    // each) over every slot's pages (64 × 400 KB resident for good); lowest-first keeps the touched
    // pages to what was in flight at the busiest moment.
    for (let slot = 0; slot < this.slots; slot++) {
      if (Atomics.load(this.state, slot) === 0) {
        const token = this.nextToken;
        this.nextToken = token >= 0x7fffffff ? 1 : token + 1;
        Atomics.store(this.state, slot, token);
        return { slot, token };
      }
    }
    return null;
  }

  /** Copy a chunk into a slot at offset. The caller checks offset + chunk ≤ slotBytes. */
  write(slot: number, offset: number, chunk: Uint8Array): void {
    this.bytes.set(chunk, this.base + slot * this.slotBytes + offset);
  }

  /** A view (not a copy) of a slot's first `length` bytes. */
  view(slot: number, length: number): Buffer {
    return Buffer.from(this.sab, this.base + slot * this.slotBytes, length);
  }

  /** Either side: free the slot if it still holds this token. True when this call freed it. */
  release(slot: number, token: number): boolean {
    return Atomics.compareExchange(this.state, slot, token, 0) === token;
  }

  /** Slots currently owned (a scan: for metrics and admission, not the hot path). */
  inUse(): number {
    let n = 0;
    for (let i = 0; i < this.slots; i++) if (Atomics.load(this.state, i) !== 0) n++;
    return n;
  }
}
