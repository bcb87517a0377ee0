/**
 * Messages between the main thread and the spill-log owner thread (workers/spill.ts). Every
 * request carries an id and gets exactly one reply with that id.
 */
import type { SpillStats } from './types.js';
import { isSpillError, type SpillErrorCode } from './errors.js';
import type { SpillRecord } from './reader.js';

export interface SpillWorkerData {
  baseDir: string;
  instance: string;
  maxBytes: number;
  segmentBytes: number;
}

/** A log the worker owns: its own (`source` = instance) or an adopted orphan. */
export interface SourceStats extends SpillStats {
  source: string;
  /** its directory's name under baseDir (the own log may live in `<instance>~<k>`: see held-logs.ts) */
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

/** Records as sent: each payload copied into its own buffer (a read may return views of a shared one), to be transferred. */
export function toWireRecords(records: readonly SpillRecord[]): SpillWireRecord[] {
  return records.map((r) => ({ seq: r.seq, events: r.events, payload: new Uint8Array(r.payload) }));
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

/** The reply to a request that threw. Anything but a SpillError (a raw fs error, a bug) is an I/O failure to the owner: the batch was not stored. */
export function failureReply(id: number, err: unknown): SpillReply {
  const message = err instanceof Error ? err.message : String(err);
  return { id, ok: false, code: isSpillError(err) ? err.code : 'COLLECTOR_ERR_SPILL_IO', message };
}
