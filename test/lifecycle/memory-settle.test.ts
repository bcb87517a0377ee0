/**
 * Settling memory after work: once, after the process has been idle MEMORY_SETTLE_IDLE_MS following
 * activity; never while batches keep coming, never again and again while idle.
 */
import t from 'tap';
import { startMemorySettle } from '../../src/lifecycle/memory-settle.js';

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
