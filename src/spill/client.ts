/**
 * Main-thread side of the spill-log owner thread: promises over its message protocol,
 * and the live picture of what is on disk (kept from every reply, so reading it costs
 * nothing on the hot path).
 */
import { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import type { SpillErrorCode } from './errors.js';
import type { SourceStats, SpillHello, SpillReply, SpillRequest, SpillWireRecord, SpillWorkerData } from './protocol.js';

type Pending = { resolve: (r: SpillReply & { ok: true }) => void; reject: (e: SpillFailure) => void };

export class SpillFailure extends Error {
  constructor(
    readonly code: SpillErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SpillFailure';
  }
}

type DistributiveOmit<T, K extends keyof T> = T extends unknown ? Omit<T, K> : never;

/** Restarts of a dead spill worker allowed within RESTART_WINDOW_MS; past them the process gives up (onFatal). */
const MAX_RESTARTS = 3;
const RESTART_WINDOW_MS = 60_000;

export class SpillClient {
  private worker!: Worker;
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private sourceStats: SourceStats[] = [];
  readonly ready: Promise<SpillHello>;
  /** resolves when the current worker has said hello; calls wait for it (a restarted worker recovers first) */
  private started: Promise<unknown>;
  private closing = false;
  /** the current worker has not exited */
  private alive = false;
  private readonly restarts: number[] = [];
  /** appends sent whose reply has not come yet: they count as "spill not empty" */
  private appending = 0;
  /**
   * Called when the worker died more than MAX_RESTARTS times in RESTART_WINDOW_MS: nothing more can be made
   * durable here, so the process should exit (PM2 or Kubernetes starts it again, its recovery finds the log).
   */
  onFatal: (err: Error) => void = () => {};

  constructor(
    private readonly data: SpillWorkerData,
    private readonly log: Logger,
  ) {
    this.ready = this.start();
    this.started = this.ready.catch(() => undefined);
  }

  /** A worker on the same directories; its hello comes once it has recovered them. */
  private start(): Promise<SpillHello> {
    const worker = new Worker(new URL('../../workers/spill.js', import.meta.url), { workerData: this.data });
    this.worker = worker;
    this.alive = true;
    const hello = new Promise<SpillHello>((resolve, reject) => {
      const onFirst = (m: SpillHello | SpillReply) => {
        if ('hello' in m) {
          this.sourceStats = m.sources;
          worker.off('error', reject);
          resolve(m);
        }
      };
      worker.once('message', onFirst);
      worker.once('error', reject);
    });
    worker.on('message', (m: SpillHello | SpillReply) => {
      if ('hello' in m) return;
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (m.ok) {
        if (m.sources) this.sourceStats = m.sources;
        p.resolve(m);
      } else p.reject(new SpillFailure(m.code, m.message));
    });
    worker.on('error', (err) => this.log.error({ err }, 'spill worker crashed'));
    worker.on('exit', (code) => this.onExit(worker, code));
    return hello;
  }

  /**
   * The worker is gone. What it was asked and did not answer fails (an append not confirmed durable is never
   * acknowledged: its batch is answered 503 and retried by the client); a fresh worker takes the same
   * directories back (its lock is this process's: stealOwnProcess) and recovers them, and calls wait for it.
   */
  private onExit(worker: Worker, code: number): void {
    if (worker !== this.worker) return;
    this.alive = false;
    const failure = new SpillFailure('COLLECTOR_ERR_SPILL_IO', `spill worker exited (code ${code})`);
    for (const p of this.pending.values()) p.reject(failure);
    this.pending.clear();
    if (this.closing) return;
    const now = Date.now();
    while (this.restarts.length > 0 && now - this.restarts[0]! > RESTART_WINDOW_MS) this.restarts.shift();
    if (this.restarts.length >= MAX_RESTARTS) {
      this.log.fatal({ code, restarts: this.restarts.length }, 'spill worker keeps dying: giving up');
      this.closing = true;
      this.onFatal(failure);
      return;
    }
    this.restarts.push(now);
    this.log.error({ code }, 'spill worker exited: restarting it');
    const next = this.start();
    this.started = next.then(
      () => this.log.info('spill worker restarted'),
      (err: unknown) => {
        this.log.fatal({ err }, 'spill worker did not restart');
        this.closing = true;
        this.onFatal(err instanceof Error ? err : new Error(String(err)));
      },
    );
  }

  private async call(req: DistributiveOmit<SpillRequest, 'id'>, transfer: ArrayBuffer[] = []): Promise<SpillReply & { ok: true }> {
    await this.started;
    if (!this.alive || (this.closing && req.op !== 'close')) throw new SpillFailure('COLLECTOR_ERR_SPILL_IO', 'the spill log is closed');
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
    this.closing = true;
    try {
      if (this.alive) await this.call({ op: 'close' });
    } finally {
      await this.worker.terminate();
    }
  }

  /** Ends the worker thread as a crash would (tests): the client restarts it as for a real one. */
  async killWorkerForTest(): Promise<void> {
    await this.worker.terminate();
  }
}
