/** Options, stats and test seams of SpillLog (log.ts), kept apart to keep log.ts about behaviour. */

/** Points where tests inject a crash (a throw) to prove the on-disk ordering. */
export type SpillFaultPoint = 'append:written' | 'ack:checkpoint-tmp' | 'ack:checkpointed' | 'ack:segment-deleted';

export interface SpillLogOptions {
  dir: string;
  /** roll to a new segment once the active one would pass this; default 16 MiB */
  segmentBytes?: number;
  /** hard cap on bytes on disk, every file of the log included */
  maxBytes: number;
  /** deflate-raw level 1 per record; default true */
  compress?: boolean;
  /** fdatasync appends and fsync checkpoint/dir changes; default true. false only for tests/bench */
  fsync?: boolean;
  /** take over a lock held by this same process (e.g. a crashed worker thread); default false */
  stealOwnProcess?: boolean;
  /**
   * The first seq its last writer had not yet made durable and answered (the host table's durable limit), 0 when
   * not known: recovery then tells a torn, never-acknowledged tail from damage to acknowledged frames.
   */
  durableLimit?: number;
  /** test seam: called at each fault point; throwing there simulates a crash */
  faultHook?: (point: SpillFaultPoint) => void;
}

export interface SpillStats {
  /** unacked records */
  records: number;
  /** unacked events (sum of the per-record counts given to append) */
  events: number;
  /** bytes on disk: segments + checkpoint + LOCK + quarantine/ (what the cap counts) */
  bytes: number;
  segments: number;
  /** bytes / maxBytes */
  fillRatio: number;
  /** seq the next appended record gets */
  nextSeq: number;
  /** highest seq durably acked */
  ackedSeq: number;
  /** part of `bytes` held by quarantined files: an operator must inspect and delete them */
  quarantineBytes: number;
}
