/** Failure path 6: exclusive ownership, stale-lock takeover, orphan discovery. */
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { adoptOrphans, SpillLog } from '../../src/spill/index.js';
import { open, readAll, tmpDir } from './helpers.js';

function deadPid(): number {
  const r = spawnSync(process.execPath, ['-e', '0']);
  return r.pid!;
}

function procStart(pid: number): string {
  const s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  return s.slice(s.lastIndexOf(')') + 2).split(' ')[19]!;
}

function writeLock(dir: string, pid: number, startTime: string | null): void {
  fs.mkdirSync(dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'LOCK'), JSON.stringify({ pid, startTime, token: `t-${pid}`, host: 'x' }));
}

t.test('a second open of a held directory throws LOCKED; close releases it', async (t) => {
  const dir = tmpDir('lock');
  const a = open(dir);
  t.throws(() => open(dir), { code: 'COLLECTOR_ERR_SPILL_LOCKED' });
  t.ok(fs.existsSync(path.join(dir, 'LOCK')), 'the failed open left the lock alone');
  a.append([Buffer.from('x')]);
  a.close();
  t.notOk(fs.existsSync(path.join(dir, 'LOCK')));
  const b = open(dir);
  t.equal(readAll(b).length, 1);
  b.close();
});

t.test("a dead pid's lock is taken over", async (t) => {
  const dir = tmpDir('lock-dead');
  writeLock(dir, deadPid(), null);
  const log = open(dir);
  t.match(fs.readFileSync(path.join(dir, 'LOCK'), 'utf8'), `"pid":${process.pid}`);
  log.close();
});

t.test('a reused pid (alive, different start time) is stale', async (_t) => {
  const dir = tmpDir('lock-reuse');
  writeLock(dir, 1, '1'); // pid 1 is alive but was not started at tick 1
  const log = open(dir);
  log.close();
});

t.test('a corrupt lock file is taken over', async (_t) => {
  const dir = tmpDir('lock-corrupt');
  fs.writeFileSync(path.join(dir, 'LOCK'), '{"pid":');
  open(dir).close();
});

t.test('a live foreign owner keeps the lock', async (t) => {
  const dir = tmpDir('lock-live');
  const child = spawn(process.execPath, ['-e', 'setTimeout(()=>{}, 30000)'], { stdio: 'ignore' });
  await new Promise((r) => setTimeout(r, 100));
  writeLock(dir, child.pid!, procStart(child.pid!));
  t.throws(() => open(dir), { code: 'COLLECTOR_ERR_SPILL_LOCKED' });
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGKILL');
  await exited;
  const log = open(dir);
  t.pass('taken over once the owner died');
  log.close();
});

t.test('same-process lock: abandoned (crash seam) or stealOwnProcess takes over', async (t) => {
  const dir = tmpDir('lock-self');
  const a = open(dir);
  a._abandon();
  const b = open(dir);
  t.throws(() => open(dir), { code: 'COLLECTOR_ERR_SPILL_LOCKED' });
  const c = open(dir, { stealOwnProcess: true });
  t.pass('a respawned owner thread may steal the lock of a dead one');
  b.close();
  t.throws(() => open(dir), { code: 'COLLECTOR_ERR_SPILL_LOCKED' }, "closing the robbed instance does not release the thief's lock");
  c.close();
  open(dir).close();
});

t.test('adoptOrphans lists dead instances that still owe records, and nothing else', async (t) => {
  const base = tmpDir('orphans');
  const mk = (name: string, records: number, ack: number): string => {
    const dir = path.join(base, name);
    const log = SpillLog.open({ dir, maxBytes: 1 << 20, fsync: false, segmentBytes: 200 });
    for (let i = 0; i < records; i++) log.append([Buffer.from(`${name}-${i}-${'z'.repeat(30)}`)]);
    if (ack > 0) log.ack(ack);
    log.close();
    return dir;
  };
  mk('own', 3, 0);
  const owes = mk('dead-owes', 10, 4);
  mk('dead-drained', 10, 10);
  const partial = mk('dead-partial-last', 10, 9); // only the last segment's tail is owed
  mk('never-used', 0, 0);
  writeLock(owes, deadPid(), null);
  const live = mk('live', 5, 0);
  const liveLog = SpillLog.open({ dir: live, maxBytes: 1 << 20, fsync: false });
  fs.writeFileSync(path.join(base, 'a-file'), 'not a dir');
  t.same(adoptOrphans(base, 'own'), [owes, partial].sort());
  liveLog.close();
  t.same(adoptOrphans(base, 'own'), [owes, partial, live].sort(), 'a closed instance with records is adoptable');
  t.same(adoptOrphans(path.join(base, 'missing'), 'own'), []);
  const adopted = SpillLog.open({ dir: owes, maxBytes: 1 << 20, fsync: false });
  t.equal(adopted.stats().records, 6);
  adopted.close();
});
