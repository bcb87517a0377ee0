import t from 'tap';
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { DedupTable } from '../../src/dedup/table.js';
import { tmpTablePath, uuidAt, workerPath } from './helpers.js';

interface Result {
  won: Uint8Array;
  lockContended: number;
}

interface Job {
  run: string;
  count: number;
  batch: number;
  capacity: number;
  reverse?: boolean;
  binary?: boolean;
}

/** Fork one claimer per job on one table, start them at the same instant, collect what each won. */
async function race(path: string, jobs: Job[]): Promise<Result[]> {
  const children: ChildProcess[] = jobs.map(() =>
    fork(workerPath, ['--dedup-claimer'], {
      execArgv: [], // not tap's loaders: plain node starts in a fraction of the time
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    }),
  );
  const results = children.map(
    (c) =>
      new Promise<Result>((resolve, reject) => {
        c.on('message', (m: unknown) => {
          if (m && typeof m === 'object' && 'won' in m) {
            const r = m as { won: string; lockContended: number };
            resolve({ won: new Uint8Array(Buffer.from(r.won, 'base64')), lockContended: r.lockContended });
          }
        });
        c.once('exit', (code) => reject(new Error(`claimer exited ${code} before answering`)));
      }),
  );
  // every child opens (creating or attaching to the table) before any claims
  await Promise.all(
    children.map((c, i) => {
      const ready = once(c, 'message');
      c.send({ path, ...jobs[i] });
      return ready;
    }),
  );
  const startAt = Date.now() + 150;
  for (const c of children) c.send({ startAt });
  return Promise.all(results);
}

/** Ids won by neither or both, and how many each won. */
function tally(a: Result, b: Result, count: number): { bad: number; aWins: number; bWins: number } {
  let bad = 0;
  let aWins = 0;
  let bWins = 0;
  for (let i = 0; i < count; i++) {
    const x = a.won[i]!;
    const y = b.won[i]!;
    if (x + y !== 1) bad++;
    aWins += x;
    bWins += y;
  }
  return { bad, aWins, bWins };
}

t.test('two processes claiming the same 100k ids: each id is won exactly once', async (t) => {
  const { path, cleanup } = tmpTablePath('race');
  t.teardown(cleanup);
  const count = 100_000;
  const capacity = 1 << 19;
  DedupTable.open({ path, capacity }).close();

  const variants: { name: string; a: Partial<Job>; b: Partial<Job> }[] = [
    { name: 'same order, string ids', a: { batch: 32 }, b: { batch: 32 } },
    { name: 'same order, binary keys in one', a: { batch: 100 }, b: { batch: 64, binary: true } },
    { name: 'opposite orders', a: { batch: 100 }, b: { batch: 100, reverse: true } },
  ];
  let overlapped = 0;
  for (const [v, variant] of variants.entries()) {
    const run = `0000a${v}${v}${v}`;
    const common = { run, count, capacity, batch: 100 };
    const [a, b] = await race(path, [
      { ...common, ...variant.a },
      { ...common, ...variant.b },
    ]);
    const { bad, aWins, bWins } = tally(a!, b!, count);
    t.equal(bad, 0, `${variant.name}: no id won twice, none lost`);
    t.equal(aWins + bWins, count);
    if (aWins > 0 && bWins > 0) overlapped++;
    t.comment(
      `${variant.name}: A won ${aWins}, B won ${bWins}; bucket-lock waits ${a!.lockContended} + ${b!.lockContended}`,
    );
    // the table agrees: every id is now a duplicate
    const check = DedupTable.open({ path, capacity });
    const r = check.claimBatch(Array.from({ length: count }, (_, i) => uuidAt(run, i)));
    t.equal(
      r.reduce((n, x) => n + x, 0),
      0,
      `${variant.name}: every id is recorded`,
    );
    check.close();
  }
  // Both processes winning some ids shows that they did run at the same time; on a loaded
  // 2-core machine one may occasionally finish before the other is scheduled.
  t.comment(`runs in which both processes won ids: ${overlapped}/${variants.length}`);
});

t.test('two processes racing to create the file end up on one table', async (t) => {
  for (let round = 0; round < 3; round++) {
    const { path, cleanup } = tmpTablePath(`create${round}`);
    t.teardown(cleanup);
    const count = 20_000;
    const job = { run: '0000c0de', count, batch: 50, capacity: 1 << 16 };
    const [a, b] = await race(path, [job, job]);
    t.equal(tally(a!, b!, count).bad, 0, `round ${round}: exactly one winner per id`);
  }
});

t.test('a process killed -9 in the middle of claiming blocks nobody', async (t) => {
  const { path, cleanup } = tmpTablePath('kill9');
  t.teardown(cleanup);
  const capacity = 256; // 8 buckets: the victim is nearly always inside one
  DedupTable.open({ path, capacity }).close();
  let steals = 0;
  for (let round = 0; round < 8; round++) {
    const child = fork(workerPath, ['--dedup-claimer'], {
      execArgv: [],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    const ready = once(child, 'message');
    child.send({ path, capacity, run: '0000dead', count: 0, batch: 1, forever: true });
    await ready;
    await new Promise((r) => setTimeout(r, 30 + round * 20));
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
    const table = DedupTable.open({ path, capacity });
    const ids = Array.from({ length: 200 }, (_, i) => uuidAt(`0000e0${round}0`, i));
    const t0 = Date.now();
    const r = table.claimBatch(ids); // touches every bucket; would hang on a lock left behind
    t.ok(Date.now() - t0 < 30_000, `round ${round}: claims went through`); // a lock left behind would hang, not slow
    t.equal(r.length, 200);
    table.release(ids, r);
    steals += table.stats().lockSteals;
    table.close();
  }
  t.comment(`locks taken over from the killed process: ${steals} in 8 rounds`);
});
