/**
 * The host order table and what a process publishes in it (#14.1), without Kafka: failure
 * paths first (a dead holder's slot, a stamp that must be owed before its answer, pins),
 * then the order of stamps taken by two processes.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { HostTable, before, orderKey, stampNow, SLOTS } from '../../src/replay/index.js';
import { OrderHeads } from '../../src/replay/index.js';
import { sweepStaleSlots } from '../../src/replay/index.js';
import { open, tmpDir } from '../spill/helpers.js';
import { decodeSpilledBatch, encodeSpilledBatch } from '../../src/spill/batch-codec.js';
import { PackedBuilder } from '../../src/codec/packed.js';

function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '0']).pid!;
}

t.test('a dead holder whose log owes nothing: its slot is cleared; one whose log owes: adopt', async (t) => {
  const base = tmpDir('order-sweep');
  const table = HostTable.open(base);
  const empty = table.slotOf('gone-empty');
  const owing = table.slotOf('gone-owing');
  table.write(empty, 123);
  table.write(owing, 456);
  // gone-owing holds a record; both directories carry the lock of a process that is dead
  const log = open(path.join(base, 'gone-owing'));
  log.append([Buffer.from('x')]);
  log.close();
  fs.mkdirSync(path.join(base, 'gone-empty'));
  for (const d of ['gone-empty', 'gone-owing']) {
    fs.writeFileSync(path.join(base, d, 'LOCK'), JSON.stringify({ pid: deadPid(), startTime: null, token: `t-${d}`, host: 'x' }));
  }
  t.equal(sweepStaleSlots(base, table, new Set()), true, 'the owing log must be adopted');
  const v = table.read();
  t.equal(v[empty], 0, 'the slot of the dead, empty log is cleared');
  t.equal(v[owing], 456, 'the slot of the dead, owing log is kept: the host keeps waiting for it');
  t.notOk(fs.existsSync(path.join(base, 'gone-empty', 'LOCK')), 'the sweep released the lock it took');
});

t.test('a live holder is never swept, whatever it publishes', async (t) => {
  const base = tmpDir('order-live');
  const table = HostTable.open(base);
  const log = open(path.join(base, 'live'));
  const k = table.slotOf('live');
  table.write(k, 789);
  // a lock of this very process counts as live (another thread may hold it)
  t.equal(sweepStaleSlots(base, table, new Set()), false);
  t.equal(table.read()[k], 789);
  log.close();
});

t.test('an append is owed before it is stored, and stays owed until replayed', async (t) => {
  const base = tmpDir('order-heads');
  const table = HostTable.open(base);
  const heads = new OrderHeads(table, 'own');
  heads.track('own', false);
  t.notOk(table.spilling(), 'nothing owed at first');
  const s = heads.beginAppend();
  t.ok(table.spilling(), 'owed from the moment the batch is stamped, before the append returns');
  t.equal(table.read()[heads.slot('own')], orderKey(s));
  heads.endAppend(s, true);
  t.equal(table.read()[heads.slot('own')], orderKey(s), 'stored: the log owes it');
  const failed = heads.beginAppend();
  heads.endAppend(failed, false);
  t.equal(table.read()[heads.slot('own')], orderKey(s), 'a failed append is not owed, the stored one still is');
  heads.setFloor('own', 0);
  t.notOk(table.spilling(), 'replayed: nothing owed');
});

t.test('a pinned first copy keeps the host spilling and bounds the own log', async (t) => {
  const base = tmpDir('order-pin');
  const table = HostTable.open(base);
  const heads = new OrderHeads(table, 'own');
  heads.track('own', false);
  const s = heads.beginAppend();
  heads.pin(s);
  heads.endAppend(s, true);
  heads.setFloor('own', 0); // the spilled copy replayed ...
  t.ok(table.spilling(), '... but its first copy is still in flight: the host keeps spilling');
  t.equal(heads.pinned('own'), orderKey(s));
  heads.unpin(s);
  t.notOk(table.spilling(), 'first copy settled: nothing owed');
});

t.test('two processes: slots are distinct, stamps follow answers', async (t) => {
  const base = tmpDir('order-procs');
  const table = HostTable.open(base);
  const mine = table.slotOf('a');
  const script = `import('${path.resolve('dist/src/replay/host-table.js')}').then((m) => { const t = m.HostTable.open(${JSON.stringify(base)}); const k = t.slotOf('b'); const s = m.stampNow(); process.stdout.write(JSON.stringify({ k, again: t.slotOf('b'), key: m.orderKey(s) })); })`;
  const before1 = orderKey(stampNow());
  const r = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });
  const child = JSON.parse(r.stdout) as { k: number; again: number; key: number };
  const after = orderKey(stampNow());
  t.not(child.k, mine, 'another directory gets another slot');
  t.equal(child.again, child.k, 'a directory keeps its slot');
  t.equal(table.slotOf('b'), child.k, 'and every process agrees on it');
  t.ok(before1 < child.key && child.key < after, 'a stamp taken in another process orders with ours (one host clock)');
  t.ok(before(5, 1, 5, 2) && !before(5, 2, 5, 1) && before(4, 9, 5, 0), 'ties go to the lower slot');
  t.ok(orderKey(undefined) < orderKey({ boot: 'another boot', mono: 1e12 }), 'unstamped batches sort first');
  t.ok(orderKey({ boot: 'another boot', mono: 1e15 }) < orderKey(stampNow()), 'an earlier boot sorts before this one');
  t.equal(table.read().length, SLOTS);
});

t.test('stamps of two earlier boots: ordered by when each boot ran, not by their monotonic clocks', async (t) => {
  const now = stampNow();
  t.ok(now.bootAt !== undefined && now.bootAt > 1.5e15, `this boot's start is known (${now.bootAt} µs)`);
  // Boot A ran long (its monotonic clock reached 5 days) and ended; boot B came after it and spilled early on.
  const day = 86_400e6;
  const a = { boot: 'boot-a', mono: 5 * day, bootAt: 1.7e15 };
  const b = { boot: 'boot-b', mono: 60e6, bootAt: 1.7e15 + 6 * day };
  t.ok(orderKey(a) < orderKey(b), "A's late batch before B's early one: A ran first");
  t.ok(orderKey({ ...a, mono: a.mono - 1 }) < orderKey(a), 'within a boot, its own order');
  t.ok(orderKey(b) < orderKey(now), 'every earlier boot before the current one');
  t.ok(orderKey({ boot: 'boot-old', mono: 3 * day }) < orderKey(a), 'a stamp without its boot start (older) before those with one');
  t.ok(orderKey(undefined) < orderKey({ boot: 'boot-old', mono: 2 }), 'no stamp at all: first');
});

t.test('the boot start travels with a spilled batch', async (t) => {
  const stamp = { boot: 'boot-a', mono: 123, bootAt: 1.7e15 };
  const records = new PackedBuilder();
  records.add('{}', 'k', ['t'], 'id', 0);
  const back = decodeSpilledBatch(encodeSpilledBatch({ topic: 'x', timestamp: 1, headerNames: ['tenant_id'], records: records.build(), stamp }));
  t.same(back.stamp, stamp);
});
