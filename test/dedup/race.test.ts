import t from 'tap';
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { DedupTable } from '../../src/dedup/table.js';
import { tmpTablePath, uuidAt, workerPath } from './helpers.js';

interface Result {
  won: Uint8Array;
  lockContended: number;
}

/** Fork `n` claimers on one table, release them together, collect what each won. */
async function race(
  path: string,
  jobs: { run: string; count: number; batch: number; capacity: number; reverse?: boolean; binary?: boolean }[],
): Promise<Result[]> {
  const children: ChildProcess[] = jobs.map(() => fork(workerPath, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
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
  // every child opens (attaching to one table) before any claims
  await Promise.all(
    children.map((c, i) => {
      const ready = once(c, 'message');
      c.send({ path, ...jobs[i] });
      return ready;
    }),
  );
  for (const c of children) c.send('go');
  return Promise.all(results);
}

t.test('two processes claiming the same 100k ids: each id is won exactly once', async (t) => {
  const { path, cleanup } = tmpTablePath('race');
  t.teardown(cleanup);
  const count = 100_000;
  const capacity = 1 << 19;
  // warm the file so both children attach to it rather than racing to create it
  DedupTable.open({ path, capacity }).close();

  for (const variant of [
    { name: 'same order, string ids', a: {}, b: {} },
    { name: 'opposite orders, binary keys in one', a: {}, b: { reverse: true, binary: true } },
  ]) {
    const run = variant.name.startsWith('same') ? '00000a11' : '00000b22';
    const common = { run, count, capacity };
    const [a, b] = await race(path, [
      { ...common, batch: 100, ...variant.a },
      { ...common, batch: 64, ...variant.b },
    ]);
    let bad = 0;
    let aWins = 0;
    for (let i = 0; i < count; i++) {
      const sum = a!.won[i]! + b!.won[i]!;
      if (sum !== 1) bad++;
      aWins += a!.won[i]!;
    }
    t.equal(bad, 0, `${variant.name}: no id won twice or never`);
    t.comment(`${variant.name}: A won ${aWins}, B won ${count - aWins}, lock contention ${a!.lockContended}+${b!.lockContended}`);
    // the table agrees: every id is now a duplicate
    const check = DedupTable.open({ path, capacity });
    const ids = Array.from({ length: count }, (_, i) => uuidAt(run, i));
    const r = check.claimBatch(ids);
    t.equal(r.reduce((n, x) => n + x, 0), 0, `${variant.name}: every id is recorded`);
    check.close();
  }
});

t.test('two processes racing to create the file end up on one table', async (t) => {
  for (let round = 0; round < 5; round++) {
    const { path, cleanup } = tmpTablePath(`create${round}`);
    t.teardown(cleanup);
    const count = 2000;
    const [a, b] = await race(path, [
      { run: '0000c0de', count, batch: 50, capacity: 4096 },
      { run: '0000c0de', count, batch: 50, capacity: 4096 },
    ]);
    let bad = 0;
    for (let i = 0; i < count; i++) if (a!.won[i]! + b!.won[i]! !== 1) bad++;
    t.equal(bad, 0, `round ${round}: exactly one winner per id`);
  }
});
