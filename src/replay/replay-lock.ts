/**
 * Who replays for the host: the process holding BUFFER_DIR/.order/replayer/LOCK.
 * One replayer sends the merged order of every log of the host through its one producer,
 * so a hand-over between logs costs nothing (the idempotent producer keeps order within
 * a chunk) instead of one Kafka round trip per hand-over between processes.
 *
 * The lock is lock.ts's: a holder that dies, SIGKILL included, leaves a lock whose pid is
 * gone (or reused by another process: start time differs); the next process that asks
 * takes it over. A takeover after a crash is reported, because the dead leader may have had
 * a chunk in Kafka whose marker it never wrote: those records come again (duplicates).
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isSpillError } from '../spill/index.js';
import { ORDER_DIR } from './host-table.js';
import { abandonLock, acquireLock, lockState, releaseLock, type LockHandle } from '../spill/index.js';

export const LEADER_DIR = 'replayer';

export class ReplayLeadership {
  private handle: LockHandle | null = null;
  readonly dir: string;

  constructor(baseDir: string) {
    this.dir = path.join(baseDir, ORDER_DIR, LEADER_DIR);
    fs.mkdirSync(this.dir, { recursive: true });
  }

  get held(): boolean {
    return this.handle !== null;
  }

  /** Becomes the leader when no live process is; `afterCrash`: the previous leader died holding it. */
  tryAcquire(): { afterCrash: boolean } | null {
    if (this.handle) return { afterCrash: false };
    const before = lockState(this.dir);
    if (before === 'live') return null;
    try {
      this.handle = acquireLock(this.dir);
    } catch (err) {
      if (isSpillError(err, 'COLLECTOR_ERR_SPILL_LOCKED')) return null;
      throw err;
    }
    return { afterCrash: before === 'stale' };
  }

  release(): void {
    if (this.handle) releaseLock(this.handle);
    this.handle = null;
  }

  /** @internal test seam for kill -9 of the leader: the lock stays, and counts as dead. */
  _abandon(): void {
    if (this.handle) abandonLock(this.handle);
    this.handle = null;
  }
}
