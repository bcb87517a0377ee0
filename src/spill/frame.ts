/**
 * Record framing. One record on disk:
 *
 *   0      2     3     4          8          12                    20         24         28
 *   +------+-----+-----+----------+----------+---------------------+----------+----------+=========+
 *   |magic |flags| ver | len u32  | rawLen   | seq u64 (LE lo, hi) | events   | crc32    | payload |
 *   |0x5053|     | =1  | stored   | u32      | safe integer        | u32      | [0,24)+P | len B   |
 *   +------+-----+-----+----------+----------+---------------------+----------+----------+=========+
 *
 * All integers little-endian. flags bit0 = payload is deflate-raw (level 1); other
 * bits must be 0 (a set unknown bit is treated as damage, not ignored, so a future
 * format is never half-understood). `rawLen` lets read() honour a byte budget and
 * check the inflated size. The CRC (IEEE crc32, zlib's) covers the header's first 24
 * bytes and the stored payload, so a flipped seq/len/events bit is caught too.
 */
import * as zlib from 'node:zlib';

export const MAGIC = 0x5053;
export const VERSION = 1;
export const HEADER_BYTES = 28;
export const FLAG_DEFLATE = 0x01;
/** A len above this is damage, not a record: no batch the collector accepts comes close. */
export const MAX_RECORD_BYTES = 256 * 1024 * 1024;
const MAX_SEQ_HI = 0x1fffff; // 2^53 = 2^21 * 2^32

type Crc = (data: Uint8Array, value?: number) => number;

// zlib.crc32 exists from Node 20.15; the table fallback keeps older 20.x working.
const zcrc = (zlib as unknown as { crc32?: Crc }).crc32;
export const crc32: Crc = typeof zcrc === 'function' ? zcrc : makeTableCrc32();

function makeTableCrc32(): Crc {
  const table = new Int32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c;
  }
  return (data, value = 0) => {
    let c = ~value;
    for (let i = 0; i < data.length; i++) c = table[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
    return ~c >>> 0;
  };
}

export interface EncodedBatch {
  buf: Buffer;
  /** byte offset of each frame inside buf */
  offsets: number[];
}

/** Frames every payload into one contiguous buffer so the batch is one write + one fsync. */
export function encodeBatch(
  payloads: readonly Buffer[],
  firstSeq: number,
  events: readonly number[],
  compress: boolean,
): EncodedBatch {
  const stored: Buffer[] = new Array<Buffer>(payloads.length);
  const flags: number[] = new Array<number>(payloads.length);
  let total = 0;
  for (let i = 0; i < payloads.length; i++) {
    const p = payloads[i]!;
    let s = p;
    let f = 0;
    if (compress && p.length > 0) {
      const z = zlib.deflateRawSync(p, { level: 1 });
      // Incompressible payloads are stored raw: inflating them later would only cost time.
      if (z.length < p.length) {
        s = z;
        f = FLAG_DEFLATE;
      }
    }
    stored[i] = s;
    flags[i] = f;
    total += HEADER_BYTES + s.length;
  }
  const buf = Buffer.allocUnsafe(total);
  const offsets: number[] = new Array<number>(payloads.length);
  let off = 0;
  for (let i = 0; i < payloads.length; i++) {
    const s = stored[i]!;
    offsets[i] = off;
    writeHeader(buf, off, flags[i]!, s.length, payloads[i]!.length, firstSeq + i, events[i]!);
    s.copy(buf, off + HEADER_BYTES);
    const crc = crc32(buf.subarray(off + HEADER_BYTES, off + HEADER_BYTES + s.length), crc32(buf.subarray(off, off + 24)));
    buf.writeUInt32LE(crc, off + 24);
    off += HEADER_BYTES + s.length;
  }
  return { buf, offsets };
}

function writeHeader(b: Buffer, o: number, flags: number, len: number, rawLen: number, seq: number, events: number): void {
  b.writeUInt16LE(MAGIC, o);
  b[o + 2] = flags;
  b[o + 3] = VERSION;
  b.writeUInt32LE(len, o + 4);
  b.writeUInt32LE(rawLen, o + 8);
  b.writeUInt32LE(seq % 0x100000000, o + 12);
  b.writeUInt32LE(Math.floor(seq / 0x100000000), o + 16);
  b.writeUInt32LE(events, o + 20);
}

export type FrameCheck =
  | { kind: 'ok'; seq: number; events: number; flags: number; len: number; rawLen: number; frameBytes: number }
  /** the frame runs past `end`: a torn write at the tail (or a damaged len) */
  | { kind: 'torn' }
  /** bad magic/version/flags/crc, or an impossible length or seq */
  | { kind: 'bad'; why: string };

/** Validates the frame starting at `off` using only bytes in [off, end). */
export function checkFrame(buf: Buffer, off: number, end: number): FrameCheck {
  if (end - off < HEADER_BYTES) {
    // A short tail of a real header is torn; but a magic that is already wrong is damage.
    if (end - off >= 2 && buf.readUInt16LE(off) !== MAGIC) return { kind: 'bad', why: 'magic' };
    return { kind: 'torn' };
  }
  if (buf.readUInt16LE(off) !== MAGIC) return { kind: 'bad', why: 'magic' };
  const flags = buf[off + 2]!;
  if (buf[off + 3] !== VERSION || (flags & ~FLAG_DEFLATE) !== 0) return { kind: 'bad', why: 'version/flags' };
  const len = buf.readUInt32LE(off + 4);
  const rawLen = buf.readUInt32LE(off + 8);
  const hi = buf.readUInt32LE(off + 16);
  if (len > MAX_RECORD_BYTES || hi > MAX_SEQ_HI) return { kind: 'bad', why: 'len/seq range' };
  if (end - off < HEADER_BYTES + len) return { kind: 'torn' };
  const want = buf.readUInt32LE(off + 24);
  const got = crc32(buf.subarray(off + HEADER_BYTES, off + HEADER_BYTES + len), crc32(buf.subarray(off, off + 24)));
  if (want !== got) return { kind: 'bad', why: 'crc' };
  const seq = hi * 0x100000000 + buf.readUInt32LE(off + 12);
  const events = buf.readUInt32LE(off + 20);
  return { kind: 'ok', seq, events, flags, len, rawLen, frameBytes: HEADER_BYTES + len };
}

/**
 * The length and seq of the frame whose header starts at `h` (at least HEADER_BYTES), without the CRC: for a quick
 * walk from header to header that only needs a hint (orphans.ts). null when the magic is wrong.
 */
export function peekHeader(h: Buffer): { len: number; seq: number } | null {
  if (h.readUInt16LE(0) !== MAGIC) return null;
  return { len: h.readUInt32LE(4), seq: h.readUInt32LE(16) * 0x100000000 + h.readUInt32LE(12) };
}

/** The payload of a frame already validated by checkFrame. */
export function decodePayload(buf: Buffer, off: number, flags: number, len: number, rawLen: number): Buffer {
  const stored = buf.subarray(off + HEADER_BYTES, off + HEADER_BYTES + len);
  if ((flags & FLAG_DEFLATE) === 0) return stored;
  const raw = zlib.inflateRawSync(stored, { maxOutputLength: Math.max(rawLen, 1) });
  if (raw.length !== rawLen) throw new Error(`inflated ${raw.length} bytes, header says ${rawLen}`);
  return raw;
}
