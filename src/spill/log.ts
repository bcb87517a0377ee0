/**
 * SpillLog: the durable local buffer that carries batches while Kafka is down.
 * One owner (a dedicated worker thread) per directory; synchronous fs throughout.
 *
 *   <dir>/
 *     LOCK                        {"pid","startTime","token","host"}   (lock.ts)
 *     checkpoint                  ackedSeq, crc'd, replaced atomically (checkpoint.ts)
 *     0000000000000001.seg        sealed   ─┐ seqs dense and rising across files;
 *     0000000000000412.seg        sealed    │ a file is named by its first seq
 *     0000000000000907.seg        active   ─┘ (appends go here)
 *     quarantine/<name>.<ms>.<pid> damaged files kept as evidence (recovery.ts)
 *
 *   segment = frame frame frame ...        (no segment header: the name is the header)
 *   frame   = +-------+-----+---+-----+--------+---------+--------+-------+===========+
 *             | magic | flg |ver| len | rawLen | seq u64 | events | crc32 |  payload  |
 *             | u16   | u8  |u8 | u32 | u32    |  (safe) | u32    |  u32  | len bytes |
 *             +-------+-----+---+-----+--------+---------+--------+-------+===========+
 *              0       2     3   4     8        12        20       24      28
 *   crc32 covers bytes [0,24) and the payload; flg bit0 = deflate-raw level 1.
 *
 *   seq:  1 ......... ackedSeq | ackedSeq+1 ...... unacked ...... nextSeq-1 | nextSeq
 *         delivered, deletable |   owed to Kafka, read() returns these      | next append
 *
 * Invariants
 *   - append returns only after its frames are written AND fdatasync'd (one write,
 *     one fsync per call: group commit; plus one directory fsync when the call opens
 *     a new segment). A returned seq survives kill -9 / power cut.
 *   - seqs are dense inside a segment, so record i of a segment is at offsets[i].
 *   - checkpoint is made durable BEFORE acked segments are deleted, so the worst a
 *     crash can do around ack() is redeliver (checkpoint not yet renamed) or leave a
 *     dead segment that recovery deletes (checkpoint renamed, delete not done).
 *   - the cap counts every byte this log puts on disk (segments, checkpoint incl. its
 *     tmp, LOCK, quarantine/; apparent sizes, not filesystem blocks); FULL is decided
 *     before anything is written. Only recovery may pass it briefly (salvage copies).
 *   - seqs are never reused while the checkpoint survives (nextSeq > ackedSeq).
 *
 * Failure cases
 *   - crash mid-append: a torn last frame in the last segment; recovery truncates it.
 *     Those records were never returned, so nothing acknowledged is lost.
 *   - write/fsync error: the append throws COLLECTOR_ERR_SPILL_IO, the tail is cut
 *     back, and the instance refuses further calls (after a failed fsync the page
 *     cache cannot be trusted: fsyncgate). close() + open() recovers.
 *   - bit rot in a sealed segment: quarantined (copy), valid runs on both sides kept,
 *     the missing seqs reported in recovery.lostRanges. open() never throws for bad
 *     data; it throws only for real I/O errors or a live lock owner.
 *   - a record that rots after open fails its crc in read(): COLLECTOR_ERR_SPILL_CORRUPT;
 *     reopen to quarantine it.
 *   - checkpoint unreadable: treated as absent: everything on disk is redelivered.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { CHECKPOINT_BYTES, writeCheckpoint } from './checkpoint.js';
import { SpillError } from './errors.js';
import { encodeBatch, MAX_RECORD_BYTES } from './frame.js';
import { fsyncDir } from './fsutil.js';
import { abandonLock, acquireLock, releaseLock, type LockHandle } from './lock.js';
import { readRecords, type SpillRecord } from './reader.js';
import { recover, type RecoveryReport } from './recovery.js';
import { readReplayed } from './replayed.js';
import { lastSeqOf, segName, type Segment } from './segment.js';
import type { SpillFaultPoint, SpillLogOptions, SpillStats } from './types.js';

export type { RecoveryReport } from './recovery.js';
export type { SpillRecord } from './reader.js';
export type { SpillFaultPoint, SpillLogOptions, SpillStats } from './types.js';

const DEFAULT_SEGMENT_BYTES = 16 * 1024 * 1024;

export class SpillLog {
  readonly dir: string;
  readonly recovery: RecoveryReport;
  private readonly segmentBytes: number;
  private readonly maxBytes: number;
  private readonly compress: boolean;
  private readonly durable: boolean;
  private readonly hook: ((p: SpillFaultPoint) => void) | undefined;
  private readonly lock: LockHandle;
  private segs: Segment[];
  /** the segment appends go to; null until the first append after open/roll/full ack */
  private active: Segment | null = null;
  private nextSeq: number;
  private ackedSeq: number;
  private unackedRecords: number;
  private unackedEvents: number;
  private segBytes = 0;
  private readonly quarantineBytes: number;
  private hasCheckpoint: boolean;
  private dead: SpillError | null = null;

  static open(opts: SpillLogOptions): SpillLog {
    return new SpillLog(opts);
  }

  private constructor(opts: SpillLogOptions) {
    if (!(opts.maxBytes > 0)) throw new SpillError('COLLECTOR_ERR_SPILL_INVALID_ARG', 'maxBytes must be > 0');
    this.dir = path.resolve(opts.dir);
    this.segmentBytes = opts.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    this.maxBytes = opts.maxBytes;
    this.compress = opts.compress ?? true;
    this.durable = opts.fsync ?? true;
    this.hook = opts.faultHook;
    const created = fs.mkdirSync(this.dir, { recursive: true });
    // A new directory's own name must be durable too, or a power cut can orphan it.
    if (created && this.durable) {
      for (let d = this.dir; ; d = path.dirname(d)) {
        fsyncDir(path.dirname(d));
        if (d === created || d === path.dirname(d)) break;
      }
    }
    this.lock = acquireLock(this.dir, opts.stealOwnProcess ?? false);
    try {
      const r = recover(this.dir, this.durable, opts.durableLimit ?? 0);
      this.recovery = r.report;
      this.segs = r.segments;
      this.nextSeq = r.nextSeq;
      this.ackedSeq = r.ackedSeq;
      this.unackedRecords = r.report.records;
      this.unackedEvents = r.report.events;
      this.quarantineBytes = r.quarantineBytes;
      this.hasCheckpoint = r.report.checkpoint === 'ok';
      for (const s of this.segs) this.segBytes += s.bytes;
      const tail = this.segs[this.segs.length - 1];
      // Only a tail that ends exactly at nextSeq-1 may take more appends (dense seqs).
      if (tail && tail.bytes < this.segmentBytes && lastSeqOf(tail) === this.nextSeq - 1) {
        tail.fd = fs.openSync(tail.path, 'r+');
        this.active = tail;
      }
      // What the host's replay leader saw Kafka acknowledge while another process held the log
      // (replayed.ts). A marker past the tail covers frames lost since (never fsynced, or cut back):
      // they were sent, and their seqs must never be reused.
      const marked = readReplayed(this.dir);
      if (marked > this.ackedSeq) {
        if (marked >= this.nextSeq) this.nextSeq = marked + 1;
        this.ack(marked);
      }
    } catch (err) {
      releaseLock(this.lock);
      throw err;
    }
  }

  /** Writes every payload, then ONE fdatasync; returns once all of them are durable. */
  append(payloads: readonly Buffer[], eventCounts?: readonly number[]): { firstSeq: number; lastSeq: number } {
    this.usable();
    const n = payloads.length;
    const firstSeq = this.nextSeq;
    if (n === 0) return { firstSeq, lastSeq: firstSeq - 1 };
    if (eventCounts && eventCounts.length !== n) {
      throw new SpillError('COLLECTOR_ERR_SPILL_INVALID_ARG', 'eventCounts.length must equal payloads.length');
    }
    const events = eventCounts ?? new Array<number>(n).fill(1);
    for (let i = 0; i < n; i++) {
      const e = events[i]!;
      if (!Number.isInteger(e) || e < 0 || e > 0xffffffff) throw new SpillError('COLLECTOR_ERR_SPILL_INVALID_ARG', `event count ${e}`);
      // Recovery treats a longer frame as damage, so it must never be written.
      if (payloads[i]!.length > MAX_RECORD_BYTES) throw new SpillError('COLLECTOR_ERR_SPILL_INVALID_ARG', `payload of ${payloads[i]!.length} bytes`);
    }
    const enc = encodeBatch(payloads, firstSeq, events, this.compress);
    const len = enc.buf.length;
    if (this.reservedBytes() + len > this.maxBytes) {
      throw new SpillError('COLLECTOR_ERR_SPILL_FULL', `${len} more bytes would pass maxBytes ${this.maxBytes}`);
    }
    let seg = this.active;
    if (seg && seg.bytes > 0 && seg.bytes + len > this.segmentBytes) seg = null;
    try {
      if (!seg) seg = this.roll(firstSeq);
      const at = seg.bytes;
      try {
        let done = 0;
        while (done < len) done += fs.writeSync(seg.fd, enc.buf, done, len - done, at + done);
      } catch (err) {
        cutBack(seg, at);
        throw err;
      }
      // A throw here models a crash after write(2) but before fsync: no cut-back.
      this.hook?.('append:written');
      if (this.durable) fs.fdatasyncSync(seg.fd);
      for (let i = 0; i < n; i++) {
        seg.offsets.push(at + enc.offsets[i]!);
        seg.events.push(events[i]!);
        this.unackedEvents += events[i]!;
      }
      seg.bytes += len;
      this.segBytes += len;
      this.unackedRecords += n;
      this.nextSeq += n;
      return { firstSeq, lastSeq: firstSeq + n - 1 };
    } catch (err) {
      throw this.fail(err);
    }
  }

  /** Unacked records with seq >= fromSeq, in log order; at least one when any is owed. */
  read(fromSeq: number, maxRecords: number, maxBytes = Infinity): SpillRecord[] {
    this.usable();
    const from = Math.max(fromSeq, this.ackedSeq + 1);
    if (from >= this.nextSeq || maxRecords <= 0) return [];
    return readRecords(this.segs, from, maxRecords, maxBytes);
  }

  /** Everything <= uptoSeq is delivered: persist that, then drop the covered segments. */
  ack(uptoSeq: number): void {
    this.usable();
    if (!Number.isSafeInteger(uptoSeq) || uptoSeq >= this.nextSeq) {
      throw new SpillError('COLLECTOR_ERR_SPILL_INVALID_ARG', `ack(${uptoSeq}) but nextSeq is ${this.nextSeq}`);
    }
    if (uptoSeq <= this.ackedSeq) return;
    try {
      writeCheckpoint(this.dir, uptoSeq, this.durable, this.hook && (() => this.hook!('ack:checkpoint-tmp')));
      this.hasCheckpoint = true;
      this.hook?.('ack:checkpointed');
    } catch (err) {
      throw this.fail(err);
    }
    for (const s of this.segs) {
      if (s.firstSeq > uptoSeq) break;
      for (let seq = Math.max(s.firstSeq, this.ackedSeq + 1); seq <= Math.min(lastSeqOf(s), uptoSeq); seq++) {
        this.unackedRecords--;
        this.unackedEvents -= s.events[seq - s.firstSeq]!;
      }
    }
    this.ackedSeq = uptoSeq;
    // No fsync of the directory after unlink: a resurrected segment is already covered
    // by the durable checkpoint and recovery deletes it again.
    try {
      while (this.segs.length > 0 && lastSeqOf(this.segs[0]!) <= uptoSeq) {
        const s = this.segs.shift()!;
        if (s === this.active) this.active = null;
        closeFd(s);
        this.segBytes -= s.bytes;
        fs.rmSync(s.path, { force: true });
        this.hook?.('ack:segment-deleted');
      }
    } catch (err) {
      throw this.fail(err);
    }
  }

  /** Acks what the replay leader's marker covers (replayed.ts); true when that moved ackedSeq. */
  applyReplayed(): boolean {
    this.usable();
    const upto = Math.min(readReplayed(this.dir), this.nextSeq - 1);
    if (upto <= this.ackedSeq) return false;
    this.ack(upto);
    return true;
  }

  stats(): SpillStats {
    const bytes = this.segBytes + this.lock.bytes + this.quarantineBytes + (this.hasCheckpoint ? CHECKPOINT_BYTES : 0);
    return {
      records: this.unackedRecords,
      events: this.unackedEvents,
      bytes,
      segments: this.segs.length,
      fillRatio: bytes / this.maxBytes,
      nextSeq: this.nextSeq,
      ackedSeq: this.ackedSeq,
      quarantineBytes: this.quarantineBytes,
    };
  }

  close(): void {
    if (this.dead?.code === 'COLLECTOR_ERR_SPILL_CLOSED') return;
    this.shut();
    releaseLock(this.lock);
  }

  /** @internal test seam for kill -9: drop descriptors, leave LOCK and files as they are. */
  _abandon(): void {
    this.shut();
    abandonLock(this.lock);
  }

  private shut(): void {
    for (const s of this.segs) closeFd(s);
    this.dead = new SpillError('COLLECTOR_ERR_SPILL_CLOSED');
  }

  /** Cap accounting: the checkpoint and its tmp are reserved even before the first ack. */
  private reservedBytes(): number {
    return this.segBytes + this.lock.bytes + this.quarantineBytes + 2 * CHECKPOINT_BYTES;
  }

  private roll(firstSeq: number): Segment {
    const file = path.join(this.dir, segName(firstSeq));
    const seg: Segment = { firstSeq, path: file, bytes: 0, offsets: [], events: [], fd: -1 };
    // Exclusive: recovery removes empty leftovers, so an existing file here would hold
    // records this instance does not know about; fail rather than truncate them.
    seg.fd = fs.openSync(file, 'wx+');
    // The old active segment is sealed now; reads reopen it read-only when needed.
    if (this.active) closeFd(this.active);
    this.segs.push(seg);
    this.active = seg;
    // The file's name must be durable before any append in it is acknowledged.
    if (this.durable) fsyncDir(this.dir);
    return seg;
  }

  private usable(): void {
    if (this.dead) throw this.dead;
  }

  private fail(err: unknown): SpillError {
    if (err instanceof SpillError) return err;
    this.dead = new SpillError('COLLECTOR_ERR_SPILL_IO', String((err as Error).message), { cause: err });
    return this.dead;
  }
}

function cutBack(seg: Segment, len: number): void {
  try {
    fs.ftruncateSync(seg.fd, len);
  } catch {
    // The instance is dead anyway; recovery drops whatever torn bytes remain.
  }
}

function closeFd(s: Segment): void {
  if (s.fd >= 0) {
    try {
      fs.closeSync(s.fd);
    } catch {
      // already closed: nothing to release
    }
    s.fd = -1;
  }
}
