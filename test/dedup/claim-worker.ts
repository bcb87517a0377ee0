/**
 * Child process for the cross-process race tests: opens the table at `path`, prepares
 * its batches, waits for {startAt}, spins until then, claims `count` ids of run `run`
 * and sends back its result bytes (1 = won) as base64. Only acts when forked with
 * --dedup-claimer (tap runs every .js file of a directory it is given).
 */
import { DedupTable } from '../../src/dedup/table.js';
import { uuidAt } from './helpers.js';

interface Job {
  path: string;
  capacity: number;
  run: string;
  count: number;
  batch: number;
  reverse?: boolean;
  binary?: boolean;
  /** Claim (and release) without end until killed: for the kill -9 test. */
  forever?: boolean;
}

const asClaimer = process.argv.includes('--dedup-claimer') && typeof process.send === 'function';

if (asClaimer) {
  process.once('message', (job: Job) => {
    const table = DedupTable.open({ path: job.path, capacity: job.capacity, windowMs: 600_000 });
    if (job.forever) {
      process.send!('ready');
      const ids = Array.from({ length: 256 }, (_, i) => uuidAt(job.run, i));
      for (let n = 0; ; n++) {
        const r = table.claimBatch(ids, 1_700_000_000_000 + n);
        table.release(ids, r);
      }
    }
    const batches: { start: number; ids: string[] | Uint8Array }[] = [];
    for (let start = 0; start < job.count; start += job.batch) {
      const ids: string[] = [];
      for (let i = start; i < Math.min(job.count, start + job.batch); i++) ids.push(uuidAt(job.run, i));
      if (job.binary) {
        const packed = Buffer.alloc(ids.length * 16);
        ids.forEach((id, j) => { DedupTable.keyOf(id).copy(packed, j * 16); });
        batches.push({ start, ids: packed });
      } else {
        batches.push({ start, ids });
      }
    }
    if (job.reverse) batches.reverse();
    const won = new Uint8Array(job.count);
    process.once('message', (go: { startAt: number }) => {
      while (Date.now() < go.startAt) {
        /* spin: both claimers start at the same instant */
      }
      const now = Date.now();
      for (const b of batches) won.set(table.claimBatch(b.ids, now), b.start);
      const stats = table.stats();
      table.close();
      process.send!({ won: Buffer.from(won).toString('base64'), lockContended: stats.lockContended }, () =>
        process.exit(0),
      );
    });
    process.send!('ready');
  });
}
