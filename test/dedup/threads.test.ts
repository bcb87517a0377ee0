/**
 * Two threads of one process on one table: the bucket lock names its holder's thread, so a sibling
 * thread waits for a live holder instead of taking the lock for a dead predecessor's.
 */
import t from 'tap';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { DedupTable } from '../../src/dedup/table.js';
import { tmpTablePath } from './helpers.js';

t.test('two worker_threads claiming the same ids: they wait for each other, neither steals a lock', async (t) => {
  const { path, cleanup } = tmpTablePath('threads');
  t.teardown(cleanup);
  const capacity = 256; // 8 buckets: the two threads meet on them all the time
  DedupTable.open({ path, capacity }).close();
  const fixture = fileURLToPath(new URL('./claim-thread.js', import.meta.url));
  const threads = [0, 1].map(() => new Worker(fixture, { workerData: { dedupThread: true, path, capacity, rounds: 4000 } }));
  const next = (w: Worker) =>
    new Promise<unknown>((resolve, reject) => {
      w.once('message', resolve);
      w.once('error', reject);
    });
  await Promise.all(threads.map(next)); // both opened the table
  const done = threads.map(next);
  for (const w of threads) w.postMessage('go');
  const stats = (await Promise.all(done)) as { lockSteals: number; lockContended: number }[];
  await Promise.all(threads.map((w) => w.terminate()));
  t.comment(`bucket-lock waits ${stats.map((s) => s.lockContended).join(' + ')}`);
  t.ok(stats[0]!.lockContended + stats[1]!.lockContended > 0, 'the threads did meet on a bucket lock');
  t.same(stats.map((s) => s.lockSteals), [0, 0], 'no lock was stolen: every holder was alive');
});
