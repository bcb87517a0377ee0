/**
 * Open-time recovery: make the directory match the invariants again after any crash
 * or corruption, and rebuild the in-memory index. It never throws for bad data (a
 * throw here would be a crash loop): it truncates, quarantines, salvages and reports.
 * It throws only for real I/O errors (EACCES, EIO), which a restart will not fix either.
 *
 * Order of repairs for a damaged segment (each step durable before the next, so a
 * crash in the middle of recovery is itself recoverable and loses nothing):
 *   1. copy the whole file to quarantine/ (the evidence, incl. the damaged bytes)
 *   2. write every valid run found after the damage as its own `<seq>.seg`
 *   3. truncate the original at the damage point (or delete it when nothing is left)
 * A torn tail of the LAST segment with nothing valid after it is the normal crash
 * case: it is only truncated and reported in truncatedBytes, not quarantined — when the
 * frames cut are past the durable limit (never fsynced, never answered). Below that limit
 * the same bytes are damage to acknowledged frames: quarantined, and their seqs reported in
 * lostRanges and acknowledgedLost. Without a limit (0) the cut is reported as not known.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCheckpoint } from './checkpoint.js';
import { fsyncDir, writeFileAtomic } from './fsutil.js';
import { lastSeqOf, listSegments, readWhole, salvageRuns, scanSegment, segName, type Segment } from './segment.js';

export interface RecoveryReport {
  /** segments kept (holding unacked records) */
  segments: number;
  /** unacked records found */
  records: number;
  /** unacked events found */
  events: number;
  /** bytes cut from the tail of the last segment (torn or corrupt, nothing valid after) */
  truncatedBytes: number;
  /** why truncatedBytes > 0: a write cut short by the crash, or a bad record with nothing valid after it */
  truncatedReason: 'torn' | 'corrupt' | null;
  /**
   * whether the truncated frames had been acknowledged: 'no' (at or past the durable limit: a crash mid-append),
   * 'yes' (below it: damage, in lostRanges), 'unknown' (no limit was recorded); null when nothing was truncated
   */
  truncatedAcknowledged: 'no' | 'yes' | 'unknown' | null;
  /** acknowledged records known lost (below the durable limit, damaged) */
  acknowledgedLost: number;
  /** files moved or copied aside into <dir>/quarantine/ */
  quarantined: string[];
  /** records re-homed into new segments from after a damaged spot */
  salvagedRecords: number;
  /** unacked seq ranges that are known missing (damaged records), inclusive */
  lostRanges: { from: number; to: number }[];
  /** segments deleted because the checkpoint already covered them (an interrupted ack) */
  deletedAckedSegments: number;
  checkpoint: 'ok' | 'absent' | 'corrupt';
  ackedSeq: number;
  nextSeq: number;
  durationMs: number;
}

export interface Recovered {
  report: RecoveryReport;
  segments: Segment[];
  ackedSeq: number;
  nextSeq: number;
  quarantineBytes: number;
}

export const QUARANTINE_DIR = 'quarantine';

function seg(firstSeq: number, file: string, bytes: number, offsets: number[], events: number[]): Segment {
  return { firstSeq, path: file, bytes, offsets, events, fd: -1 };
}

function quarantine(dir: string, file: string, durable: boolean, move: boolean): string {
  const qdir = path.join(dir, QUARANTINE_DIR);
  fs.mkdirSync(qdir, { recursive: true });
  const dest = path.join(qdir, `${path.basename(file)}.${Date.now()}.${process.pid}`);
  if (move) fs.renameSync(file, dest);
  else {
    fs.copyFileSync(file, dest);
    if (durable) {
      const fd = fs.openSync(dest, 'r');
      fs.fsyncSync(fd);
      fs.closeSync(fd);
    }
  }
  if (durable) fsyncDir(qdir);
  return dest;
}

export function recover(dir: string, durable: boolean, durableLimit = 0): Recovered {
  const t0 = performance.now();
  const report: RecoveryReport = {
    segments: 0, records: 0, events: 0, truncatedBytes: 0, truncatedReason: null, truncatedAcknowledged: null, acknowledgedLost: 0, quarantined: [], salvagedRecords: 0,
    lostRanges: [], deletedAckedSegments: 0, checkpoint: 'absent', ackedSeq: 0, nextSeq: 1, durationMs: 0,
  };
  // Leftovers of an interrupted atomic write; the real file is intact beside them.
  for (const name of fs.readdirSync(dir)) {
    if (name === 'checkpoint.tmp' || name.endsWith('.seg.tmp')) fs.rmSync(path.join(dir, name), { force: true });
  }
  const cp = readCheckpoint(dir);
  report.checkpoint = cp.status;
  const files = listSegments(dir);
  const firstName = files[0]?.firstSeq;
  const out: Segment[] = [];
  const deleteFile = (file: string): void => fs.rmSync(file, { force: true });

  for (let i = 0; i < files.length; i++) {
    const f = files[i]!;
    const next = files[i + 1];
    // Every seq of f is below next.firstSeq: if the checkpoint covers them all, f is
    // left over from an ack that crashed before its delete. Skip reading it.
    if (cp.ackedSeq !== null && next && next.firstSeq - 1 <= cp.ackedSeq) {
      deleteFile(f.path);
      report.deletedAckedSegments++;
      continue;
    }
    const buf = readWhole(f.path);
    const scan = scanSegment(buf, f.firstSeq);
    const head = scan.head;
    if (scan.damageAt === buf.length) {
      out.push(seg(f.firstSeq, f.path, buf.length, head.offsets, head.events));
      continue;
    }
    const isLast = next === undefined;
    const lastGood = f.firstSeq + head.offsets.length - 1;
    const runs = salvageRuns(buf, scan.damageAt, Math.max(lastGood, f.firstSeq - 1)).filter(
      (r) => next === undefined || r.firstSeq + r.offsets.length - 1 < next.firstSeq,
    );
    if (isLast && runs.length === 0) {
      report.truncatedBytes += buf.length - scan.damageAt;
      report.truncatedReason = scan.torn ? 'torn' : 'corrupt';
      const firstCut = lastGood + 1;
      if (durableLimit <= 0) report.truncatedAcknowledged = 'unknown';
      else if (firstCut >= durableLimit) report.truncatedAcknowledged = 'no';
      else {
        // Frames below the limit were fsynced and answered: this is damage, not a crash mid-append.
        report.truncatedAcknowledged = 'yes';
        report.lostRanges.push({ from: firstCut, to: durableLimit - 1 });
        report.acknowledgedLost += durableLimit - firstCut;
        report.quarantined.push(quarantine(dir, f.path, durable, false));
      }
      truncate(f.path, scan.damageAt, durable);
      out.push(seg(f.firstSeq, f.path, scan.damageAt, head.offsets, head.events));
      continue;
    }
    report.quarantined.push(quarantine(dir, f.path, durable, head.offsets.length === 0 && runs.length === 0));
    for (const r of runs) {
      const file = path.join(dir, segName(r.firstSeq));
      writeFileAtomic(file, buf.subarray(r.start, r.end), durable);
      report.salvagedRecords += r.offsets.length;
      // A salvaged file may replace a later listed one of the same name (a re-run of
      // an interrupted recovery produces the same runs): never index it twice.
      const dup = files.findIndex((x, k) => k > i && x.firstSeq === r.firstSeq);
      if (dup >= 0) files.splice(dup, 1);
    }
    if (head.offsets.length > 0) truncate(f.path, scan.damageAt, durable);
    else if (!runs.some((r) => r.firstSeq === f.firstSeq)) deleteFile(f.path); // else a run replaced it
    if (head.offsets.length > 0) out.push(seg(f.firstSeq, f.path, scan.damageAt, head.offsets, head.events));
    for (const r of runs) {
      out.push(seg(r.firstSeq, path.join(dir, segName(r.firstSeq)), r.end - r.start, r.offsets, r.events));
    }
    if (durable) fsyncDir(dir);
  }
  out.sort((a, b) => a.firstSeq - b.firstSeq);
  return finish(dir, out, cp.ackedSeq ?? (firstName === undefined ? 0 : firstName - 1), report, durable, t0);
}

function truncate(file: string, len: number, durable: boolean): void {
  const fd = fs.openSync(file, 'r+');
  try {
    fs.ftruncateSync(fd, len);
    if (durable) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** Without a checkpoint nothing is known to be delivered: ackedSeq sits just below the oldest segment. */
function finish(dir: string, segs: Segment[], ackedSeq: number, report: RecoveryReport, durable: boolean, t0: number): Recovered {
  const kept: Segment[] = [];
  let prevLast = ackedSeq;
  for (const s of segs) {
    const last = lastSeqOf(s);
    // Fully acked, empty, or overlapping an earlier segment (only possible after a
    // foreign edit): never index a seq twice. Overlaps are quarantined, not dropped.
    if (last <= ackedSeq || s.offsets.length === 0) {
      fs.rmSync(s.path, { force: true });
      if (s.offsets.length > 0) report.deletedAckedSegments++;
      continue;
    }
    if (s.firstSeq <= prevLast && kept.length > 0) {
      report.quarantined.push(quarantine(dir, s.path, durable, true));
      continue;
    }
    if (s.firstSeq > prevLast + 1) report.lostRanges.push({ from: prevLast + 1, to: s.firstSeq - 1 });
    kept.push(s);
    prevLast = last;
    for (let i = 0; i < s.events.length; i++) {
      if (s.firstSeq + i > ackedSeq) {
        report.records++;
        report.events += s.events[i]!;
      }
    }
  }
  const tail = kept[kept.length - 1];
  const nextSeq = Math.max(ackedSeq + 1, tail ? lastSeqOf(tail) + 1 : 1);
  report.segments = kept.length;
  report.ackedSeq = ackedSeq;
  report.nextSeq = nextSeq;
  report.durationMs = performance.now() - t0;
  return { report, segments: kept, ackedSeq, nextSeq, quarantineBytes: dirBytes(path.join(dir, QUARANTINE_DIR)) };
}

function dirBytes(d: string): number {
  let n = 0;
  try {
    for (const name of fs.readdirSync(d)) n += fs.statSync(path.join(d, name)).size;
  } catch {
    return 0;
  }
  return n;
}
