/**
 * Host order slots whose log holder died (host-table.ts): a slot still owes while its log
 * holds records, so the log must be adopted by a live process; a dead holder whose log owes
 * nothing (it died between stamping a batch and storing it, or with only pins) leaves a value
 * that would block every replayer of the host and keep it spilling: cleared here, under the
 * log's own lock so that a returning owner, which publishes only while holding it, is never
 * overwritten.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { HostTable } from './host-table.js';
import { SLOTS } from './host-table.js';
import { acquireLock, lockState, releaseLock } from '../spill/index.js';
import { holdsUnacked } from '../spill/index.js';

/** Clears what it can; returns true when some stale slot's log holds records and needs adopting. */
export function sweepStaleSlots(baseDir: string, table: HostTable, owned: ReadonlySet<number>): boolean {
  const values = Float64Array.from(table.read());
  const holds = Float64Array.from(table.readHolds());
  const dirs = table.slotDirs();
  let adopt = false;
  const clear = (j: number) => {
    table.writeHold(j, 0);
    table.write(j, 0);
  };
  for (let j = 0; j < SLOTS; j++) {
    if (!(values[j]! > 0 || holds[j]! > 0) || owned.has(j)) continue;
    const name = dirs.get(j);
    if (name === undefined) continue;
    const dir = path.join(baseDir, name);
    if (!fs.existsSync(dir)) {
      clear(j);
      continue;
    }
    try {
      if (lockState(dir) === 'live') continue;
      if (holdsUnacked(dir)) {
        adopt = true;
        continue;
      }
      const lock = acquireLock(dir);
      try {
        if (holdsUnacked(dir)) adopt = true;
        else clear(j);
      } finally {
        releaseLock(lock);
      }
    } catch {
      // taken meanwhile, or unreadable: adoption reports the real error
      adopt = true;
    }
  }
  return adopt;
}
