/**
 * Child process for the cross-process race tests: opens the table at `path`, waits for
 * 'go', claims `count` ids of run `run` in batches of `batch` and sends back its result
 * bytes (1 = won) as base64.
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
}

process.once('message', (job: Job) => {
  const table = DedupTable.open({ path: job.path, capacity: job.capacity, windowMs: 600_000 });
  const ids: string[] = [];
  for (let i = 0; i < job.count; i++) ids.push(uuidAt(job.run, i));
  const won = new Uint8Array(job.count);
  process.once('message', () => {
    const now = Date.now();
    const order = [...Array(Math.ceil(job.count / job.batch)).keys()];
    if (job.reverse) order.reverse();
    for (const b of order) {
      const start = b * job.batch;
      const slice = ids.slice(start, start + job.batch);
      let arg: string[] | Uint8Array = slice;
      if (job.binary) {
        const packed = Buffer.alloc(slice.length * 16);
        slice.forEach((id, j) => DedupTable.keyOf(id).copy(packed, j * 16));
        arg = packed;
      }
      const r = table.claimBatch(arg, now);
      won.set(r, start);
    }
    const stats = table.stats();
    table.close();
    process.send!({ won: Buffer.from(won).toString('base64'), lockContended: stats.lockContended }, () => process.exit(0));
  });
  process.send!('ready');
});
