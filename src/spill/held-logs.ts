/**
 * The logs the spill owner thread holds: its own and the orphans it adopted, each opened under its LOCK, keyed
 * by source (the instance for the own log, `adopted:<dir>` for an orphan).
 *
 * Own directory: BUFFER_DIR/<instance>, or, while a sibling that adopted it during this instance's absence still
 * drains it, the first free BUFFER_DIR/<instance>~<k>: a returning instance starts and serves at once instead of
 * failing on SPILL_LOCKED. Host-wide order does not depend on which directory a batch is in (host-table.ts).
 *
 * After a write/fsync error the own log is not used until it has been closed and reopened (reopen-backoff.ts).
 */
import { basename, join } from 'node:path';
import { isSpillError } from './errors.js';
import { SpillLog } from './log.js';
import { adoptOrphans } from './orphans.js';
import type { SourceStats, SpillHello, SpillWireRecord, SpillWorkerData } from './protocol.js';
import { toWireRecords } from './protocol.js';
import type { SpillRecord } from './reader.js';
import { ReopenBackoff } from './reopen-backoff.js';

export interface HeldLogsOptions extends SpillWorkerData {
  /** the durable limit recorded for a log directory (by name under baseDir), read before its recovery */
  durableLimit: (dirName: string) => number;
}

type Recovery = SpillHello['recovery'][number];

/** A directory whose lock is live is someone's; past this many `~<k>` tries something else is wrong. */
const MAX_OWN_FALLBACKS = 64;

export class HeldLogs {
  private readonly logs = new Map<string, SpillLog>();
  private own: SpillLog;
  private readonly backoff = new ReopenBackoff();

  private constructor(private readonly opts: HeldLogsOptions) {
    this.own = this.openOwn();
  }

  /** Opens (recovers) the own log and adopts the orphans of the host: the thread's hello. */
  static open(opts: HeldLogsOptions): { held: HeldLogs; hello: SpillHello } {
    const held = new HeldLogs(opts);
    const recovery = [recoveryOf(opts.instance, held.own)];
    for (const [source, log] of held.adopt()) recovery.push(recoveryOf(source, log));
    return { held, hello: { hello: true, sources: held.sources(), recovery } };
  }

  sources(): SourceStats[] {
    return [...this.logs].map(([source, log]) => ({ source, dir: basename(log.dir), ...log.stats() }));
  }

  /** Opens the orphans not held yet; an orphan whose owner came back between the scan and the open is skipped. */
  adopt(): Map<string, SpillLog> {
    const opened = new Map<string, SpillLog>();
    for (const dir of adoptOrphans(this.opts.baseDir, basename(this.own.dir))) {
      const source = `adopted:${basename(dir)}`;
      if (this.logs.has(source)) continue;
      try {
        opened.set(source, this.open(dir, source));
      } catch {
        // its owner came back: not an orphan any more
      }
    }
    return opened;
  }

  /** True when the own log can take appends (reopening it first after an I/O error, when due). */
  ownUsable(): boolean {
    return this.backoff.usable(() => {
      try {
        this.own.close();
      } catch {
        // its descriptors may be gone with the disk; the lock file is what matters and open() takes it back
      }
      this.logs.delete(this.opts.instance);
      this.own = this.open(this.own.dir, this.opts.instance);
    });
  }

  /** Appends to the own log as one group (one fsync). */
  append(payloads: readonly Buffer[], events: readonly number[]): { firstSeq: number; lastSeq: number } {
    return this.guardOwn(this.opts.instance, () => this.own.append(payloads, events));
  }

  /** Records of a held log from `fromSeq`; none from an unknown source or an own log still recovering. */
  read(source: string, fromSeq: number, maxRecords: number, maxBytes: number):
    | { ok: true; records: SpillWireRecord[] }
    | { ok: false; code: 'COLLECTOR_ERR_SPILL_CORRUPT'; message: string } {
    // Usable first: a reopen replaces the own log, and the closed one must not be read.
    if (source === this.opts.instance && !this.ownUsable()) return { ok: true, records: [] };
    const log = this.logs.get(source);
    if (!log) return { ok: true, records: [] };
    let read: SpillRecord[];
    try {
      read = log.read(fromSeq, maxRecords, maxBytes);
    } catch (err) {
      // A record that rotted since open: reopening runs recovery, which quarantines it (a copy of
      // the segment in quarantine/, its seqs in lostRanges) and keeps the valid records around it.
      if (!isSpillError(err, 'COLLECTOR_ERR_SPILL_CORRUPT')) throw err;
      log.close();
      this.logs.delete(source);
      const again = this.open(log.dir, source);
      if (source === this.opts.instance) this.own = again;
      const r = again.recovery;
      return { ok: false, code: 'COLLECTOR_ERR_SPILL_CORRUPT', message: `${err.message}; quarantined ${JSON.stringify(r.quarantined)}, lost seqs ${JSON.stringify(r.lostRanges)}` };
    }
    return { ok: true, records: toWireRecords(read) };
  }

  ack(source: string, uptoSeq: number): void {
    if (source === this.opts.instance && !this.ownUsable()) throw new Error('the spill log is recovering from an I/O error');
    const log = this.logs.get(source);
    if (!log) return;
    this.guardOwn(source, () => log.ack(uptoSeq));
  }

  /** Turns the leader's replay markers into acks of every held log; true when some log's ackedSeq moved. */
  settle(): boolean {
    let settled = false;
    for (const [source, log] of this.logs) {
      if (source === this.opts.instance && this.backoff.broken) continue;
      if (this.guardOwn(source, () => log.applyReplayed())) settled = true;
    }
    return settled;
  }

  /**
   * A drained adopted log: the main thread has cleared its order slot; close it and leave the
   * directory for its owner to come back to.
   */
  release(source: string): void {
    const log = this.logs.get(source);
    if (log && source !== this.opts.instance && log.stats().records === 0) {
      log.close();
      this.logs.delete(source);
    }
  }

  closeAll(): void {
    for (const log of this.logs.values()) log.close();
    this.logs.clear();
  }

  /** Runs an operation on a held log; an I/O error of the own log leaves it to be reopened with backoff. */
  private guardOwn<T>(source: string, op: () => T): T {
    try {
      return op();
    } catch (err) {
      if (source === this.opts.instance && isSpillError(err, 'COLLECTOR_ERR_SPILL_IO')) this.backoff.failed();
      throw err;
    }
  }

  /** The own log: its usual directory, else the first `<instance>~<k>` no live process holds. */
  private openOwn(): SpillLog {
    for (let k = 0; ; k++) {
      const name = k === 0 ? this.opts.instance : `${this.opts.instance}~${k}`;
      try {
        return this.open(join(this.opts.baseDir, name), this.opts.instance);
      } catch (err) {
        if (!isSpillError(err, 'COLLECTOR_ERR_SPILL_LOCKED') || k >= MAX_OWN_FALLBACKS) throw err;
      }
    }
  }

  private open(dir: string, source: string): SpillLog {
    const { maxBytes, segmentBytes } = this.opts;
    // stealOwnProcess: a restarted spill thread of this same process must get its lock back.
    const log = SpillLog.open({ dir, maxBytes, segmentBytes, stealOwnProcess: true, durableLimit: this.opts.durableLimit(basename(dir)) });
    this.logs.set(source, log);
    return log;
  }
}

function recoveryOf(source: string, log: SpillLog): Recovery {
  const r = log.recovery;
  return {
    source, quarantined: r.quarantined, lostRanges: r.lostRanges, truncatedBytes: r.truncatedBytes,
    truncatedAcknowledged: r.truncatedAcknowledged, acknowledgedLost: r.acknowledgedLost,
  };
}
