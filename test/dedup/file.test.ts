import t from 'tap';
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { CLAIM_DUPLICATE, CLAIM_NEW, DedupTable, fileBytesFor } from '../../src/dedup/table.js';
import { tmpTablePath, uuidAt } from './helpers.js';

const T0 = 1_700_000_000_000;
const HEADER = 4096;
const BUCKET = 832;

t.test('a second open attaches to the same table', async (t) => {
  const { path, cleanup } = tmpTablePath('attach');
  t.teardown(cleanup);
  const a = DedupTable.open({ path, capacity: 256 });
  const b = DedupTable.open({ path, capacity: 256 });
  t.teardown(() => {
    a.close();
    b.close();
  });
  t.equal(a.created, true);
  t.equal(b.created, false);
  t.equal(b.recreatedReason, null);
  t.equal(b.createdAtMs, a.createdAtMs);
  t.equal(a.claimBatch(['shared'], T0)[0], CLAIM_NEW);
  t.equal(b.claimBatch(['shared'], T0)[0], CLAIM_DUPLICATE, 'seen through the other mapping');
  t.equal(b.release(['shared'], undefined, T0), 1);
  t.equal(a.claimBatch(['shared'], T0)[0], CLAIM_NEW, 'release seen through the other mapping');
  t.equal(a.isStale(), false);
  a.close();
  const c = DedupTable.open({ path, capacity: 256 });
  t.teardown(() => c.close());
  t.equal(c.claimBatch(['shared'], T0)[0], CLAIM_DUPLICATE, 'entries outlive the handles (the file is the table)');
});

t.test('a full bucket evicts its oldest entry; memory does not grow', async (t) => {
  const { path, cleanup } = tmpTablePath('full');
  t.teardown(cleanup);
  // capacity 32 = a single bucket: every id competes for the same 32 slots
  const table = DedupTable.open({ path, capacity: 32, windowMs: 1_000_000 });
  t.teardown(() => table.close());
  const size = statSync(path).size;
  t.equal(size, fileBytesFor(32));
  const ids = Array.from({ length: 33 }, (_, i) => uuidAt('0000f011', i));
  for (let i = 0; i < 32; i++) t.equal(table.claimBatch([ids[i]!], T0 + i)[0], CLAIM_NEW);
  t.equal(table.stats().evictions, 0);
  t.equal(table.claimBatch([ids[32]!], T0 + 32)[0], CLAIM_NEW, 'the 33rd is taken');
  let s = table.stats({ nowMs: T0 + 40 });
  t.equal(s.evictions, 1);
  t.equal(s.lastEvictionAgeMs, 32, 'age of the evicted entry when evicted (the effective window) is reported');
  t.same([...table.claimBatch(ids.slice(1), T0 + 40)], ids.slice(1).map(() => CLAIM_DUPLICATE), 'only the oldest went');
  t.equal(table.claimBatch([ids[0]!], T0 + 41)[0], CLAIM_NEW, 'the oldest was the one evicted');

  // overload: 100k distinct ids into 32 slots, one ms apart
  const many = Array.from({ length: 100_000 }, (_, i) => uuidAt('0000f012', i));
  let notNew = 0;
  for (let i = 0; i < many.length; i++) if (table.claimBatch([many[i]!], T0 + 100 + i)[0] !== CLAIM_NEW) notNew++;
  t.equal(notNew, 0, 'every distinct id is new');
  s = table.stats({ sampleBuckets: 0, nowMs: T0 + 200_000 });
  t.equal(s.evictions, 2 + many.length, 'one per claim into the full bucket');
  t.equal(s.liveEstimate, 32, 'still exactly 32 live entries');
  t.equal(statSync(path).size, size, 'file size unchanged');
  t.same(
    [...table.claimBatch(many.slice(-32), T0 + 200_000)],
    many.slice(-32).map(() => CLAIM_DUPLICATE),
    'the newest 32 survive',
  );
});

t.test('an incompatible or corrupt file is replaced', async (t) => {
  const { path, cleanup } = tmpTablePath('compat');
  t.teardown(cleanup);

  const old = DedupTable.open({ path, capacity: 64 });
  old.claimBatch(['kept-by-old'], T0);
  const bigger = DedupTable.open({ path, capacity: 128 });
  t.equal(bigger.created, true);
  t.equal(bigger.recreatedReason, 'capacity differs');
  t.equal(statSync(path).size, fileBytesFor(128));
  t.equal(bigger.claimBatch(['kept-by-old'], T0)[0], CLAIM_NEW, 'a fresh table');
  t.equal(old.claimBatch(['kept-by-old'], T0)[0], CLAIM_DUPLICATE, 'the old mapping still works (no SIGBUS)');
  t.equal(old.isStale(), true, 'the old handle knows it no longer maps the path');
  t.equal(bigger.isStale(), false);
  old.close();
  bigger.close();

  // corrupt magic
  const fd = openSync(path, 'r+');
  writeSync(fd, Buffer.from('XXXXXXXX'), 0, 8, 0);
  closeSync(fd);
  let r = DedupTable.open({ path, capacity: 128 });
  t.match(r.recreatedReason, /bad magic/);
  r.close();

  // version bump
  const fd2 = openSync(path, 'r+');
  const v = Buffer.alloc(4);
  v.writeUInt32LE(99);
  writeSync(fd2, v, 0, 4, 8);
  closeSync(fd2);
  r = DedupTable.open({ path, capacity: 128 });
  t.equal(r.recreatedReason, 'layout version differs');
  r.close();

  // truncated file / garbage
  writeFileSync(path, Buffer.alloc(100, 7));
  r = DedupTable.open({ path, capacity: 128 });
  t.match(r.recreatedReason, /shorter than the header/);
  r.close();
  writeFileSync(path, Buffer.alloc(fileBytesFor(128), 0xff));
  r = DedupTable.open({ path, capacity: 128 });
  t.match(r.recreatedReason, /bad magic/);
  t.equal(r.claimBatch(['x'], T0)[0], CLAIM_NEW);
  r.close();

  // a header whose size does not match the file
  const fd3 = openSync(path, 'r+');
  writeSync(fd3, Buffer.alloc(4096, 0), 0, 4096, fileBytesFor(128)); // extend by a page
  closeSync(fd3);
  r = DedupTable.open({ path, capacity: 128 });
  t.match(r.recreatedReason, /size/);
  r.close();

  // an empty file (e.g. created by someone's O_CREAT) is just initialised
  writeFileSync(path, '');
  r = DedupTable.open({ path, capacity: 128 });
  t.equal(r.created, true);
  t.equal(r.recreatedReason, null);
  r.close();
});

t.test('a removed file makes handles stale; the next open starts a new table', async (t) => {
  const { path, cleanup } = tmpTablePath('removed');
  t.teardown(cleanup);
  const a = DedupTable.open({ path, capacity: 64 });
  a.claimBatch(['x'], T0);
  cleanup();
  t.equal(a.isStale(), true);
  const b = DedupTable.open({ path, capacity: 64 });
  t.equal(b.created, true);
  t.equal(b.claimBatch(['x'], T0)[0], CLAIM_NEW);
  a.close();
  b.close();
});

t.test('open fails clearly where the file cannot be', async (t) => {
  t.throws(() => DedupTable.open({ path: '/nonexistent-dir/x.dedup', capacity: 64 }), /open\(\/nonexistent-dir/);
});

t.test('a lock left by a dead process is taken over', async (t) => {
  const { path, cleanup } = tmpTablePath('steal');
  t.teardown(cleanup);
  const table = DedupTable.open({ path, capacity: 128 }); // 4 buckets
  t.teardown(() => table.close());
  // a pid that existed and is gone now
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']);
  const dead = BigInt(child.stdout.toString());
  const word = Buffer.alloc(8);
  word.writeBigUInt64LE((dead << 32n) | dead);
  const fd = openSync(path, 'r+');
  for (let b = 0; b < 4; b++) writeSync(fd, word, 0, 8, HEADER + b * BUCKET);
  closeSync(fd);
  const ids = Array.from({ length: 64 }, (_, i) => uuidAt('0000dead', i));
  const r = table.claimBatch(ids, T0);
  t.same([...r], ids.map(() => CLAIM_NEW));
  const s = table.stats();
  t.equal(s.lockSteals, 4, 'each of the 4 bucket locks was stolen once');
  // the locks are free again afterwards
  const check = Buffer.alloc(8);
  const rfd = openSync(path, 'r');
  for (let b = 0; b < 4; b++) {
    readSync(rfd, check, 0, 8, HEADER + b * BUCKET);
    t.equal(check.readBigUInt64LE(), 0n, `bucket ${b} unlocked`);
  }
  closeSync(rfd);
});
