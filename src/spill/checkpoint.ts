/**
 * The ack checkpoint: the highest seq the owner has confirmed delivered.
 *
 *   0          4            8            12           16
 *   +----------+------------+------------+------------+
 *   | "SPCK"   | acked lo   | acked hi   | crc32[0,12)|
 *   +----------+------------+------------+------------+
 *
 * It is replaced atomically (tmp + fsync + rename + fsync dir), so after any crash
 * it holds either the old or the new value. It is written BEFORE acked segments are
 * deleted: a crash in between leaves segments that the checkpoint already covers,
 * and recovery just deletes them again. Unreadable -> treated as absent, which means
 * redelivery of what is still on disk, never loss.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { crc32 } from './frame.js';
import { errnoCode, writeFileAtomic } from './fsutil.js';

export const CHECKPOINT_FILE = 'checkpoint';
export const CHECKPOINT_BYTES = 16;
const MAGIC = 0x4b435053; // "SPCK" little-endian

export type CheckpointRead = { ackedSeq: number; status: 'ok' } | { ackedSeq: null; status: 'absent' | 'corrupt' };

export function readCheckpoint(dir: string): CheckpointRead {
  let b: Buffer;
  try {
    b = fs.readFileSync(path.join(dir, CHECKPOINT_FILE));
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { ackedSeq: null, status: 'absent' };
    throw err;
  }
  if (b.length !== CHECKPOINT_BYTES || b.readUInt32LE(0) !== MAGIC || b.readUInt32LE(12) !== crc32(b.subarray(0, 12))) {
    return { ackedSeq: null, status: 'corrupt' };
  }
  const seq = b.readUInt32LE(8) * 0x100000000 + b.readUInt32LE(4);
  if (!Number.isSafeInteger(seq)) return { ackedSeq: null, status: 'corrupt' };
  return { ackedSeq: seq, status: 'ok' };
}

export function encodeCheckpoint(ackedSeq: number): Buffer {
  const b = Buffer.alloc(CHECKPOINT_BYTES);
  b.writeUInt32LE(MAGIC, 0);
  b.writeUInt32LE(ackedSeq % 0x100000000, 4);
  b.writeUInt32LE(Math.floor(ackedSeq / 0x100000000), 8);
  b.writeUInt32LE(crc32(b.subarray(0, 12)), 12);
  return b;
}

export function writeCheckpoint(dir: string, ackedSeq: number, durable: boolean, beforeRename?: () => void): void {
  writeFileAtomic(path.join(dir, CHECKPOINT_FILE), encodeCheckpoint(ackedSeq), durable, beforeRename);
}
