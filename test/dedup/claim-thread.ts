/**
 * worker_thread of threads.test.ts: its own handle on the table, in the same process as its siblings (same
 * pid, its own tid). Waits for "go", claims and releases the same ids `rounds` times, and posts its handle's
 * lock counters.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { DedupTable } from '../../src/dedup/table.js';
import { uuidAt } from './helpers.js';

if (parentPort && workerData?.dedupThread) {
  const port = parentPort;
  const { path, capacity, rounds } = workerData as { path: string; capacity: number; rounds: number };
  const table = DedupTable.open({ path, capacity, windowMs: 600_000 });
  const ids = Array.from({ length: 256 }, (_, i) => uuidAt('0000face', i));
  port.once('message', () => {
    for (let n = 0; n < rounds; n++) table.release(ids, table.claimBatch(ids, 1_700_000_000_000 + n));
    const { lockSteals, lockContended } = table.stats({ sampleBuckets: 0 });
    table.close();
    port.postMessage({ lockSteals, lockContended });
  });
  port.postMessage('ready');
}
