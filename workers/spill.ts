/**
 * The spill-log owner: one dedicated thread per process (a plain Worker, not Piscina,
 * because it owns files and timers and must never block between messages). It owns
 * BUFFER_DIR/<instance> and any orphaned sibling directories it adopts, and does the
 * synchronous fs work so the main thread never waits on a disk.
 *
 * Group commit: appends that arrive together are written with one fsync.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { join } from 'node:path';
import { adoptOrphans, SpillLog, isSpillError } from '../src/spill/index.js';
import type { SourceStats, SpillHello, SpillReply, SpillRequest, SpillWorkerData } from '../src/spill/protocol.js';

const data = workerData as SpillWorkerData;
const port = parentPort!;
const logs = new Map<string, SpillLog>();

function open(dir: string, source: string): SpillLog {
  // stealOwnProcess: a restarted spill thread of this same process must get its lock back.
  const log = SpillLog.open({ dir, maxBytes: data.maxBytes, segmentBytes: data.segmentBytes, stealOwnProcess: true });
  logs.set(source, log);
  return log;
}

function sources(): SourceStats[] {
  return [...logs].map(([source, log]) => ({ source, ...log.stats() }));
}

const own = open(join(data.baseDir, data.instance), data.instance);
const recovery = [{ source: data.instance, ...pick(own) }];
for (const dir of adoptOrphans(data.baseDir, data.instance)) {
  try {
    const name = `adopted:${dir.split('/').pop()!}`;
    recovery.push({ source: name, ...pick(open(dir, name)) });
  } catch {
    // its owner came back between the scan and the open: not an orphan any more
  }
}
function pick(log: SpillLog) {
  const r = log.recovery;
  return { quarantined: r.quarantined, lostRanges: r.lostRanges, truncatedBytes: r.truncatedBytes };
}
port.postMessage({ hello: true, sources: sources(), recovery } satisfies SpillHello);

let pendingAppends: Extract<SpillRequest, { op: 'append' }>[] = [];

function flushAppends(): void {
  const batch = pendingAppends;
  pendingAppends = [];
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
    for (const req of batch) reply(failure(req.id, err));
  }
}

function failure(id: number, err: unknown): SpillReply {
  const e = err as { code?: string; message?: string };
  return { id, ok: false, code: e.code ?? 'COLLECTOR_ERR_SPILL_IO', message: e.message ?? String(err) };
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
        const records = log.read(req.fromSeq, req.maxRecords, req.maxBytes).map((r) => ({
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
          log.ack(req.uptoSeq);
          // A drained adopted log is closed and its directory left for its owner to come back to, or for removal.
          if (req.source !== data.instance && log.stats().records === 0) {
            log.close();
            logs.delete(req.source);
          }
        }
        return reply({ id: req.id, ok: true, sources: sources() });
      }
      case 'stats':
        return reply({ id: req.id, ok: true, sources: sources() });
      case 'adopt':
        for (const dir of adoptOrphans(data.baseDir, data.instance)) {
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
