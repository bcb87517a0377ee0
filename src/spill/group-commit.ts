/**
 * Group commit: appends that arrive together (in one turn of the owner thread's event loop) are written to the
 * own log as one group with one fsync, and each request is answered with its own seq range.
 */
import { isSpillError } from './errors.js';
import type { HeldLogs } from './held-logs.js';
import { failureReply, type SpillReply, type SpillRequest } from './protocol.js';

type AppendRequest = Extract<SpillRequest, { op: 'append' }>;

export class GroupCommit {
  private pending: AppendRequest[] = [];

  constructor(
    private readonly held: HeldLogs,
    private readonly reply: (r: SpillReply) => void,
  ) {}

  /** Queues an append; the group is written once the messages that arrived with it have been taken. */
  add(req: AppendRequest): void {
    if (this.pending.length === 0) setImmediate(() => this.flush());
    this.pending.push(req);
  }

  /** Writes what is queued now (before a close, so that nothing queued is left unanswered). */
  flush(): void {
    const batch = this.pending;
    this.pending = [];
    if (!this.held.ownUsable()) {
      for (const req of batch) this.reply({ id: req.id, ok: false, code: 'COLLECTOR_ERR_SPILL_IO', message: 'the spill log is recovering from an I/O error; retrying with backoff' });
      return;
    }
    const payloads: Buffer[] = [];
    const events: number[] = [];
    for (const req of batch) {
      for (const p of req.payloads) payloads.push(Buffer.from(p.buffer, p.byteOffset, p.byteLength));
      events.push(...req.events);
    }
    try {
      const { firstSeq } = this.held.append(payloads, events);
      let seq = firstSeq;
      for (const req of batch) {
        const first = seq;
        seq += req.payloads.length;
        this.reply({ id: req.id, ok: true, firstSeq: first, lastSeq: seq - 1 });
      }
    } catch (err) {
      // FULL: nothing of the group was written. Retry one by one so that what fits, fits.
      if (batch.length > 1 && isSpillError(err, 'COLLECTOR_ERR_SPILL_FULL')) {
        for (const req of batch) {
          this.pending = [req];
          this.flush();
        }
        return;
      }
      for (const req of batch) this.reply(failureReply(req.id, err));
    }
  }

  get queued(): number {
    return this.pending.length;
  }
}
