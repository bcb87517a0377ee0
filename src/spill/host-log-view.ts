/**
 * The host's replay leader's view of any spill log of the host, served by its own spill thread: read-only reads
 * from where the log stands (sibling-reader.ts), and the leader's replay marker (replayed.ts), which the log's
 * owner turns into acks.
 */
import { join } from 'node:path';
import { readCheckpoint } from './checkpoint.js';
import { toWireRecords, type SpillWireRecord } from './protocol.js';
import { readReplayed, writeReplayed } from './replayed.js';
import { SiblingReader } from './sibling-reader.js';

export interface HostLogPeek {
  records: SpillWireRecord[];
  end: boolean;
  lost: { from: number; to: number }[];
  /** where the read started */
  from: number;
}

export class HostLogView {
  private readonly siblings = new SiblingReader();

  constructor(private readonly baseDir: string) {}

  /** Complete records of the log in `dirName` below `belowSeq`; from 0 means from where the log stands for the host. */
  peek(dirName: string, fromSeq: number, maxRecords: number, maxBytes: number, belowSeq: number): HostLogPeek {
    const dir = join(this.baseDir, dirName);
    // Where the log stands for the host: its checkpoint or the leader's marker, whichever is further.
    const from = fromSeq > 0 ? fromSeq : Math.max(readCheckpoint(dir).ackedSeq ?? 0, readReplayed(dir)) + 1;
    const got = this.siblings.peek(dir, from, maxRecords, maxBytes, belowSeq);
    return { records: toWireRecords(got.records), end: got.end, lost: got.lost, from };
  }

  /** The leader's replay marker: every record of the log up to `seq` is in Kafka. */
  mark(dirName: string, seq: number): void {
    writeReplayed(join(this.baseDir, dirName), seq);
  }
}
