/**
 * Finding spill directories left behind by dead instances, so a live process can
 * open (taking the stale lock over) and drain them. Looking is read-only: no lock is
 * taken here, so the answer is advice and SpillLog.open remains the arbiter.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { readCheckpoint } from './checkpoint.js';
import { HEADER_BYTES, peekHeader } from './frame.js';
import { lockState } from './lock.js';
import { listSegments } from './segment.js';

/** `<baseDir>/<instance>` directories, other than our own, whose owner is dead and that owe records. */
export function adoptOrphans(baseDir: string, ownInstance: string): string[] {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(baseDir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    if (!e.isDirectory() || e.name === ownInstance) continue;
    const dir = path.join(baseDir, e.name);
    try {
      if (lockState(dir) !== 'live' && holdsUnacked(dir)) out.push(dir);
    } catch {
      // Unreadable: listing it lets open() report the real error; skipping would hide data.
      out.push(dir);
    }
  }
  return out.sort();
}

/**
 * Errs towards "yes": a false yes costs one open and an empty drain, a false no
 * strands events. Only the newest non-empty segment needs a look, since seqs rise.
 */
export function holdsUnacked(dir: string): boolean {
  const cp = readCheckpoint(dir);
  const segs = listSegments(dir).filter((s) => fs.statSync(s.path).size > 0);
  const last = segs[segs.length - 1];
  if (!last) return false;
  if (cp.ackedSeq === null || last.firstSeq > cp.ackedSeq) return true;
  return lastSeqByHeaders(last.path) > cp.ackedSeq;
}

/** Hops header to header (no crc: a hint, not recovery). Damage -> Infinity ("owes"). */
function lastSeqByHeaders(file: string): number {
  const fd = fs.openSync(file, 'r');
  try {
    const size = fs.fstatSync(fd).size;
    const h = Buffer.alloc(HEADER_BYTES);
    let off = 0;
    let seq = -1;
    while (off + HEADER_BYTES <= size) {
      fs.readSync(fd, h, 0, HEADER_BYTES, off);
      const head = peekHeader(h);
      if (head === null) return Infinity;
      seq = head.seq;
      off += HEADER_BYTES + head.len;
    }
    return off === size ? seq : Infinity;
  } finally {
    fs.closeSync(fd);
  }
}
