/**
 * The spill-log owner: one dedicated thread per process (a plain Worker, not Piscina,
 * because it owns files and timers and must never block between messages). It owns
 * BUFFER_DIR/<instance> and any orphaned sibling directories it adopts, and does the
 * synchronous fs work so the main thread never waits on a disk.
 *
 * Group commit: appends that arrive together are written with one fsync.
 *
 * Own directory: BUFFER_DIR/<instance>, or, while a sibling that adopted it during this
 * instance's absence still drains it, the first free BUFFER_DIR/<instance>~<k>: a returning
 * instance starts and serves at once instead of failing on SPILL_LOCKED. Host-wide
 * order does not depend on which directory a batch is in (host-table.ts).
 *
 * After a write/fsync error (ENOSPC, EIO) the own log is closed and reopened, with backoff,
 * when the next append comes: recovery cuts the torn tail and checks every record.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { basename, join } from 'node:path';
import { adoptOrphans, SpillLog, isSpillError, type SpillRecord } from '../src/spill/index.js';
import type { SourceStats, SpillHello, SpillReply, SpillRequest, SpillWorkerData } from '../src/spill/protocol.js';
import { readCheckpoint } from '../src/spill/checkpoint.js';
import { readReplayed, writeReplayed } from '../src/spill/replayed.js';
import { SiblingReader } from '../src/spill/sibling-reader.js';
import { recordedDurableLimit } from '../src/replay/index.js';

const data = workerData as SpillWorkerData;
const port = parentPort!;
const logs = new Map<string, SpillLog>();
const siblings = new SiblingReader();

function open(dir: string, source: string): SpillLog {
  // stealOwnProcess: a restarted spill thread of this same process must get its lock back.
  const durableLimit = recordedDurableLimit(data.baseDir, basename(dir));
  const log = SpillLog.open({ dir, maxBytes: data.maxBytes, segmentBytes: data.segmentBytes, stealOwnProcess: true, durableLimit });
  logs.set(source, log);
  return log;
}

function sources(): SourceStats[] {
  return [...logs].map(([source, log]) => ({ source, dir: basename(log.dir), ...log.stats() }));
}

/** The own log: its usual directory, else the first `<instance>~<k>` no live process holds. */
function openOwn(): SpillLog {
  for (let k = 0; ; k++) {
    const name = k === 0 ? data.instance : `${data.instance}~${k}`;
    try {
      return open(join(data.baseDir, name), data.instance);
    } catch (err) {
      if (!isSpillError(err, 'COLLECTOR_ERR_SPILL_LOCKED') || k >= 64) throw err;
    }
  }
}

let own = openOwn();
const ownDir = () => basename(own.dir);
const recovery = [{ source: data.instance, ...pick(own) }];
for (const dir of adoptOrphans(data.baseDir, ownDir())) {
  try {
    const name = `adopted:${dir.split('/').pop()!}`;
    recovery.push({ source: name, ...pick(open(dir, name)) });
  } catch {
    // its owner came back between the scan and the open: not an orphan any more
  }
}
function pick(log: SpillLog) {
  const r = log.recovery;
  return {
    quarantined: r.quarantined, lostRanges: r.lostRanges, truncatedBytes: r.truncatedBytes,
    truncatedAcknowledged: r.truncatedAcknowledged, acknowledgedLost: r.acknowledgedLost,
  };
}
port.postMessage({ hello: true, sources: sources(), recovery } satisfies SpillHello);

let pendingAppends: Extract<SpillRequest, { op: 'append' }>[] = [];
/** after an I/O error: when the own log may next be reopened, and the current backoff */
let broken: { retryAt: number; backoffMs: number } | null = null;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5000;

/** True when the own log can take appends (reopening it first after an I/O error, when due). */
function ownUsable(): boolean {
  const was = broken;
  if (!was) return true;
  if (Date.now() < was.retryAt) return false;
  try {
    own.close();
  } catch {
    // its descriptors may be gone with the disk; the lock file is what matters and open() takes it back
  }
  logs.delete(data.instance);
  try {
    own = open(own.dir, data.instance);
    broken = null;
    return true;
  } catch {
    broken = { retryAt: Date.now() + was.backoffMs, backoffMs: Math.min(BACKOFF_MAX_MS, was.backoffMs * 2) };
    return false;
  }
}

function flushAppends(): void {
  const batch = pendingAppends;
  pendingAppends = [];
  if (!ownUsable()) {
    for (const req of batch) reply({ id: req.id, ok: false, code: 'COLLECTOR_ERR_SPILL_IO', message: 'the spill log is recovering from an I/O error; retrying with backoff' });
    return;
  }
  const payloads: Buffer[] = [];
  const events: number[] = [];
  for (const req of batch) {
    for (const p of req.payloads) payloads.push(Buffer.from(p.buffer, p.byteOffset, p.byteLength));
    events.push(...req.events);
  }
  try {
    const { firstSeq } = own.append(payloads, events);
    let seq = firstSeq;
    for (const req of batch) {
      const first = seq;
      seq += req.payloads.length;
      reply({ id: req.id, ok: true, firstSeq: first, lastSeq: seq - 1 });
    }
  } catch (err) {
    // FULL: nothing of the group was written. Retry one by one so that what fits, fits.
    if (batch.length > 1 && isSpillError(err, 'COLLECTOR_ERR_SPILL_FULL')) {
      for (const req of batch) {
        pendingAppends = [req];
        flushAppends();
      }
      return;
    }
    if (isSpillError(err, 'COLLECTOR_ERR_SPILL_IO')) broken = { retryAt: Date.now() + BACKOFF_MIN_MS, backoffMs: BACKOFF_MIN_MS * 2 };
    for (const req of batch) reply(failure(req.id, err));
  }
}

function failure(id: number, err: unknown): SpillReply {
  // Anything but a SpillError (a raw fs error, a bug) is an I/O failure to the owner: the batch was not stored.
  const message = err instanceof Error ? err.message : String(err);
  return { id, ok: false, code: isSpillError(err) ? err.code : 'COLLECTOR_ERR_SPILL_IO', message };
}

function reply(r: SpillReply, transfer?: ArrayBuffer[]): void {
  port.postMessage(r, transfer ?? []);
}

port.on('message', (req: SpillRequest) => {
  try {
    switch (req.op) {
      case 'append':
        if (pendingAppends.length === 0) setImmediate(flushAppends);
        pendingAppends.push(req);
        return;
      case 'read': {
        const log = logs.get(req.source);
        if (!log) return reply({ id: req.id, ok: true, records: [] });
        if (req.source === data.instance && !ownUsable()) return reply({ id: req.id, ok: true, records: [] });
        let read: SpillRecord[];
        try {
          read = log.read(req.fromSeq, req.maxRecords, req.maxBytes);
        } catch (err) {
          // A record that rotted since open: reopening runs recovery, which quarantines it (a copy of
          // the segment in quarantine/, its seqs in lostRanges) and keeps the valid records around it.
          if (isSpillError(err, 'COLLECTOR_ERR_SPILL_CORRUPT')) {
            log.close();
            logs.delete(req.source);
            const again = open(log.dir, req.source);
            if (req.source === data.instance) own = again;
            const r = again.recovery;
            return reply({ id: req.id, ok: false, code: 'COLLECTOR_ERR_SPILL_CORRUPT', message: `${err.message}; quarantined ${JSON.stringify(r.quarantined)}, lost seqs ${JSON.stringify(r.lostRanges)}` });
          }
          throw err;
        }
        const records = read.map((r) => ({
          seq: r.seq,
          events: r.events,
          // copy: payloads may be views of a shared read buffer
          payload: new Uint8Array(r.payload),
        }));
        return reply({ id: req.id, ok: true, records }, records.map((r) => r.payload.buffer as ArrayBuffer));
      }
      case 'ack': {
        const log = logs.get(req.source);
        if (log) {
          if (req.source === data.instance && !ownUsable()) throw new Error('the spill log is recovering from an I/O error');
          try {
            log.ack(req.uptoSeq);
          } catch (err) {
            if (req.source === data.instance && isSpillError(err, 'COLLECTOR_ERR_SPILL_IO')) broken = { retryAt: Date.now() + BACKOFF_MIN_MS, backoffMs: BACKOFF_MIN_MS * 2 };
            throw err;
          }
        }
        return reply({ id: req.id, ok: true, sources: sources() });
      }
      case 'release': {
        // A drained adopted log: the main thread has cleared its order slot; close it and leave the
        // directory for its owner to come back to.
        const log = logs.get(req.source);
        if (log && req.source !== data.instance && log.stats().records === 0) {
          log.close();
          logs.delete(req.source);
        }
        return reply({ id: req.id, ok: true, sources: sources() });
      }
      case 'peek': {
        const dir = join(data.baseDir, req.dir);
        // From 0: where the log stands for the host (its checkpoint or the leader's marker, whichever is further).
        const from = req.fromSeq > 0 ? req.fromSeq : Math.max(readCheckpoint(dir).ackedSeq ?? 0, readReplayed(dir)) + 1;
        const got = siblings.peek(dir, from, req.maxRecords, req.maxBytes, req.belowSeq);
        const records = got.records.map((r) => ({ seq: r.seq, events: r.events, payload: new Uint8Array(r.payload) }));
        return reply({ id: req.id, ok: true, records, end: got.end, lost: got.lost, from }, records.map((r) => r.payload.buffer as ArrayBuffer));
      }
      case 'mark':
        writeReplayed(join(data.baseDir, req.dir), req.seq);
        return reply({ id: req.id, ok: true });
      case 'settle': {
        let settled = false;
        for (const [source, log] of logs) {
          if (source === data.instance && broken) continue;
          try {
            if (log.applyReplayed()) settled = true;
          } catch (err) {
            if (source === data.instance && isSpillError(err, 'COLLECTOR_ERR_SPILL_IO')) broken = { retryAt: Date.now() + BACKOFF_MIN_MS, backoffMs: BACKOFF_MIN_MS * 2 };
            throw err;
          }
        }
        return reply({ id: req.id, ok: true, settled, sources: sources() });
      }
      case 'stats':
        return reply({ id: req.id, ok: true, sources: sources() });
      case 'adopt':
        for (const dir of adoptOrphans(data.baseDir, ownDir())) {
          const name = `adopted:${dir.split('/').pop()!}`;
          if (!logs.has(name)) {
            try {
              open(dir, name);
            } catch {
              // owner came back
            }
          }
        }
        return reply({ id: req.id, ok: true, sources: sources() });
      case 'close':
        if (pendingAppends.length) flushAppends();
        for (const log of logs.values()) log.close();
        logs.clear();
        return reply({ id: req.id, ok: true });
    }
  } catch (err) {
    reply(failure(req.id, err));
  }
});
