/**
 * Failure path 3: a crash anywhere inside ack() — before the checkpoint rename, between
 * it and the segment deletes, between two deletes — and the reverse order (segments
 * deleted but progress not persisted, as if by a buggy or foreign cleaner).
 * Worst case allowed: redelivery. Never loss, never a resurrected acked record
 * once its ack was durable.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import type { SpillFaultPoint, SpillLog } from '../../src/spill/index.js';
import { open, readAll, segFiles, tmpDir } from './helpers.js';

const SEG = 300;
const N = 40;

/** A log of N records whose next operation reaching `crashAt` "crashes" (throws). */
function filled(tag: string, crashAt: SpillFaultPoint | null): { dir: string; log: SpillLog; arm: () => void } {
  const dir = tmpDir(tag);
  let armed = false;
  const log = open(dir, {
    segmentBytes: SEG,
    faultHook: (p) => {
      if (armed && p === crashAt) throw new Error(`injected crash at ${p}`);
    },
  });
  for (let i = 1; i <= N; i++) log.append([Buffer.from(`rec-${i}-${'x'.repeat(40)}`)]);
  return { dir, log, arm: () => (armed = true) };
}

function seqs(log: SpillLog): number[] {
  return readAll(log).map((r) => r.seq);
}

const range = (a: number, b: number): number[] => Array.from({ length: b - a + 1 }, (_, i) => a + i);

t.test('crash before the checkpoint rename: old progress, full redelivery', async (t) => {
  const { dir, log, arm } = filled('ack-tmp', 'ack:checkpoint-tmp');
  log.ack(10);
  arm();
  t.throws(() => log.ack(25), /injected/);
  const segsBefore = segFiles(dir).length;
  log._abandon();
  const again = open(dir, { segmentBytes: SEG });
  t.equal(again.stats().ackedSeq, 10);
  t.same(seqs(again), range(11, N), '11..25 are redelivered, nothing lost');
  t.notOk(fs.existsSync(path.join(dir, 'checkpoint.tmp')), 'stray tmp removed');
  t.equal(segFiles(dir).length, segsBefore);
  again.close();
});

for (const point of ['ack:checkpointed', 'ack:segment-deleted'] as const) {
  t.test(`crash at ${point}: progress is durable, leftover segments are deleted on open`, async (t) => {
    const { dir, log, arm } = filled(point.replace(':', '-'), point);
    arm();
    const segsBefore = segFiles(dir).length;
    t.throws(() => log.ack(30), /injected/);
    t.ok(segFiles(dir).length >= segsBefore - 1, 'crashed with acked segments still on disk');
    log._abandon();
    const again = open(dir, { segmentBytes: SEG });
    t.equal(again.stats().ackedSeq, 30);
    t.same(seqs(again), range(31, N), 'no acked record comes back, no unacked one is missing');
    t.ok(again.recovery.deletedAckedSegments >= 1, 'the interrupted delete was finished');
    t.same(again.recovery.lostRanges, []);
    t.equal(again.stats().records, N - 30);
    again.close();
  });
}

t.test('reverse order (segments deleted, progress NOT persisted): surviving records all read', async (t) => {
  const { dir, log } = filled('reverse', null);
  log.ack(3);
  log.close();
  const files = segFiles(dir);
  const doomed = files.slice(0, 2);
  const firstKept = Number(path.basename(files[2]!).slice(0, 16));
  for (const f of doomed) fs.rmSync(f); // the "delete" happened, the checkpoint still says 3
  const again = open(dir, { segmentBytes: SEG });
  t.equal(again.stats().ackedSeq, 3, 'progress is what was persisted');
  t.same(seqs(again), range(firstKept, N), 'every record still on disk is delivered');
  t.same(again.recovery.lostRanges, [{ from: 4, to: firstKept - 1 }], 'the hole is reported, not hidden');
  again.ack(N);
  again.close();
  const third = open(dir);
  t.equal(third.stats().records, 0);
  third.close();
});

t.test('crash after write, before fsync returns: earlier records intact, batch all-or-prefix', async (t) => {
  const { dir, log, arm } = filled('append-crash', 'append:written');
  arm();
  t.throws(() => log.append([Buffer.from('a'), Buffer.from('b')]), /injected/);
  log._abandon();
  const again = open(dir, { segmentBytes: SEG });
  const got = seqs(again);
  t.same(got.slice(0, N), range(1, N));
  t.ok(got.length === N || got.length === N + 2, 'the unacknowledged batch is there whole or not at all here');
  again.close();
});

t.test('a failed write is cut back and the instance refuses more work', async (t) => {
  const dir = tmpDir('io');
  const log = open(dir);
  log.append([Buffer.from('kept')]);
  const active = segFiles(dir)[0]!;
  const size = fs.statSync(active).size;
  // Close the descriptor behind the log's back: the next write fails with EBADF.
  const fds = fs.readdirSync('/proc/self/fd').map(Number);
  const target = fds.find((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`) === active;
    } catch {
      return false;
    }
  });
  t.ok(target !== undefined, 'found the segment fd');
  fs.closeSync(target!);
  t.throws(() => log.append([Buffer.from('lost')]), { code: 'COLLECTOR_ERR_SPILL_IO' });
  t.throws(() => log.read(0, 1), { code: 'COLLECTOR_ERR_SPILL_IO' }, 'poisoned until reopened');
  t.equal(fs.statSync(active).size, size);
  log.close();
  const again = open(dir);
  t.same(readAll(again).map((r) => r.payload.toString()), ['kept']);
  again.close();
});
