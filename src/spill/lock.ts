/**
 * Exclusive ownership of a spill directory via `<dir>/LOCK`.
 *
 * The lock file is born complete: its JSON is written to a private tmp file, fsynced,
 * then hard-linked to LOCK (link fails with EEXIST if LOCK exists, so creation is
 * atomic and never leaves a half-written lock). A lock is stale when its pid is gone,
 * is a zombie, or now belongs to a different process (Linux /proc start time differs:
 * pid reuse is the norm in containers, where the collector is often pid 1 on every
 * restart). Taking over a stale lock happens under a second, short-lived mutex file
 * (LOCK.takeover) so two processes adopting the same orphan cannot both win.
 *
 * Inside one process, pid liveness says nothing; a lock carrying our own pid is
 * treated as live (another thread may own it) unless it was abandoned in this thread
 * (the test seam for "crash") or the caller passes stealOwnProcess (the supervisor of
 * the single spill worker knows a dead worker's lock is garbage).
 */
import { randomUUID } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SpillError } from './errors.js';
import { errnoCode, fsyncDir } from './fsutil.js';

export const LOCK_FILE = 'LOCK';
const TAKEOVER_FILE = 'LOCK.takeover';

interface LockInfo {
  pid: number;
  startTime: string | null;
  token: string;
  host: string;
}

export interface LockHandle {
  readonly dir: string;
  readonly token: string;
  readonly bytes: number;
}

const abandonedTokens = new Set<string>();
const myStartTime = procInfo(process.pid)?.startTime ?? null;

/** Linux-only: [state, start time in clock ticks since boot]; null elsewhere or when gone. */
function procInfo(pid: number): { state: string; startTime: string } | null {
  let stat: string;
  try {
    stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return null;
  }
  // comm (field 2) may hold spaces and parens: split after the LAST ')'.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const state = rest[0];
  const startTime = rest[19];
  return state !== undefined && startTime !== undefined ? { state, startTime } : null;
}

function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
  } catch (err) {
    if (errnoCode(err) === 'ESRCH') return false;
    // EPERM: exists but belongs to someone else -> alive.
  }
  return procInfo(pid)?.state !== 'Z';
}

function parse(raw: string): LockInfo | null {
  try {
    const v = JSON.parse(raw) as Partial<LockInfo>;
    if (typeof v.pid !== 'number' || typeof v.token !== 'string') return null;
    return { pid: v.pid, startTime: typeof v.startTime === 'string' ? v.startTime : null, token: v.token, host: String(v.host ?? '') };
  } catch {
    return null;
  }
}

function readRaw(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return null;
    throw err;
  }
}

/** Whether the owner recorded in a lock file still runs. A corrupt lock has no owner. */
export function ownerAlive(raw: string, stealOwnProcess = false): boolean {
  const o = parse(raw);
  if (!o) return false;
  const sameStart = o.startTime === null || myStartTime === null || o.startTime === myStartTime;
  if (o.pid === process.pid && sameStart) return !abandonedTokens.has(o.token) && !stealOwnProcess;
  if (!pidAlive(o.pid)) return false;
  const now = procInfo(o.pid)?.startTime ?? null;
  return now === null || o.startTime === null || now === o.startTime;
}

/** 'free' (no lock), 'live' or 'stale', for callers that only look (adoptOrphans). */
export function lockState(dir: string): 'free' | 'live' | 'stale' {
  const raw = readRaw(path.join(dir, LOCK_FILE));
  if (raw === null) return 'free';
  return ownerAlive(raw) ? 'live' : 'stale';
}

export function acquireLock(dir: string, stealOwnProcess = false): LockHandle {
  const file = path.join(dir, LOCK_FILE);
  const info: LockInfo = { pid: process.pid, startTime: myStartTime, token: randomUUID(), host: os.hostname() };
  const body = Buffer.from(JSON.stringify(info));
  const tmp = path.join(dir, `LOCK.${info.token}.tmp`);
  const fd = fs.openSync(tmp, 'wx');
  try {
    fs.writeSync(fd, body);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  try {
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        fs.linkSync(tmp, file);
        fsyncDir(dir);
        return { dir, token: info.token, bytes: body.length };
      } catch (err) {
        if (errnoCode(err) !== 'EEXIST') throw err;
      }
      const raw = readRaw(file);
      if (raw === null) continue; // released between our link and our read
      if (ownerAlive(raw, stealOwnProcess)) {
        throw new SpillError('COLLECTOR_ERR_SPILL_LOCKED', `${dir} is held by ${raw}`);
      }
      removeStale(dir, file, raw, tmp);
    }
    throw new SpillError('COLLECTOR_ERR_SPILL_LOCKED', `${dir}: lock is contended`);
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}

/** Deletes LOCK only if it still holds the stale bytes we judged, under the takeover mutex. */
function removeStale(dir: string, file: string, staleRaw: string, ourTmp: string): void {
  const mutex = path.join(dir, TAKEOVER_FILE);
  try {
    fs.linkSync(ourTmp, mutex);
  } catch (err) {
    if (errnoCode(err) !== 'EEXIST') throw err;
    const holder = readRaw(mutex);
    // A takeover lasts microseconds; a mutex whose owner is dead was left by a crash.
    if (holder !== null && !ownerAlive(holder)) fs.rmSync(mutex, { force: true });
    else throw new SpillError('COLLECTOR_ERR_SPILL_LOCKED', `${dir}: another process is taking the lock over`);
    return; // the caller loops and retries
  }
  try {
    if (readRaw(file) === staleRaw) fs.unlinkSync(file);
  } finally {
    fs.rmSync(mutex, { force: true });
  }
}

export function releaseLock(h: LockHandle): void {
  const file = path.join(h.dir, LOCK_FILE);
  const o = parse(readRaw(file) ?? '');
  if (o?.token === h.token) fs.rmSync(file, { force: true });
}

/** Test seam for a crash: the lock stays on disk but counts as dead inside this thread. */
export function abandonLock(h: LockHandle): void {
  abandonedTokens.add(h.token);
}
