import t from 'tap';
import pino from 'pino';
import { Writable } from 'node:stream';
import { LogThrottle } from '../../src/telemetry/log-throttle.js';

function capture() {
  const lines: Record<string, unknown>[] = [];
  const log = pino({ level: 'info' }, new Writable({ write(chunk, _enc, cb) { lines.push(JSON.parse(String(chunk))); cb(); } }));
  return { log, lines };
}

t.test('repeats inside the interval are not written, and their count rides on the next line', async (t) => {
  let now = 1_000;
  const throttle = new LogThrottle(10_000, () => now);
  const { log, lines } = capture();
  throttle.warn(log, -187, { code: -187 }, 'kafka client error');
  for (let i = 0; i < 199; i++) { now += 50; throttle.warn(log, -187, { code: -187 }, 'kafka client error'); }
  t.equal(lines.length, 1, 'one line for 200 occurrences within 10 s');
  t.equal(lines[0]!.suppressed, undefined, 'the first line has nothing to count');
  now = 1_000 + 10_000;
  throttle.warn(log, -187, { code: -187 }, 'kafka client error');
  t.equal(lines.length, 2, 'written again once the interval has passed');
  t.equal(lines[1]!.suppressed, 199, 'and it says how many were left out');
  t.equal(lines[1]!.code, -187);
});

t.test('each key has its own interval: a different error is never hidden behind another', async (t) => {
  const now = 5_000;
  const throttle = new LogThrottle(10_000, () => now);
  const { log, lines } = capture();
  throttle.warn(log, -187, { code: -187 }, 'kafka client error');
  throttle.warn(log, -195, { code: -195 }, 'kafka client error');
  throttle.warn(log, -187, { code: -187 }, 'kafka client error');
  t.same(lines.map((l) => l.code), [-187, -195]);
});
