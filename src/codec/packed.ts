/**
 * Records crossing from a worker to the main thread: every value in one ArrayBuffer
 * (transferred, not cloned) plus small parallel arrays. The main thread hands
 * subarrays of that buffer straight to the producer — no re-serialisation there.
 */
export interface PackedRecords {
  count: number;
  /** values back to back; record i is bytes[offsets[i], offsets[i+1]) */
  bytes: ArrayBuffer;
  offsets: Uint32Array;
  keys: (string | null)[];
  /** per-record header values, in HEADER_NAMES order */
  headers: string[][];
  /** event_id per record ('' when unknown) — dedup and DLQ answers */
  eventIds: string[];
  /** index of each record's event in the client's batch */
  indexes: number[];
}

/** A value forwarded as the client sent it: body[start, end) then `tail` (the defaults and the closing brace). */
interface RawValue {
  body: Uint8Array;
  start: number;
  end: number;
  tail: Uint8Array;
}

export class PackedBuilder {
  private values: (string | RawValue)[] = [];
  private byteLen = 0;
  readonly keys: (string | null)[] = [];
  readonly headers: string[][] = [];
  readonly eventIds: string[] = [];
  readonly indexes: number[] = [];

  add(value: string, key: string | null, headers: string[], eventId: string, index: number): void {
    this.values.push(value);
    this.byteLen += Buffer.byteLength(value);
    this.push(key, headers, eventId, index);
  }

  /** A value copied from the body at build(): body must stay unchanged until then. */
  addRaw(body: Uint8Array, start: number, end: number, tail: Uint8Array, key: string | null, headers: string[], eventId: string, index: number): void {
    this.values.push({ body, start, end, tail });
    this.byteLen += end - start + tail.length;
    this.push(key, headers, eventId, index);
  }

  private push(key: string | null, headers: string[], eventId: string, index: number): void {
    this.keys.push(key);
    this.headers.push(headers);
    this.eventIds.push(eventId);
    this.indexes.push(index);
  }

  get count(): number {
    return this.values.length;
  }

  build(): PackedRecords {
    const n = this.values.length;
    // An ArrayBuffer of its own (never a slice of Node's shared pool), so it can be transferred.
    const ab = new ArrayBuffer(this.byteLen);
    const buf = Buffer.from(ab);
    const offsets = new Uint32Array(n + 1);
    let off = 0;
    for (let i = 0; i < n; i++) {
      offsets[i] = off;
      const v = this.values[i]!;
      if (typeof v === 'string') {
        off += buf.write(v, off, 'utf8');
      } else {
        buf.set(v.body.subarray(v.start, v.end), off);
        off += v.end - v.start;
        buf.set(v.tail, off);
        off += v.tail.length;
      }
    }
    offsets[n] = off;
    return {
      count: n,
      bytes: ab,
      offsets,
      keys: this.keys,
      headers: this.headers,
      eventIds: this.eventIds,
      indexes: this.indexes,
    };
  }
}

export function recordValue(p: PackedRecords, i: number): Buffer {
  const start = p.offsets[i]!;
  return Buffer.from(p.bytes, start, p.offsets[i + 1]! - start);
}
