/**
 * Model-based randomized test. A trivial in-memory model (the list of owed records)
 * runs beside the real log through thousands of seeded random operations, including
 * crashes at every fault point. Invariant after every step and every reopen:
 *   - read() returns exactly the owed records, in order, byte-exact, each once;
 *   - an acked record never comes back, unless the crash hit its ack before the
 *     checkpoint was durable (then the log must be at the old OR the new ack point);
 *   - a crashed append shows up whole, as a prefix, or not at all, never garbled.
 * Reproduce a failure with SPILL_SEED=<seed> (and SPILL_OPS=<n>).
 */
import * as fs from 'node:fs';
import t from 'tap';
import { isSpillError, type SpillFaultPoint, type SpillLog } from '../../src/spill/index.js';
import { int, open, payload, prng, readAll, segFiles, tmpDir } from './helpers.js';

interface Rec {
  seq: number;
  payload: Buffer;
  events: number;
}

const SEEDS = process.env.SPILL_SEED ? [Number(process.env.SPILL_SEED)] : [1, 2, 3, 20240611];
const OPS = Number(process.env.SPILL_OPS ?? 2500);
const ACK_POINTS: SpillFaultPoint[] = ['ack:checkpoint-tmp', 'ack:checkpointed', 'ack:segment-deleted'];

function run(seed: number, ops: number, fsync: boolean): { counts: Record<string, number>; problems: string[] } {
  const rand = prng(seed);
  const dir = tmpDir(`model-${seed}`);
  let armed: SpillFaultPoint | null = null;
  const opts = {
    segmentBytes: int(rand, 300, 3000),
    maxBytes: int(rand, 6_000, 30_000),
    compress: rand() < 0.8,
    fsync,
    faultHook: (p: SpillFaultPoint) => {
      if (p === armed) {
        armed = null;
        throw new Error(`crash@${p}`);
      }
    },
  };
  let log: SpillLog = open(dir, opts);
  let owed: Rec[] = [];
  let nextSeq = 1;
  const counts: Record<string, number> = {};
  const problems: string[] = [];
  const bump = (k: string): void => {
    counts[k] = (counts[k] ?? 0) + 1;
  };
  const fail = (msg: string): void => void problems.push(`seed ${seed}: ${msg}`);

  const check = (where: string): void => {
    const s = log.stats();
    const events = owed.reduce((a, r) => a + r.events, 0);
    if (s.records !== owed.length || s.events !== events || s.nextSeq !== nextSeq) {
      fail(`${where}: stats ${JSON.stringify(s)} vs model records=${owed.length} events=${events} next=${nextSeq}`);
    }
  };
  const checkAll = (where: string): void => {
    const got = readAll(log, int(rand, 1, 50));
    if (got.length !== owed.length || got.some((g, i) => !same(g, owed[i]!))) {
      fail(`${where}: read ${got.map((g) => g.seq).join(',')} but owed ${owed.map((r) => r.seq).join(',')}`);
    }
    check(where);
  };
  const reopen = (where: string): void => {
    log = open(dir, opts);
    const r = log.recovery;
    if (r.quarantined.length || r.lostRanges.length) fail(`${where}: unexpected damage ${JSON.stringify(r)}`);
  };

  for (let op = 0; op < ops && problems.length === 0; op++) {
    const x = rand();
    if (x < 0.4) {
      const batch: Rec[] = Array.from({ length: int(rand, 1, 6) }, (_, k) => ({
        seq: nextSeq + k,
        payload: payload(`s${nextSeq + k}`, rand),
        events: int(rand, 0, 100),
      }));
      const stats = JSON.stringify(log.stats());
      try {
        const r = log.append(batch.map((b) => b.payload), batch.map((b) => b.events));
        if (r.firstSeq !== nextSeq || r.lastSeq !== nextSeq + batch.length - 1) fail(`append returned ${JSON.stringify(r)}`);
        owed.push(...batch);
        nextSeq += batch.length;
        bump('append');
      } catch (err) {
        if (!isSpillError(err, 'COLLECTOR_ERR_SPILL_FULL')) throw err;
        if (JSON.stringify(log.stats()) !== stats) fail('FULL changed state');
        bump('full');
      }
    } else if (x < 0.65) {
      const cands = [0, owed[0]?.seq ?? 1, owed[int(rand, 0, owed.length)]?.seq ?? nextSeq, nextSeq + 1];
      const from = cands[int(rand, 0, cands.length - 1)]!;
      const maxRecords = int(rand, 1, 12);
      const maxBytes = rand() < 0.5 ? Infinity : int(rand, 1, 3000);
      const got = log.read(from, maxRecords, maxBytes);
      const want: Rec[] = [];
      let bytes = 0;
      for (const r of owed) {
        if (r.seq < from) continue;
        if (want.length >= maxRecords || (want.length > 0 && bytes + r.payload.length > maxBytes)) break;
        want.push(r);
        bytes += r.payload.length;
      }
      if (got.length !== want.length || got.some((g, i) => !same(g, want[i]!))) {
        fail(`read(${from},${maxRecords},${maxBytes}) = ${got.map((g) => g.seq)} want ${want.map((w) => w.seq)}`);
      }
      bump('read');
    } else if (x < 0.8) {
      if (owed.length === 0) continue;
      const upto = owed[int(rand, 0, owed.length - 1)]!.seq;
      log.ack(upto);
      owed = owed.filter((r) => r.seq > upto);
      bump('ack');
    } else if (x < 0.86) {
      log._abandon();
      reopen('crash');
      checkAll('after crash');
      bump('crash');
    } else if (x < 0.9) {
      log.close();
      reopen('reopen');
      checkAll('after reopen');
      bump('reopen');
    } else if (x < 0.95) {
      // Crash inside ack at a random fault point: old or new progress, nothing else.
      if (owed.length === 0) continue;
      const upto = owed[int(rand, 0, owed.length - 1)]!.seq;
      const old = log.stats().ackedSeq;
      armed = ACK_POINTS[int(rand, 0, ACK_POINTS.length - 1)]!;
      try {
        log.ack(upto);
      } catch {
        bump('crash-in-ack');
      }
      armed = null;
      log._abandon();
      reopen('crash-in-ack');
      const now = log.stats().ackedSeq;
      if (now !== old && now !== upto) fail(`ackedSeq after crash-in-ack is ${now}, want ${old} or ${upto}`);
      owed = owed.filter((r) => r.seq > now);
      checkAll('after crash-in-ack');
    } else {
      // Crash between write(2) and fsync, with only part of the batch reaching disk.
      const batch: Rec[] = Array.from({ length: int(rand, 1, 4) }, (_, k) => ({
        seq: nextSeq + k,
        payload: payload(`c${nextSeq + k}`, rand),
        events: int(rand, 1, 9),
      }));
      const lastBefore = segFiles(dir).pop();
      const sizeBefore = lastBefore ? fs.statSync(lastBefore).size : 0;
      armed = 'append:written';
      try {
        log.append(batch.map((b) => b.payload), batch.map((b) => b.events));
        fail('armed append returned');
      } catch (err) {
        if (isSpillError(err, 'COLLECTOR_ERR_SPILL_FULL')) {
          armed = null;
          bump('full');
          continue;
        }
      }
      armed = null;
      log._abandon();
      const file = segFiles(dir).pop()!;
      const from = file === lastBefore ? sizeBefore : 0;
      const size = fs.statSync(file).size;
      fs.truncateSync(file, int(rand, from, size)); // the part of the write that "landed"
      reopen('crash-in-append');
      const got = readAll(log);
      const extra = got.slice(owed.length);
      const okPrefix = extra.length <= batch.length && extra.every((g, i) => same(g, batch[i]!));
      if (!got.slice(0, owed.length).every((g, i) => same(g, owed[i]!)) || !okPrefix) {
        fail(`crash-in-append: read ${got.map((g) => g.seq)} owed ${owed.map((r) => r.seq)} batch ${batch.map((b) => b.seq)}`);
      }
      owed.push(...batch.slice(0, extra.length));
      nextSeq += extra.length;
      check('after crash-in-append');
      bump(`crash-in-append-kept-${extra.length === batch.length ? 'all' : extra.length ? 'prefix' : 'none'}`);
    }
    if (op % 50 === 0) check(`op ${op}`);
  }
  log.close();
  fs.rmSync(dir, { recursive: true, force: true });
  return { counts, problems };
}

function same(g: { seq: number; payload: Buffer; events: number }, r: Rec): boolean {
  return g.seq === r.seq && g.events === r.events && g.payload.equals(r.payload);
}

for (const seed of SEEDS) {
  t.test(`model: seed ${seed}, ${OPS} ops, fsync off`, async (t) => {
    const { counts, problems } = run(seed, OPS, false);
    t.same(problems, [], JSON.stringify(counts));
    for (const k of ['append', 'read', 'ack', 'crash', 'reopen', 'crash-in-ack', 'full']) t.ok((counts[k] ?? 0) > 0, `exercised ${k}`);
  });
}

t.test('model: a short run with real fsync', async (t) => {
  const { counts, problems } = run(99, 300, true);
  t.same(problems, [], JSON.stringify(counts));
});
