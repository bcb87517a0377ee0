/**
 * The replay marker: `<log dir>/replayed`, the highest seq of that log the host's replay
 * leader has seen acknowledged by Kafka. The leader reads logs it does not own
 * (sibling-reader.ts), so it cannot ack them itself: it writes this file, and the log's
 * owner (whoever holds the LOCK: the spilling process, or the one that adopted the log)
 * turns it into its own durable ack (SpillLog.ack), which truncates and deletes segments.
 *
 * Same layout as the checkpoint with its own magic ("SPRP"), replaced atomically by rename.
 * Not fsynced: after a power cut an older marker only means the last chunks are sent again
 * (possible duplicates, counted by the next leader as "unsure"); never a loss, because the
 * owner's checkpoint, not this file, decides what is deleted.
 *
 * A marker may run ahead of the log: the leader may have sent frames that were written but
 * not yet fsynced, and a power cut or a cut-back tail removes them. SpillLog.open therefore
 * moves nextSeq past the marker, so a seq the marker covers is never reused.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from './frame.js';
import { errnoCode, writeFileAtomic } from './fsutil.js';

export const REPLAYED_FILE = 'replayed';
const BYTES = 16;
const MAGIC = 0x50525053; // "SPRP" little-endian

/** The marker's seq, or 0 when there is none (or it is unreadable: nothing is assumed delivered). */
export function readReplayed(dir: string): number {
  let b: Buffer;
  try {
    b = fs.readFileSync(path.join(dir, REPLAYED_FILE));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return 0;
    throw err;
  }
  if (b.length !== BYTES || b.readUInt32LE(0) !== MAGIC || b.readUInt32LE(12) !== crc32(b.subarray(0, 12))) return 0;
  const seq = b.readUInt32LE(8) * 0x100000000 + b.readUInt32LE(4);
  return Number.isSafeInteger(seq) ? seq : 0;
}

export function writeReplayed(dir: string, seq: number): void {
  const b = Buffer.alloc(BYTES);
  b.writeUInt32LE(MAGIC, 0);
  b.writeUInt32LE(seq % 0x100000000, 4);
  b.writeUInt32LE(Math.floor(seq / 0x100000000), 8);
  b.writeUInt32LE(crc32(b.subarray(0, 12)), 12);
  writeFileAtomic(path.join(dir, REPLAYED_FILE), b, false);
}
