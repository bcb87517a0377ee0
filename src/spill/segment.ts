/**
 * Segment files: `<16-digit first seq>.seg`, a plain concatenation of frames whose
 * seqs run firstSeq, firstSeq+1, ... with no gap. Because seqs are dense inside a
 * segment, record i of a segment is found at offsets[i] without a search.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { checkFrame, HEADER_BYTES, MAGIC } from './frame.js';

export const SEG_SUFFIX = '.seg';
const SEG_RE = /^(\d{16})\.seg$/;

export interface Segment {
  firstSeq: number;
  path: string;
  /** bytes of valid frames == file size once recovered */
  bytes: number;
  /** byte offset of the record with seq firstSeq + i */
  offsets: number[];
  /** event count of the record with seq firstSeq + i */
  events: number[];
  /** open descriptor (read-write for the active segment, read-only otherwise) or -1 */
  fd: number;
}

export function segName(firstSeq: number): string {
  return `${String(firstSeq).padStart(16, '0')}${SEG_SUFFIX}`;
}

export function lastSeqOf(s: Segment): number {
  return s.firstSeq + s.offsets.length - 1;
}

/** Segment files of `dir` by ascending first seq. */
export function listSegments(dir: string): { firstSeq: number; path: string }[] {
  const out: { firstSeq: number; path: string }[] = [];
  for (const name of fs.readdirSync(dir)) {
    const m = SEG_RE.exec(name);
    if (m) out.push({ firstSeq: Number(m[1]), path: path.join(dir, name) });
  }
  return out.sort((a, b) => a.firstSeq - b.firstSeq);
}

export interface Run {
  start: number;
  end: number;
  firstSeq: number;
  /** relative to `start` */
  offsets: number[];
  events: number[];
}

export interface Scan {
  /** valid frames from offset 0 with seqs firstSeq, firstSeq+1, ... */
  head: Run;
  /** where the head stops; === buf.length when the whole file is sound */
  damageAt: number;
  /** the frame at damageAt is cut short by EOF (a torn write) rather than wrong */
  torn: boolean;
}

/** Walks frames from `start` while they are valid and their seqs are dense from `firstSeq`. */
export function walk(buf: Buffer, start: number, firstSeq: number): { run: Run; torn: boolean } {
  const run: Run = { start, end: start, firstSeq, offsets: [], events: [] };
  let off = start;
  let torn = false;
  while (off < buf.length) {
    const c = checkFrame(buf, off, buf.length);
    if (c.kind !== 'ok' || c.seq !== firstSeq + run.offsets.length) {
      torn = c.kind === 'torn';
      break;
    }
    run.offsets.push(off - start);
    run.events.push(c.events);
    off += c.frameBytes;
  }
  run.end = off;
  return { run, torn };
}

export function scanSegment(buf: Buffer, firstSeq: number): Scan {
  const { run, torn } = walk(buf, 0, firstSeq);
  return { head: run, damageAt: run.end, torn };
}

/**
 * After damage, finds later stretches of valid frames (resynchronising on the magic
 * and the CRC) whose seqs rise above `afterSeq`. A false resync needs a 2-byte magic,
 * a sane header and a matching CRC32 by chance inside a payload: ~2^-32 per candidate.
 */
export function salvageRuns(buf: Buffer, from: number, afterSeq: number): Run[] {
  const runs: Run[] = [];
  const magic = Buffer.from([MAGIC & 0xff, MAGIC >> 8]);
  let minSeq = afterSeq + 1;
  let off = from;
  while (off + HEADER_BYTES <= buf.length) {
    const at = buf.indexOf(magic, off);
    if (at < 0) break;
    const c = checkFrame(buf, at, buf.length);
    if (c.kind === 'ok' && c.seq >= minSeq) {
      const { run } = walk(buf, at, c.seq);
      runs.push(run);
      minSeq = run.firstSeq + run.offsets.length;
      off = run.end;
    } else {
      off = at + 1;
    }
  }
  return runs;
}

export function readWhole(file: string): Buffer {
  return fs.readFileSync(file);
}
