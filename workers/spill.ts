/**
 * The spill-log owner: one dedicated thread per process (a plain Worker, not Piscina, because it owns files and
 * timers and must never block between messages). It holds BUFFER_DIR/<instance> and any orphaned sibling
 * directories it adopts (src/spill/held-logs.ts), and does the synchronous fs work so the main thread never waits
 * on a disk. Every request gets exactly one reply with its id (src/spill/protocol.ts).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { failureReply, GroupCommit, HeldLogs, HostLogView, type SpillReply, type SpillRequest, type SpillWireRecord, type SpillWorkerData } from '../src/spill/index.js';
import { recordedDurableLimit } from '../src/replay/index.js';

const data = workerData as SpillWorkerData;
const port = parentPort!;

const reply = (r: SpillReply, transfer: ArrayBuffer[] = []): void => port.postMessage(r, transfer);
/** Payloads travel transferred: each is a copy of its own (protocol.ts toWireRecords). */
const payloads = (records: SpillWireRecord[]) => records.map((r) => r.payload.buffer as ArrayBuffer);

const { held, hello } = HeldLogs.open({ ...data, durableLimit: (dirName) => recordedDurableLimit(data.baseDir, dirName) });
const commits = new GroupCommit(held, reply);
const hostLogs = new HostLogView(data.baseDir);
port.postMessage(hello);

port.on('message', (req: SpillRequest) => {
  try {
    switch (req.op) {
      case 'append':
        return commits.add(req);
      case 'read': {
        const got = held.read(req.source, req.fromSeq, req.maxRecords, req.maxBytes);
        return got.ok ? reply({ id: req.id, ok: true, records: got.records }, payloads(got.records)) : reply({ id: req.id, ...got });
      }
      case 'ack':
        held.ack(req.source, req.uptoSeq);
        return reply({ id: req.id, ok: true, sources: held.sources() });
      case 'release':
        held.release(req.source);
        return reply({ id: req.id, ok: true, sources: held.sources() });
      case 'peek': {
        const got = hostLogs.peek(req.dir, req.fromSeq, req.maxRecords, req.maxBytes, req.belowSeq);
        return reply({ id: req.id, ok: true, ...got }, payloads(got.records));
      }
      case 'mark':
        hostLogs.mark(req.dir, req.seq);
        return reply({ id: req.id, ok: true });
      case 'settle': {
        const settled = held.settle();
        return reply({ id: req.id, ok: true, settled, sources: held.sources() });
      }
      case 'stats':
        return reply({ id: req.id, ok: true, sources: held.sources() });
      case 'adopt':
        held.adopt();
        return reply({ id: req.id, ok: true, sources: held.sources() });
      case 'close':
        if (commits.queued) commits.flush();
        held.closeAll();
        return reply({ id: req.id, ok: true });
    }
  } catch (err) {
    reply(failureReply(req.id, err));
  }
});
