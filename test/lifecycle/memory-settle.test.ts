/**
 * Settling memory after work: once, after the process has been idle MEMORY_SETTLE_IDLE_MS following
 * activity; never while batches keep coming, never again and again while idle.
 */
import t from 'tap';
import { recycleWorkers, startMemorySettle } from '../../src/lifecycle/memory-settle.js';

function harness(idleMs: number) {
  let clock = 0;
  let activity = 0;
  const calls = { workers: 0, trims: 0 };
  const stop = startMemorySettle({
    idleMs,
    activity: () => activity,
    settleWorkers: async () => { calls.workers++; return 1; },
    trim: () => { calls.trims++; },
    now: () => clock,
  });
  // The watch runs on a real interval (idleMs / 4, at least 100 ms); the clock it judges by is ours.
  const tick = async (ms: number) => { clock += ms; await new Promise((r) => setTimeout(r, 130)); };
  return { calls, stop, tick, work: () => activity++ };
}

t.test('idle after work: settled once, and not again until there was work again', async (t) => {
  const h = harness(400);
  t.teardown(h.stop);
  await h.tick(1000);
  t.same(h.calls, { workers: 0, trims: 0 }, 'a process that never worked is left alone');
  h.work();
  await h.tick(100); // the watch sees the work
  await h.tick(200);
  t.same(h.calls, { workers: 0, trims: 0 }, 'not before idleMs has passed');
  await h.tick(300);
  await h.tick(10);
  t.same(h.calls, { workers: 1, trims: 1 }, 'settled once idle long enough');
  await h.tick(1000);
  await h.tick(1000);
  t.same(h.calls, { workers: 1, trims: 1 }, 'idle on: not settled again');
  h.work();
  await h.tick(100);
  await h.tick(500);
  await h.tick(10);
  t.same(h.calls, { workers: 2, trims: 2 }, 'work again, idle again: settled again');
});

t.test('busy: never settled while batches keep coming', async (t) => {
  const h = harness(400);
  t.teardown(h.stop);
  for (let i = 0; i < 8; i++) {
    h.work();
    await h.tick(300);
  }
  t.same(h.calls, { workers: 0, trims: 0 });
});

t.test('0 means never', async (t) => {
  let asked = 0;
  const stop = startMemorySettle({ idleMs: 0, activity: () => asked++, settleWorkers: async () => 0, trim: () => {} });
  await new Promise((r) => setTimeout(r, 150));
  stop();
  t.equal(asked, 0, 'no watch was started');
});

/** A pool whose first recycle task goes to a worker that also takes the second, and whose replacements start late. */
function fakePool(workers: number) {
  let next = 1;
  const threads: { threadId: number }[] = Array.from({ length: workers }, () => ({ threadId: next++ }));
  let calls = 0;
  return {
    threads,
    get calls() { return calls; },
    run(_task: { recycle: true }): Promise<unknown> {
      calls++;
      // Every task of a round lands on the first worker: it exits once, the others stay.
      const victim = threads[0];
      return new Promise((_resolve, reject) => setTimeout(() => {
        const i = threads.indexOf(victim!);
        if (i >= 0) {
          threads.splice(i, 1);
          setTimeout(() => threads.push({ threadId: next++ }), 30); // the replacement comes after the failure
        }
        reject(new Error('worker exited'));
      }, 1));
    },
  };
}

t.test('recycleWorkers: every old worker is replaced even when Piscina gives one worker two tasks', async (t) => {
  const pool = fakePool(3);
  const replaced = await recycleWorkers(pool, 3);
  t.equal(replaced, 3, 'all three old workers replaced');
  t.equal(pool.threads.length, 3, 'the pool is back to its size');
  t.ok(pool.threads.every((w) => w.threadId > 3), 'none of the old workers is left');
});

t.test('recycleWorkers: a worker that never takes the task is not counted, and the bound holds', async (t) => {
  const pool = { threads: [{ threadId: 1 }, { threadId: 2 }], run: () => Promise.reject(new Error('queue full')) };
  const t0 = performance.now();
  t.equal(await recycleWorkers(pool, 2, 100), 0, 'nothing replaced');
  t.ok(performance.now() - t0 < 1_000, 'gave up at the bound');
});
