import t from 'tap';
import { parseSchedstat, stretchBetween, threadSchedstat, MAX_STRETCH } from '../../src/acceptor/cpu-contention.js';
import { existsSync } from 'node:fs';

t.test('garbage, negative or missing counters are refused (null), never a number', async (t) => {
  t.equal(parseSchedstat(''), null);
  t.equal(parseSchedstat('12'), null);
  t.equal(parseSchedstat('abc def 1'), null);
  t.equal(parseSchedstat('-5 10 1'), null);
  t.equal(parseSchedstat('10 NaN 1'), null);
  t.same(parseSchedstat('820903 1308891 1\n'), { runNs: 820903, waitNs: 1308891 });
});

t.test('a file that cannot be opened gives null on every call (admission then judges as measured)', async (t) => {
  const read = threadSchedstat('/nonexistent/schedstat');
  t.equal(read(), null);
  t.equal(read(), null);
});

t.test('stretch: 1 without two readings, on a counter going backwards, or under 1 ms of run; capped above', async (t) => {
  const r = (runMs: number, waitMs: number) => ({ runNs: runMs * 1e6, waitNs: waitMs * 1e6 });
  t.equal(stretchBetween(null, r(10, 10)), 1);
  t.equal(stretchBetween(r(10, 10), null), 1);
  t.equal(stretchBetween(r(10, 10), r(20, 5)), 1, 'wait went backwards');
  t.equal(stretchBetween(r(10, 10), r(10.5, 50)), 1, 'half a millisecond of run');
  t.equal(stretchBetween(r(10, 10), r(20, 1000)), MAX_STRETCH);
  t.equal(stretchBetween(r(10, 10), r(60, 110)), 3);
  t.equal(stretchBetween(r(10, 10), r(60, 10)), 1, 'a core always free');
});

t.test('on Linux the real counters of this thread are read and grow with work', { skip: !existsSync('/proc/thread-self/schedstat') && 'no /proc/thread-self/schedstat' }, async (t) => {
  const read = threadSchedstat();
  const before = read();
  t.ok(before, 'read');
  let x = 0;
  for (const end = Date.now() + 30; Date.now() < end; ) x += Math.sqrt(x + 1);
  const after = read();
  t.ok(after && before && after.runNs > before.runNs, 'run time grew after 30 ms of work');
  t.ok(x > 0);
});
