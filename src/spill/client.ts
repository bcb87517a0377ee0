/**
 * Main-thread side of the spill-log owner thread: promises over its message protocol,
 * and the live picture of what is on disk (kept from every reply, so reading it costs
 * nothing on the hot path).
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { SourceStats, SpillHello, SpillReply, SpillRequest, SpillWireRecord, SpillWorkerData } from './protocol.js';

type Pending = { resolve: (r: SpillReply & { ok: true }) => void; reject: (e: SpillFailure) => void };

export class SpillFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'SpillFailure';
  }
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

export class SpillClient {
  private worker: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private sourceStats: SourceStats[] = [];
  readonly ready: Promise<SpillHello>;
  /** appends sent whose reply has not come yet: they count as "spill not empty" */
  private appending = 0;

  constructor(
    data: SpillWorkerData,
    private readonly log: Logger,
  ) {
    this.worker = new Worker(new URL('../../workers/spill.js', import.meta.url), { workerData: data });
    this.ready = new Promise((resolve, reject) => {
      const onFirst = (m: SpillHello | SpillReply) => {
        if ('hello' in m) {
          this.sourceStats = m.sources;
          this.worker.off('error', reject);
          resolve(m);
        }
      };
      this.worker.once('message', onFirst);
      this.worker.once('error', reject);
    });
    this.worker.on('message', (m: SpillHello | SpillReply) => {
      if ('hello' in m) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) {
        if (m.sources) this.sourceStats = m.sources;
        p.resolve(m);
      } else p.reject(new SpillFailure(m.code, m.message));
    });
    this.worker.on('error', (err) => {
      this.log.error({ err }, 'spill worker crashed');
      for (const p of this.pending.values()) p.reject(new SpillFailure('COLLECTOR_ERR_SPILL_IO', `spill worker crashed: ${err.message}`));
      this.pending.clear();
    });
  }

  private call(req: DistributiveOmit<SpillRequest, 'id'>, transfer: ArrayBuffer[] = []): Promise<SpillReply & { ok: true }> {
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage({ ...req, id } as SpillRequest, transfer);
    });
  }

  /** Durable (fsynced) when it resolves. Rejects with code COLLECTOR_ERR_SPILL_FULL when over the cap. */
  async append(payloads: Buffer[], events: number[]): Promise<{ firstSeq: number; lastSeq: number }> {
    this.appending++;
    try {
      const copies = payloads.map((p) => new Uint8Array(p));
      const r = await this.call({ op: 'append', payloads: copies, events }, copies.map((c) => c.buffer as ArrayBuffer));
      const own = this.sourceStats[0];
      if (own && r.lastSeq !== undefined) {
        own.records += payloads.length;
        own.events += events.reduce((a, b) => a + b, 0);
        own.nextSeq = Math.max(own.nextSeq, r.lastSeq + 1);
      }
      return { firstSeq: r.firstSeq!, lastSeq: r.lastSeq! };
    } finally {
      this.appending--;
    }
  }

  async read(source: string, fromSeq: number, maxRecords: number, maxBytes: number): Promise<SpillWireRecord[]> {
    return (await this.call({ op: 'read', source, fromSeq, maxRecords, maxBytes })).records ?? [];
  }

  async ack(source: string, uptoSeq: number): Promise<void> {
    await this.call({ op: 'ack', source, uptoSeq });
  }

  /** Closes a drained adopted log (after its order slot was cleared). */
  async release(source: string): Promise<void> {
    await this.call({ op: 'release', source });
  }

  /** Read-only records of any log of the host (by its directory name), from `fromSeq` (0: from where it stands), below `belowSeq` (0: all). */
  async peek(dir: string, fromSeq: number, maxRecords: number, maxBytes: number, belowSeq = 0): Promise<{ records: SpillWireRecord[]; end: boolean; lost: { from: number; to: number }[]; from: number }> {
    const r = await this.call({ op: 'peek', dir, fromSeq, maxRecords, maxBytes, belowSeq });
    return { records: r.records ?? [], end: r.end ?? true, lost: r.lost ?? [], from: r.from ?? fromSeq };
  }

  /** Tells a log's owner that Kafka acknowledged it up to `seq`. */
  async mark(dir: string, seq: number): Promise<void> {
    await this.call({ op: 'mark', dir, seq });
  }

  /** Acks, in the logs this process holds, what the replay leader marked; true when anything moved. */
  async settle(): Promise<boolean> {
    return (await this.call({ op: 'settle' })).settled ?? false;
  }

  async refresh(): Promise<SourceStats[]> {
    return (await this.call({ op: 'stats' })).sources ?? [];
  }

  async adopt(): Promise<SourceStats[]> {
    return (await this.call({ op: 'adopt' })).sources ?? [];
  }

  /** Per-log stats as of the last reply. The own log is first. */
  get sources(): readonly SourceStats[] {
    return this.sourceStats;
  }

  /** True while this process's own log holds, or is about to hold, unacknowledged batches. */
  get ownNonEmpty(): boolean {
    return this.appending > 0 || (this.sourceStats[0]?.records ?? 0) > 0;
  }

  async close(): Promise<void> {
    try {
      await this.call({ op: 'close' });
    } finally {
      await this.worker.terminate();
    }
  }
}
