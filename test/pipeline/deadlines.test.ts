import t from 'tap';
import { DeadlineQueue } from '../../src/pipeline/deadlines.js';

/** A queue on a hand-moved clock; `run()` does what its timer would when the clock passes the head. */
function make(lengthMs = 100) {
  let clock = 0;
  const fired: string[] = [];
  const q = new DeadlineQueue<{ name: string }>(lengthMs, (it) => fired.push(it.name), () => clock);
  return {
    q, fired,
    advance: (ms: number) => (clock += ms),
    // the private expire, as its timer calls it
    run: () => (q as unknown as { expire(): void }).expire(),
  };
}

t.test('refuses a negative or NaN length', async (t) => {
  t.throws(() => new DeadlineQueue(-1, () => {}), RangeError);
  t.throws(() => new DeadlineQueue(Number.NaN, () => {}), RangeError);
});

t.test('a handler that throws does not strand the deadlines behind it', async (t) => {
  let clock = 0;
  const seen: string[] = [];
  const q = new DeadlineQueue<{ name: string }>(10, (it) => {
    seen.push(it.name);
    if (it.name === 'a') throw new Error('boom');
  }, () => clock);
  q.arm({ name: 'a' });
  q.arm({ name: 'b' });
  clock = 20;
  const expire = () => (q as unknown as { expire(): void }).expire();
  t.throws(expire, /boom/);
  expire();
  t.same(seen, ['a', 'b']);
  t.equal(q.size, 0);
  q.clear();
});

t.test('cancelled, unknown and stale tickets are ignored; a cancelled deadline never fires', async (t) => {
  const { q, fired, advance, run } = make();
  const a = q.arm({ name: 'a' });
  const b = q.arm({ name: 'b' });
  q.cancel(0);
  q.cancel(a);
  q.cancel(a);
  q.cancel(b + 100);
  advance(150);
  run();
  t.same(fired, ['b']);
  q.cancel(b); // already expired
  t.equal(q.size, 0);
});

t.test('expires in order, only what is due', async (t) => {
  const { q, fired, advance, run } = make();
  q.arm({ name: 'a' });
  advance(50);
  q.arm({ name: 'b' });
  advance(60);
  run();
  t.same(fired, ['a']);
  advance(50);
  run();
  t.same(fired, ['a', 'b']);
  t.equal(q.size, 0);
});

t.test('cancelling at the head drops the holes: all-cancelled stays empty, items are not held', async (t) => {
  const { q } = make();
  for (let i = 0; i < 10_000; i++) q.cancel(q.arm({ name: String(i) }));
  t.equal(q.size, 0);
  // out of order: the hole behind a live head stays until the head goes
  const a = q.arm({ name: 'a' });
  const b = q.arm({ name: 'b' });
  q.cancel(b);
  t.equal(q.size, 2);
  q.cancel(a);
  t.equal(q.size, 0);
});

t.test('grows past its capacity and keeps order across the wrap', async (t) => {
  const { q, fired, advance, run } = make(10);
  const tickets = [];
  for (let i = 0; i < 1000; i++) tickets.push(q.arm({ name: String(i) }));
  for (let i = 0; i < 1000; i += 2) q.cancel(tickets[i]!);
  advance(20);
  run();
  t.equal(fired.length, 500);
  t.same(fired.slice(0, 3), ['1', '3', '5']);
  t.equal(fired.at(-1), '999');
});

t.test('expireAll ends every pending deadline through the given handler; clear ends them silently', async (t) => {
  const { q, fired } = make();
  q.arm({ name: 'a' });
  q.cancel(q.arm({ name: 'x' }));
  q.arm({ name: 'b' });
  const opened: string[] = [];
  q.expireAll((it) => opened.push(it.name));
  t.same(opened, ['a', 'b']);
  t.same(fired, []);
  q.arm({ name: 'c' });
  q.clear();
  t.equal(q.size, 0);
  t.same(fired, []);
});

t.test('on the real clock: fires once, after its length, with one timer for many', async (t) => {
  const fired: number[] = [];
  const q = new DeadlineQueue<{ i: number }>(30, (it) => fired.push(it.i));
  const armedAt = performance.now();
  for (let i = 0; i < 100; i++) q.arm({ i });
  for (const end = Date.now() + 30_000; fired.length < 100 && Date.now() < end; ) await new Promise((r) => setTimeout(r, 10));
  t.equal(fired.length, 100);
  t.ok(performance.now() - armedAt >= 29, 'not before its length');
  t.same(fired, [...Array(100).keys()], 'in order');
});
