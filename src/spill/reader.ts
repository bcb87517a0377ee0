/**
 * Replay reads. Records are fetched a chunk of whole frames at a time with one pread
 * (the index gives exact frame boundaries), re-verified (crc + seq) because the disk
 * may have rotted since recovery, and inflated.
 */
import * as fs from 'node:fs';
import { SpillError } from './errors.js';
import { checkFrame, decodePayload } from './frame.js';
import { lastSeqOf, type Segment } from './segment.js';

export interface SpillRecord {
  seq: number;
  /** decompressed payload, exactly the bytes given to append */
  payload: Buffer;
  events: number;
}

/** Upper bound on one pread; a larger single frame is still read whole. */
const READ_CHUNK = 4 * 1024 * 1024;

/** The segment holding `seq`, or the first one after it when `seq` falls in a gap. */
function findSegment(segs: readonly Segment[], seq: number): number {
  let lo = 0;
  let hi = segs.length - 1;
  let ans = segs.length;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (lastSeqOf(segs[mid]!) >= seq) {
      ans = mid;
      hi = mid - 1;
    } else lo = mid + 1;
  }
  return ans;
}

function release(s: Segment): void {
  if (s.fd >= 0) fs.closeSync(s.fd);
  s.fd = -1;
}

export function readRecords(segs: readonly Segment[], from: number, maxRecords: number, maxBytes: number): SpillRecord[] {
  const out: SpillRecord[] = [];
  let bytes = 0;
  for (let k = findSegment(segs, from); k < segs.length; k++) {
    const s = segs[k]!;
    const n = s.offsets.length;
    let i = Math.max(0, from - s.firstSeq);
    while (i < n) {
      if (out.length >= maxRecords) return out;
      // Whole frames [i, j) that fit one chunk; always at least frame i.
      const start = s.offsets[i]!;
      let j = i + 1;
      const limit = Math.min(n, i + (maxRecords - out.length));
      while (j < limit && (s.offsets[j + 1] ?? s.bytes) - start <= READ_CHUNK) j++;
      const end = s.offsets[j] ?? s.bytes;
      if (s.fd < 0) s.fd = fs.openSync(s.path, 'r');
      const buf = Buffer.allocUnsafe(end - start);
      let got = 0;
      while (got < buf.length) {
        const r = fs.readSync(s.fd, buf, got, buf.length - got, start + got);
        if (r === 0) throw new SpillError('COLLECTOR_ERR_SPILL_CORRUPT', `${s.path} is shorter than indexed`);
        got += r;
      }
      while (i < j) {
        const seq = s.firstSeq + i;
        const rel = s.offsets[i]! - start;
        const c = checkFrame(buf, rel, (s.offsets[i + 1] ?? s.bytes) - start);
        if (c.kind !== 'ok' || c.seq !== seq) {
          throw new SpillError('COLLECTOR_ERR_SPILL_CORRUPT', `seq ${seq} in ${s.path}: ${c.kind === 'bad' ? c.why : c.kind}`);
        }
        if (out.length > 0 && bytes + c.rawLen > maxBytes) return out;
        let payload: Buffer;
        try {
          payload = decodePayload(buf, rel, c.flags, c.len, c.rawLen);
        } catch (err) {
          throw new SpillError('COLLECTOR_ERR_SPILL_CORRUPT', `seq ${seq} in ${s.path}: ${(err as Error).message}`);
        }
        out.push({ seq, payload, events: c.events });
        bytes += c.rawLen;
        i++;
        if (out.length >= maxRecords) break;
      }
      // A sealed segment read to its end is not needed again soon (the next read starts
      // later): release its descriptor so a long backlog does not pin one fd per segment.
      if (i === n && k < segs.length - 1) release(s);
      if (out.length >= maxRecords) return out;
    }
  }
  return out;
}
