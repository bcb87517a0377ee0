/**
 * Messages between the main thread and the spill-log owner (workers/spill.ts). Every
 * request carries an id and gets exactly one reply with that id.
 */
import type { SpillStats } from './types.js';
import type { SpillErrorCode } from './errors.js';

export interface SpillWorkerData {
  baseDir: string;
  instance: string;
  maxBytes: number;
  segmentBytes: number;
}

/** A log the worker owns: its own (`source` = instance) or an adopted orphan. */
export interface SourceStats extends SpillStats {
  source: string;
  /** its directory's name under baseDir (the own log may live in `<instance>~<k>`: see workers/spill.ts) */
  dir: string;
}

export type SpillRequest =
  | { id: number; op: 'append'; payloads: Uint8Array[]; events: number[] }
  | { id: number; op: 'read'; source: string; fromSeq: number; maxRecords: number; maxBytes: number }
  | { id: number; op: 'ack'; source: string; uptoSeq: number }
  | { id: number; op: 'stats' }
  | { id: number; op: 'adopt' }
  | { id: number; op: 'release'; source: string }
  /** read-only read of any log of the host (the replay leader; sibling-reader.ts) */
  | { id: number; op: 'peek'; dir: string; fromSeq: number; maxRecords: number; maxBytes: number; belowSeq: number }
  /** the leader's replay marker for a log (replayed.ts) */
  | { id: number; op: 'mark'; dir: string; seq: number }
  /** the owner turns the markers of the logs it holds into acks */
  | { id: number; op: 'settle' }
  | { id: number; op: 'close' };

export interface SpillWireRecord {
  seq: number;
  events: number;
  payload: Uint8Array;
}

export type SpillReply =
  | {
      id: number;
      ok: true;
      firstSeq?: number;
      lastSeq?: number;
      records?: SpillWireRecord[];
      sources?: SourceStats[];
      /** peek: every complete record after these was returned */
      end?: boolean;
      /** peek: damaged seqs skipped */
      lost?: { from: number; to: number }[];
      /** peek: where the log stands (the first seq not known delivered: max of its checkpoint and marker, + 1) */
      from?: number;
      /** settle: some log's ackedSeq moved */
      settled?: boolean;
    }
  | { id: number; ok: false; code: SpillErrorCode; message: string };

/** The worker's own first message: the log is open (recovery done) and what recovery found. */
export interface SpillHello {
  hello: true;
  sources: SourceStats[];
  recovery: {
    source: string; quarantined: string[]; lostRanges: { from: number; to: number }[]; truncatedBytes: number;
    truncatedAcknowledged: 'no' | 'yes' | 'unknown' | null; acknowledgedLost: number;
  }[];
}
