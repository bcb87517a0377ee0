/**
 * The circuit breaker's states and probe timing. Date.now is replaced by a clock the test moves,
 * so "the probe interval passed" is exact rather than a sleep on a busy box.
 */
import t from 'tap';
import { Circuit } from '../../src/producer/circuit.js';

const PROBE_MS = 1000;

function fakeClock(t: { teardown(fn: () => void): void }): { advance(ms: number): void } {
  const real = Date.now;
  let now = 1_000_000;
  Date.now = () => now;
  t.teardown(() => {
    Date.now = real;
  });
  return {
    advance(ms: number) {
      now += ms;
    },
  };
}

t.test('starts open and refuses a probe until the interval has passed', async (t) => {
  const clock = fakeClock(t);
  const c = new Circuit(PROBE_MS);
  t.equal(c.state, 'open');
  t.notOk(c.closed, 'batches do not go to Kafka');
  clock.advance(PROBE_MS - 1);
  t.notOk(c.tryProbe(), 'one ms before the interval: no probe');
  t.equal(c.state, 'open');
  clock.advance(1);
  t.ok(c.tryProbe(), 'at the interval: probe');
  t.equal(c.state, 'half_open');
  t.ok(c.tryProbe(), 'half-open lets the prober keep probing');
});

t.test('half_open → closed when the probe is acknowledged', async (t) => {
  const clock = fakeClock(t);
  const c = new Circuit(PROBE_MS);
  clock.advance(PROBE_MS);
  t.ok(c.tryProbe());
  c.succeeded();
  t.equal(c.state, 'closed');
  t.ok(c.closed);
  t.ok(c.tryProbe(), 'closed: probing is always allowed');
});

t.test('half_open → open when the probe fails, and the interval starts again from the failure', async (t) => {
  const clock = fakeClock(t);
  const c = new Circuit(PROBE_MS, 'closed');
  c.trip();
  clock.advance(PROBE_MS);
  t.ok(c.tryProbe());
  clock.advance(300);
  c.trip();
  t.equal(c.state, 'open');
  clock.advance(PROBE_MS - 1);
  t.notOk(c.tryProbe(), 'interval counts from the failed probe');
  clock.advance(1);
  t.ok(c.tryProbe());
});

t.test('a trip while already open restarts the interval without counting another opening', async (t) => {
  const clock = fakeClock(t);
  const c = new Circuit(PROBE_MS, 'closed');
  let heard = 0;
  c.onOpen(() => heard++);
  c.trip();
  t.equal(c.timesOpened, 1);
  clock.advance(PROBE_MS - 10);
  c.trip();
  t.equal(c.timesOpened, 1, 'still one opening');
  t.equal(heard, 1, 'listeners hear an opening once');
  clock.advance(10);
  t.notOk(c.tryProbe(), 'the second trip moved the interval');
  clock.advance(PROBE_MS - 10);
  t.ok(c.tryProbe());
});

t.test('closed → open on trip tells each listener once; an unsubscribed one hears nothing', async (t) => {
  fakeClock(t);
  const c = new Circuit(PROBE_MS, 'closed');
  t.equal(c.timesOpened, 0);
  const heard: string[] = [];
  c.onOpen(() => heard.push('a'));
  const off = c.onOpen(() => heard.push('b'));
  off();
  c.trip();
  t.same(heard, ['a']);
  c.succeeded();
  c.trip();
  t.same(heard, ['a', 'a']);
  t.equal(c.timesOpened, 2);
});
