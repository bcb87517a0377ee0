/**
 * The shared token buckets (native/quota): all-or-nothing takes, the computed wait, refill
 * over (injected) time, and exactly-once accounting when two processes take at once.
 */
import t from 'tap';
import { fork } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readSync, writeSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { PINNED, QuotaTable, TAKE_NEVER } from '../../src/quota/table.js';

const dir = mkdtempSync(join(os.tmpdir(), 'quota-'));
/** params for one key: events/s, burst, bytes/s, burst, events, bytes, flags */
const p = (evRate: number, evNeed: number, byteRate = 0, byteNeed = 0, burstS = 1, flags = 0) => [evRate, evRate * burstS, byteRate, byteRate * burstS, evNeed, byteNeed, flags];
const take = (q: QuotaTable, keys: bigint[], params: number[][], nowUs: number) =>
  q.take(BigUint64Array.from(keys), Float64Array.from(params.flat()), nowUs);

t.test('a batch fits whole or nothing is taken; the wait is computed', async (t) => {
  const q = QuotaTable.open(join(dir, 'a.quota'), 64);
  const T = 1_000_000_000;
  t.equal(take(q, [10n], [p(100, 60)], T), 0, '60 of a burst of 100');
  t.equal(take(q, [10n, 11n], [p(100, 30), p(100, 50)], T), 0, 'two tenants at once');
  const w = take(q, [10n, 11n], [p(100, 20), p(100, 10)], T);
  t.equal(w, 100, 'tenant 10 has 10 left, needs 20: 10 more at 100/s = 100 ms');
  t.equal(take(q, [11n], [p(100, 50)], T), 0, 'the refused take debited nothing from tenant 11 (50 left)');
  t.equal(take(q, [10n], [p(100, 10)], T), 0, 'nor from tenant 10 (10 left)');
  t.equal(take(q, [10n], [p(100, 1)], T), 10, 'empty: 1 event in 10 ms');
  t.equal(take(q, [10n], [p(100, 50)], T + 500_000), 0, 'refilled 50 in 0.5 s');
  t.equal(take(q, [10n], [p(100, 101)], T + 10_000_000), TAKE_NEVER, 'more than the burst can never fit');
  t.equal(take(q, [10n], [p(100, 100)], T + 10_000_000), 0, 'the refill stops at the burst, and the refused take cost nothing');
  t.equal(take(q, [12n], [p(0, 1_000_000, 1000, 600)], T), 0, 'bytes only');
  t.equal(take(q, [12n], [p(0, 1, 1000, 600)], T), 200, 'bytes short by 200 at 1000 B/s');
  t.throws(() => take(q, [1n], [p(1, 1)], T), /reserved/);
  q.close();
});

t.test('two processes taking at once: every token is handed out exactly once', async (t) => {
  const path = join(dir, 'race.quota');
  const worker = fileURLToPath(new URL('./fixtures/take-worker.js', import.meta.url));
  const BURST = 400_000;
  const kids = [0, 1].map(() => fork(worker, [path, String(BURST), String(BURST)], { stdio: 'pipe' }));
  const next = (k: (typeof kids)[number]) => new Promise<unknown>((resolve, reject) => {
    k.once('message', resolve);
    k.once('exit', (code) => code !== 0 && reject(new Error(`worker exited ${code}`)));
  });
  await Promise.all(kids.map(next)); // both opened the table
  const done = kids.map(next);
  for (const k of kids) k.send('go');
  const counts = (await Promise.all(done)).map(Number);
  t.equal(counts[0]! + counts[1]!, BURST, `${counts.join(' + ')} admitted: exactly the burst (time frozen, no refill)`);
  t.ok(counts[0]! > 0 && counts[1]! > 0, 'both processes got some');
});

t.test('two threads of one process taking at once: neither steals the lock its sibling holds', async (t) => {
  const path = join(dir, 'threads.quota');
  const fixture = fileURLToPath(new URL('./fixtures/take-thread.js', import.meta.url));
  const BURST = 400_000;
  const threads = [0, 1].map(() => new Worker(fixture, { workerData: { path, burst: BURST, tries: BURST } }));
  const next = (w: Worker) => new Promise<unknown>((resolve, reject) => {
    w.once('message', resolve);
    w.once('error', reject);
  });
  await Promise.all(threads.map(next)); // both opened the table
  const done = threads.map(next);
  for (const w of threads) w.postMessage('go');
  const counts = (await Promise.all(done)).map(Number);
  await Promise.all(threads.map((w) => w.terminate()));
  const q = QuotaTable.open(path, 64);
  t.equal(q.stats().lockSteals, 0, 'no lock was stolen: every holder was alive');
  q.close();
  t.equal(counts[0]! + counts[1]!, BURST, `${counts.join(' + ')} admitted: exactly the burst (time frozen, no refill)`);
});

t.test('a table of another layout version is re-initialised on open: its lock words mean something else', async (t) => {
  const path = join(dir, 'version.quota');
  const T = 1_000_000_000;
  const q = QuotaTable.open(path, 64);
  t.equal(take(q, [20n], [p(100, 100)], T), 0, 'the whole burst');
  q.close();
  const fd = openSync(path, 'r+');
  const version = Buffer.alloc(4);
  readSync(fd, version, 0, 4, 8); // u32 after the u64 magic
  version.writeUInt32LE(version.readUInt32LE(0) - 1);
  writeSync(fd, version, 0, 4, 8);
  closeSync(fd);
  const again = QuotaTable.open(path, 64);
  t.equal(again.stats().used, 0, 'no slot survives');
  t.equal(take(again, [20n], [p(100, 100)], T), 0, 'tenant 20 starts again from a full burst');
  again.close();
});

t.test('slots of idle tenants are reused: random tenant ids cannot fill the table for good', async (t) => {
  const q = QuotaTable.open(join(dir, 'reclaim.quota'), 16); // 15 tenant slots and the overflow bucket
  const T = 1e12;
  // 40 one-off tenants, each taking 5 of a burst of 100 (full again 50 ms later).
  const first = Array.from({ length: 40 }, (_, k) => take(q, [BigInt(1000 + k)], [p(100, 5)], T));
  t.same(first.slice(0, 15), Array(15).fill(0), 'the first 15 have slots of their own');
  const busy = q.stats();
  t.equal(busy.used, 16, 'every slot in use, the overflow bucket too');
  t.ok(busy.overflowed > 0, `while all were live, later tenants shared the overflow bucket (${busy.overflowed})`);
  // Once they are idle (full again), a new tenant gets a slot of its own: its burst is its own, not shared.
  const later = T + 60_000;
  t.equal(take(q, [5000n], [p(100, 100)], later), 0, 'a whole burst for the new tenant');
  t.equal(take(q, [5001n], [p(100, 100)], later), 0, 'and for the next: not the one overflow bucket');
  const after = q.stats();
  t.equal(after.overflowed, busy.overflowed, 'neither went to the overflow bucket');
  t.ok(after.reclaimed >= 2, `idle slots reclaimed (${after.reclaimed})`);
  t.equal(take(q, [5000n], [p(100, 1)], later), 10, 'and each keeps its own state: 5000 is empty now');
  q.close();
});

t.test('a tenant with its own quota never shares the overflow bucket', async (t) => {
  const q = QuotaTable.open(join(dir, 'pinned.quota'), 8);
  const T = 1e12;
  // "*" tenants drain their buckets and stay live (not idle) for the whole test.
  for (let k = 0; k < 20; k++) take(q, [BigInt(2000 + k)], [p(1, 1)], T);
  t.ok(q.stats().overflowed > 0, 'the "*" crowd fills the table and the overflow bucket');
  // The overflow bucket is drained by the crowd: a pinned tenant sharing it would be refused.
  for (const k of [9000n, 9001n, 9002n]) {
    t.equal(take(q, [k], [p(100, 100, 0, 0, 1, PINNED)], T), 0, `pinned tenant ${k} gets its whole burst`);
  }
  t.ok(q.stats().evicted >= 3, 'by evicting "*" tenants\' live slots');
  t.equal(take(q, [9000n], [p(100, 1, 0, 0, 1, PINNED)], T), 10, 'its state is its own: empty after its burst');
  t.equal(take(q, [9001n], [p(100, 1, 0, 0, 1, PINNED)], T), 10, 'and not taken from it by a later pinned tenant');
  t.ok(take(q, [2999n], [p(100, 100)], T) > 0, 'while a new "*" tenant still shares the drained overflow bucket');
  q.close();
});
