import t from 'tap';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HostTable, SLOTS } from '../../src/replay/index.js';
import { loadNativeAddon } from '../../src/native-addon.js';

const mapped = loadNativeAddon<{ mapShared(path: string, bytes: number): ArrayBuffer }>('memory');

t.test('mapShared refuses what it cannot map: a missing file, a file shorter than asked, a size ≤ 0', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mapped-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  t.throws(() => mapped.mapShared(join(dir, 'nope'), 8), { code: 'MEMORY_MAP_FAILED' });
  const short = join(dir, 'short');
  writeFileSync(short, Buffer.alloc(8));
  t.throws(() => mapped.mapShared(short, 16), { code: 'MEMORY_MAP_FAILED' }, 'past the end would fault on access');
  t.throws(() => mapped.mapShared(short, 0), RangeError);
});

t.test('a mapping sees writes to the file at once, and writes through it reach the file', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'mapped-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'f');
  writeFileSync(file, Buffer.alloc(64));
  const a = new Float64Array(mapped.mapShared(file, 64));
  const b = new Float64Array(mapped.mapShared(file, 64));
  t.equal(a[3], 0);
  a[3] = 42.5;
  t.equal(b[3], 42.5, 'another mapping of the file sees it');
  t.equal(readFileSync(file).readDoubleLE(24), 42.5, 'and a read of the file');
});

t.test('two processes\' tables: one marks a slot, the other spills at once (mapped, no read in between)', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'host-table-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const mine = HostTable.open(dir);
  const theirs = HostTable.open(dir);
  t.teardown(() => { mine.close(); theirs.close(); });
  t.ok(mine.isMapped, 'mapped');
  t.notOk(mine.spilling());
  theirs.write(SLOTS - 1, 123);
  t.ok(mine.spilling(), 'the last slot is seen');
  theirs.write(SLOTS - 1, 0);
  t.notOk(mine.spilling(), 'and its clearing');
  theirs.write(0, 7);
  t.ok(mine.spilling());
  t.equal(mine.read()[0], 7, 'pread and the mapping agree');
});
