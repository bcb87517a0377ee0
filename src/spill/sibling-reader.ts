/**
 * Reads a spill log that another process owns and keeps appending to (the host's replay
 * leader reads every log of the host this way). Read-only: it never writes, truncates
 * or locks anything in the directory; the owner alone advances, truncates and deletes.
 *
 * What it returns is only ever complete, checksummed frames with dense seqs, in log order:
 *   - the owner may be mid-append: a frame that runs past the end of the file (torn), or a
 *     bad frame at the very end of the newest segment, is "not there yet" (the owner's
 *     crash recovery would cut it; a live owner completes it) — but not a frame whose seq the
 *     owner already answered, nor a torn frame with valid frames after it: the CRC covers the
 *     length too, but the length says where the frame ends, so a rotten one makes a complete
 *     frame look torn before its CRC can be checked;
 *   - the owner deletes acknowledged segments at any time: a segment that vanishes between
 *     the listing and the open held only seqs below what is asked (acked), so it is skipped;
 *   - a segment replaced by the owner's recovery (salvage rewrites files by rename) is
 *     noticed by its inode and read afresh;
 *   - a bad frame with anything valid after it is damage (bit rot): the rest of that segment
 *     is resynchronised as recovery does (segment.ts salvageRuns), a copy of the file goes to
 *     the log's quarantine/ folder, and the missing seqs are reported in `lost`.
 *
 * The reader remembers where the previous call stopped (segment path, inode, byte offset,
 * seq), so the usual forward reading costs one pread of the new bytes, not a rescan.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { SpillError } from './errors.js';
import { checkFrame, decodePayload, HEADER_BYTES } from './frame.js';
import { errnoCode } from './fsutil.js';
import type { SpillRecord } from './reader.js';
import { QUARANTINE_DIR } from './recovery.js';
import { listSegments, salvageRuns } from './segment.js';

export interface Peek {
  records: SpillRecord[];
  /** true when every complete frame after the last record was returned (not cut by maxRecords/maxBytes) */
  end: boolean;
  /** seqs found damaged while reading (copies of their segments are in quarantine/) */
  lost: { from: number; to: number }[];
}

const READ_CHUNK = 4 * 1024 * 1024;

interface Position {
  file: string;
  ino: number;
  off: number;
  seq: number;
}

export class SiblingReader {
  /** per directory: where the last call stopped */
  private readonly pos = new Map<string, Position>();

  forget(dir: string): void {
    this.pos.delete(dir);
  }

  /** Complete records with fromSeq <= seq < belowSeq (0: no bound), in log order, at most maxRecords and (but for the first) maxBytes raw bytes. */
  peek(dir: string, fromSeq: number, maxRecords: number, maxBytes: number, belowSeq = 0): Peek {
    const out: SpillRecord[] = [];
    const lost: Peek['lost'] = [];
    let segs: { firstSeq: number; path: string }[];
    try {
      segs = listSegments(dir);
    } catch (err) {
      if (errnoCode(err) === 'ENOENT') return { records: out, end: true, lost };
      throw err;
    }
    let k = 0;
    while (k + 1 < segs.length && segs[k + 1]!.firstSeq <= fromSeq) k++;
    let want = fromSeq;
    let bytes = 0;
    for (; k < segs.length; k++) {
      const s = segs[k]!;
      const newest = k === segs.length - 1;
      let fd: number;
      try {
        fd = fs.openSync(s.path, 'r');
      } catch (err) {
        if (errnoCode(err) === 'ENOENT') continue; // acked and deleted by the owner meanwhile
        throw err;
      }
      try {
        const st = fs.fstatSync(fd);
        const p = this.pos.get(dir);
        // Start where the last call stopped when it is the same file and the seq asked for; else walk from 0.
        let off = 0;
        let seq = s.firstSeq;
        if (p && p.file === s.path && p.ino === st.ino && p.seq <= want && p.off <= st.size) {
          off = p.off;
          seq = p.seq;
        }
        let buf: Buffer = Buffer.alloc(0);
        let bufAt = 0;
        const size = st.size;
        while (off < size) {
          // Make sure the window holds the frame at `off` (its header first, then all of it).
          let c = off - bufAt + HEADER_BYTES <= buf.length ? checkFrame(buf, off - bufAt, buf.length) : ({ kind: 'torn' } as const);
          if (c.kind === 'torn') {
            const need = off - bufAt + HEADER_BYTES <= buf.length ? HEADER_BYTES + buf.readUInt32LE(off - bufAt + 4) : HEADER_BYTES;
            const len = Math.min(size - off, Math.max(READ_CHUNK, need));
            buf = readAt(fd, off, len);
            bufAt = off;
            c = checkFrame(buf, 0, buf.length);
          }
          // The owner answered this seq: its frame is complete on disk, so anything wrong with it is damage.
          const answered = belowSeq > 0 && seq < belowSeq;
          if (c.kind === 'torn') {
            // Past the end of the file. In the newest segment that is the owner's append in progress — unless
            // the owner answered it, or (an adopted log, no writer) valid frames follow: then the frame's
            // length rotted (its CRC cannot be checked when the length points past the file) and the frame is
            // damage like any other.
            if (newest && !answered && (belowSeq > 0 || salvageRuns(fs.readFileSync(s.path), off + 1, seq - 1).length === 0)) break;
          }
          if (c.kind === 'torn' || c.kind === 'bad' || c.seq !== seq) {
            // The newest segment's tail may be a frame its live owner is still writing only as "torn";
            // a bad frame there with nothing after it is a crash leftover the owner's recovery cuts.
            const rest: Buffer = fs.readFileSync(s.path);
            const runs = salvageRuns(rest, off + 1, seq - 1);
            if (runs.length === 0 && newest && !answered) break;
            quarantineCopy(dir, s.path);
            const next = runs[0];
            // Nothing valid after it: lost up to the segment's end (the next segment's first seq, or in the
            // newest one what the owner answered).
            const to = next ? next.firstSeq - 1 : newest ? (answered ? belowSeq - 1 : seq) : (segs[k + 1]!.firstSeq - 1);
            if (to >= seq) lost.push({ from: seq, to });
            if (!next) {
              off = size;
              seq = to + 1;
              break;
            }
            buf = rest;
            bufAt = 0;
            off = next.start;
            seq = next.firstSeq;
            continue;
          }
          // Not yet answered by its owner (host-table.ts `durable`): as if not written yet.
          if (belowSeq > 0 && seq >= belowSeq) {
            this.pos.set(dir, { file: s.path, ino: st.ino, off, seq });
            return { records: out, end: true, lost };
          }
          if (seq >= want) {
            if (out.length >= maxRecords || (out.length > 0 && bytes + c.rawLen > maxBytes)) {
              this.pos.set(dir, { file: s.path, ino: st.ino, off, seq });
              return { records: out, end: false, lost };
            }
            let payload: Buffer;
            try {
              payload = Buffer.from(decodePayload(buf, off - bufAt, c.flags, c.len, c.rawLen));
            } catch (err) {
              throw new SpillError('COLLECTOR_ERR_SPILL_CORRUPT', `seq ${seq} in ${s.path}: ${(err as Error).message}`);
            }
            out.push({ seq, payload, events: c.events });
            bytes += c.rawLen;
            want = seq + 1;
          }
          off += c.frameBytes;
          seq++;
        }
        this.pos.set(dir, { file: s.path, ino: st.ino, off, seq });
        if (seq > want) want = seq;
      } finally {
        fs.closeSync(fd);
      }
    }
    return { records: out, end: true, lost };
  }
}

function readAt(fd: number, at: number, len: number): Buffer {
  const buf = Buffer.allocUnsafe(len);
  let got = 0;
  while (got < len) {
    const r = fs.readSync(fd, buf, got, len - got, at + got);
    if (r === 0) break;
    got += r;
  }
  return got === len ? buf : buf.subarray(0, got);
}

/** Evidence of damage found by the reader: the owner's cap counts it from its next open. */
function quarantineCopy(dir: string, file: string): void {
  try {
    const q = path.join(dir, QUARANTINE_DIR);
    fs.mkdirSync(q, { recursive: true });
    fs.copyFileSync(file, path.join(q, `${path.basename(file)}.${Date.now()}.${process.pid}`));
  } catch {
    // evidence only: the lost seqs are reported either way
  }
}
