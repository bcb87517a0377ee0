import t, { type Test } from 'tap';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import {
  CLAIM_DUPLICATE,
  CLAIM_IN_FLIGHT,
  CLAIM_NEW,
  DedupTable,
  DedupUnavailableError,
  capacityFor,
  defaultDedupPath,
  fileBytesFor,
} from '../../src/dedup/table.js';
import { tmpTablePath } from './helpers.js';

function open(t: Test, opts: Parameters<typeof DedupTable.open>[0] = {}): DedupTable {
  const { path, cleanup } = tmpTablePath('sem');
  const table = DedupTable.open({ capacity: 1024, windowMs: 60_000, ...opts, path });
  t.teardown(() => {
    table.close();
    cleanup();
  });
  return table;
}

const T0 = 1_700_000_000_000;

t.test('same id twice: the second is a duplicate; within one batch too', async (t) => {
  const table = open(t);
  const a = randomUUID();
  const b = randomUUID();
  t.same([...table.claimBatch([a], T0)], [CLAIM_NEW]);
  t.same([...table.claimBatch([a], T0 + 1)], [CLAIM_DUPLICATE]);
  t.same([...table.claimBatch([b, a, b], T0 + 2)], [CLAIM_NEW, CLAIM_DUPLICATE, CLAIM_DUPLICATE]);
  t.equal(table.claim(randomUUID(), T0), true);
  t.equal(table.claim(a, T0), false);
  t.same([...table.claimBatch([], T0)], [], 'empty batch');
  const s = table.stats({ sampleBuckets: 0, nowMs: T0 + 3 });
  t.equal(s.liveEstimate, 3);
  t.equal(s.claims, 7);
  t.equal(s.fresh, 3);
  t.equal(s.duplicates, 4);
});

t.test('after the window the id is new again', async (t) => {
  const table = open(t, { windowMs: 1000 });
  const id = randomUUID();
  t.equal(table.claimBatch([id], T0)[0], CLAIM_NEW);
  t.equal(table.claimBatch([id], T0 + 999)[0], CLAIM_DUPLICATE, 'still inside the window');
  t.equal(table.claimBatch([id], T0 + 1000)[0], CLAIM_NEW, 'window over');
  t.equal(table.claimBatch([id], T0 + 1500)[0], CLAIM_DUPLICATE, 'the new claim starts a new window');
  t.equal(table.stats({ sampleBuckets: 0, nowMs: T0 + 10_000 }).liveEstimate, 0, 'expired entries are not live');
});

t.test('release makes a claim claimable again; the mask spares duplicates', async (t) => {
  const table = open(t);
  const mine = randomUUID();
  const theirs = randomUUID();
  table.claimBatch([theirs], T0); // claimed earlier by "another request"
  const ids = [mine, theirs];
  const r = table.claimBatch(ids, T0 + 1);
  t.same([...r], [CLAIM_NEW, CLAIM_DUPLICATE]);
  t.equal(table.release(ids, r, T0 + 2), 1, 'only the id this batch claimed is released');
  t.same([...table.claimBatch(ids, T0 + 3)], [CLAIM_NEW, CLAIM_DUPLICATE], 'the retry is new; the other stays');
  t.equal(table.release([mine], undefined, T0 + 4), 1, 'no mask: release every id given');
  t.equal(table.release([mine], undefined, T0 + 4), 0, 'nothing left to release');
  t.equal(table.release([randomUUID()], undefined, T0), 0, 'unknown id');
  t.equal(table.stats().releases, 2);
});

t.test('lease mode: in flight until commit, lapses without one', async (t) => {
  const table = open(t, { windowMs: 60_000, leaseMs: 1000 });
  const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
  const r = table.claimBatch([a, b, c], T0);
  t.same([...r], [CLAIM_NEW, CLAIM_NEW, CLAIM_NEW]);
  t.same([...table.claimBatch([a, b], T0 + 10)], [CLAIM_IN_FLIGHT, CLAIM_IN_FLIGHT], 'a retry during the write');
  const rep = randomUUID();
  t.same(
    [...table.claimBatch([rep, a, rep], T0 + 10)],
    [CLAIM_NEW, CLAIM_IN_FLIGHT, CLAIM_DUPLICATE],
    'an id repeated within one batch is a duplicate, not in flight',
  );
  table.release([rep], undefined, T0 + 10);
  t.equal(table.stats({ sampleBuckets: 0, nowMs: T0 + 10 }).pendingEstimate, 3);

  // a: acknowledged -> committed for the window
  t.equal(table.commit([a], undefined, T0 + 20), 0);
  t.equal(table.claimBatch([a], T0 + 50_000)[0], CLAIM_DUPLICATE, 'committed: remembered for the window');
  t.equal(table.claimBatch([a], T0 + 20 + 60_000)[0], CLAIM_NEW, 'window counted from the commit');

  // b: failed -> released -> retry is new
  t.equal(table.release([b], undefined, T0 + 20), 1);
  t.equal(table.claimBatch([b], T0 + 30)[0], CLAIM_NEW);

  // c: the claimant died -> the lease lapses and a retry is new
  t.equal(table.claimBatch([c], T0 + 1000)[0], CLAIM_NEW, 'lease lapsed');
  // a commit that comes after its lease lapsed re-inserts the id
  const d = randomUUID();
  table.claimBatch([d], T0);
  t.equal(table.commit([d], undefined, T0 + 5000), 1, 'late commit is counted');
  t.equal(table.claimBatch([d], T0 + 6000)[0], CLAIM_DUPLICATE);
  // commit with a claim result as mask: in-flight entries (2) are not ours to commit
  const e = randomUUID();
  const f = randomUUID();
  table.claimBatch([f], T0 + 100_000);
  const r2 = table.claimBatch([e, f], T0 + 100_001);
  t.same([...r2], [CLAIM_NEW, CLAIM_IN_FLIGHT]);
  table.commit([e, f], r2, T0 + 100_002);
  t.same([...table.claimBatch([e, f], T0 + 100_003)], [CLAIM_DUPLICATE, CLAIM_IN_FLIGHT], 'f is still in flight');
  t.equal(table.release([e, f], r2, T0 + 100_004), 1, 'release with the mask leaves f alone');
});

t.test('plain mode: commit is a no-op', async (t) => {
  const table = open(t);
  const id = randomUUID();
  table.claimBatch([id], T0);
  t.equal(table.commit([id], undefined, T0 + 1), 0);
  t.equal(table.claimBatch([id], T0 + 2)[0], CLAIM_DUPLICATE);
});

t.test('ids: UUID case, non-UUID strings, long strings, binary keys', async (t) => {
  const table = open(t, { capacity: 1 << 16 });
  const u = '6ba7b810-9dad-11d1-80b4-00c04fd430c8';
  t.equal(DedupTable.keyOf(u).toString('hex'), u.replace(/-/g, ''), 'a UUID key is its 128 bits');
  t.same(DedupTable.keyOf(u.toUpperCase()), DedupTable.keyOf(u), 'UUIDs are case-insensitive');
  t.notSame(DedupTable.keyOf(`{${u}}`), DedupTable.keyOf(u), 'other spellings are other ids');
  t.notSame(DedupTable.keyOf(u.replace(/-/g, '')), DedupTable.keyOf(u));
  t.notSame(DedupTable.keyOf('6ba7b810-9dad-11d1-80b4-00c04fd430cg'), DedupTable.keyOf(u), 'non-hex digit: hashed');

  t.same([...table.claimBatch([u, u.toUpperCase()], T0)], [CLAIM_NEW, CLAIM_DUPLICATE]);

  const odd = ['', 'not-a-uuid', 'ünïcødé ✓ 🎉', 'a\u0000b', 'a\u0000c', ' '];
  odd.push('x'.repeat(5000), 'x'.repeat(4999) + 'y');
  // lengths around the 128-byte stack buffer: each must be read whole
  for (const n of [126, 127, 128, 129, 255]) {
    odd.push('a'.repeat(n - 1) + 'b', 'a'.repeat(n - 1) + 'c');
  }
  t.same([...table.claimBatch(odd, T0)], odd.map(() => CLAIM_NEW), 'all distinct');
  t.same([...table.claimBatch(odd, T0 + 1)], odd.map(() => CLAIM_DUPLICATE), 'all seen');
  const keys = new Set(odd.map((s) => DedupTable.keyOf(s).toString('hex')));
  t.equal(keys.size, odd.length, 'distinct keys');

  // binary batches of packed keys agree with strings
  const ids = [randomUUID(), randomUUID(), 'plain-string-id'];
  const packed = Buffer.concat(ids.map((id) => DedupTable.keyOf(id)));
  t.same([...table.claimBatch(packed, T0)], [1, 1, 1]);
  t.same([...table.claimBatch(ids, T0)], [0, 0, 0], 'the string form is a duplicate of the binary one');
  t.same([...table.claimBatch(new Uint8Array(0), T0)], []);

  // the joined-string fast path must never split or reinterpret an id
  const [u1, u2, u3] = [randomUUID(), randomUUID(), randomUUID()];
  t.same([...table.claimBatch([`${u1}\n${u2}`], T0)], [CLAIM_NEW], 'an id holding a newline is one id');
  t.same([...table.claimBatch([u1, u2], T0)], [CLAIM_NEW, CLAIM_NEW], '...not the two UUIDs it contains');
  t.same([...table.claimBatch([`${u3}\n`, 'tail-only'], T0)], [CLAIM_NEW, CLAIM_NEW]);
  t.same([...table.claimBatch([u3], T0)], [CLAIM_NEW]);
  const zero = '00000000-0000-4000-8000-000000000000';
  const lookalike = zero.replace(/0/g, '\u0130'); // low byte 0x30 = '0' in Latin-1
  t.same([...table.claimBatch([zero], T0)], [CLAIM_NEW]);
  t.same([...table.claimBatch([lookalike], T0)], [CLAIM_NEW], 'a non-Latin-1 look-alike is another id');
  t.same([...table.claimBatch([zero.toUpperCase(), lookalike, 'x', zero], T0)], [0, 0, 1, 0], 'mixed batch');
  const big = Array.from({ length: 5000 }, () => randomUUID());
  t.equal(table.claimBatch(big, T0).reduce((n, x) => n + x, 0), 5000, 'a large batch');
  t.equal(table.release(big, undefined, T0), 5000);

  t.throws(() => table.claimBatch([u, 42 as unknown as string], T0), TypeError, 'non-string id');
  t.throws(() => table.claimBatch([null as unknown as string], T0), TypeError);
  t.throws(() => table.claimBatch(Buffer.alloc(15), T0), TypeError, 'not a multiple of 16');
  t.throws(() => table.claimBatch(new Uint16Array(8) as unknown as Uint8Array, T0), TypeError);
  t.throws(() => table.claimBatch('abc' as unknown as string[], T0), TypeError);
  t.throws(() => table.claimBatch([u], Number.NaN), RangeError);
  t.throws(() => table.claimBatch([u], -1), RangeError);
  t.throws(() => table.release([u, u], new Uint8Array(1), T0), TypeError, 'mask too short');
});

t.test('options are checked; a closed table refuses', async (t) => {
  const { path, cleanup } = tmpTablePath('opts');
  t.teardown(cleanup);
  t.throws(() => DedupTable.open({ path, capacity: 1000 }), RangeError, 'not a power of two');
  t.throws(() => DedupTable.open({ path, capacity: 16 }), RangeError, 'too small');
  t.throws(() => DedupTable.open({ path, capacity: 64, windowMs: 0 }), RangeError);
  t.throws(() => DedupTable.open({ path, capacity: 64, leaseMs: -1 }), RangeError);
  const table = DedupTable.open({ path, capacity: 64 });
  t.equal(table.fileBytes, fileBytesFor(64));
  t.equal(table.windowMs, 600_000, 'default window 10 min');
  table.close();
  table.close();
  t.ok(table.closed);
  t.throws(() => table.claimBatch(['x']), /closed/);
  t.throws(() => table.stats(), /closed/);
});

t.test('a missing or broken addon is a clear error, not a fallback', async (t) => {
  const { path, cleanup } = tmpTablePath('addon');
  t.teardown(cleanup);
  t.throws(
    () => DedupTable.open({ path, capacity: 64, addonPath: '/nonexistent/dedup.node' }),
    DedupUnavailableError,
  );
  writeFileSync(path, 'not an ELF file');
  const err = t.throws(() => DedupTable.open({ path: '/dev/null', addonPath: path }), DedupUnavailableError) as
    | DedupUnavailableError
    | undefined;
  t.match(err?.message ?? '', /npm run build:native/);
});

t.test('sizing helpers', async (t) => {
  t.equal(capacityFor(2000, 600_000), 4 * 1024 * 1024, '10 min at 2k/s at load 0.3 -> 4 Mi slots');
  t.equal(capacityFor(150_000, 60_000, 0.5), 32 * 1024 * 1024);
  t.equal(capacityFor(1, 1), 32);
  t.throws(() => capacityFor(0, 1));
  t.equal(fileBytesFor(4 * 1024 * 1024), 4096 + 4 * 1024 * 1024 * 26, '104 MiB');
  t.match(defaultDedupPath(8000), /event-collector-8000\.dedup$/);
  t.match(defaultDedupPath('a/b c'), /event-collector-a_b_c\.dedup$/);
});

t.test('ids are compared whole, whatever their UTF-8 length (no cut at a buffer boundary)', async (t) => {
  const table = open(t);
  // 64 × "é" is 128 bytes: the old 128-byte buffer held 63 of them and took that for the whole id.
  for (const [a, b] of [
    ['é'.repeat(64), 'é'.repeat(63)],
    ['€'.repeat(43), '€'.repeat(42)],
    [`${'a'.repeat(126)}é`, 'a'.repeat(126)],
    ['😀'.repeat(32), '😀'.repeat(31)],
  ] as const) {
    t.same([...table.claimBatch([b], T0)], [CLAIM_NEW], `${b.length} UTF-16 units: new`);
    t.same([...table.claimBatch([a], T0)], [CLAIM_NEW], `${a.length} UTF-16 units, one character more: new, not a duplicate`);
    t.same([...table.claimBatch([a], T0 + 1)], [CLAIM_DUPLICATE], 'and itself again: a duplicate');
  }
});

t.test('the joined fast path for UUID batches never takes "<uuid>é" for "<uuid>"', async (t) => {
  const table = open(t);
  for (const n of [1, 3, 64, 65]) {
    const ids = Array.from({ length: n }, () => randomUUID());
    const longer = [...ids.slice(0, -1), `${ids[n - 1]!}é`];
    t.same([...table.claimBatch(longer, T0)], longer.map(() => CLAIM_NEW), `${n} ids, the last one longer: new`);
    t.equal(table.claimBatch(ids, T0)[n - 1], CLAIM_NEW, `${n} ids: the plain UUID is new, not a duplicate of the longer one`);
  }
});
