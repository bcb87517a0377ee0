import t, { type Test } from 'tap';
import { Admission, isRefusal, type Ticket, type AdmissionOptions } from '../../src/acceptor/admission.js';
import type { CpuCounters } from '../../src/acceptor/cpu-contention.js';

function make(over: Partial<AdmissionOptions> = {}) {
  let clock = 0;
  const a = new Admission({ targetMs: 20, maxLimit: 64, minLimit: 4, clientMaxInFlight: 0, clientRatePerS: 0, now: () => clock, ...over });
  return { a, advance: (ms: number) => (clock += ms) };
}

function admitN(a: Admission, n: number, key = ''): Ticket[] {
  const out: Ticket[] = [];
  for (let i = 0; i < n; i++) {
    const v = a.admit(key);
    if (isRefusal(v)) throw new Error(`refused at ${i}: ${v.reason}`);
    out.push(v);
  }
  return out;
}

t.test('past the limit: overloaded, with a Retry-After of at least 1 s', async (t) => {
  const { a } = make();
  admitN(a, a.limit);
  const v = a.admit('');
  t.ok(isRefusal(v));
  if (isRefusal(v)) {
    t.equal(v.reason, 'overloaded');
    t.ok(v.retryAfterS >= 1 && v.retryAfterS <= 30);
  }
  t.equal(a.inFlight, 16);
});

t.test('queueing shrinks the limit, down to the floor and no further', async (t) => {
  const { a, advance } = make();
  const start = a.limit;
  for (let round = 0; round < 60; round++) {
    const tickets = admitN(a, a.limit);
    advance(120);
    // Batches queue behind each other: the i-th waits for i batches of 8 ms.
    tickets.forEach((tk, i) => { a.settle(tk, 5 + 8 * i); });
  }
  t.ok(a.limit < start, `limit ${start} → ${a.limit}`);
  t.equal(a.limit, 4, 'the floor holds');
  t.equal(a.baselineMs, 5, 'the no-load time is the fastest batch');
  t.equal(a.inFlight, 0);
});

t.test('a uniformly slow Kafka (no queue here) does not pin the limit to its floor', async (t) => {
  const { a, advance } = make();
  for (let round = 0; round < 40; round++) {
    const tickets = admitN(a, a.limit);
    t.ok(isRefusal(a.admit('')));
    advance(150);
    tickets.forEach((tk, i) => { a.settle(tk, 80 + (i % 5)); });
  }
  t.ok(a.limit > 16, `limit grew to ${a.limit} with every batch 80–84 ms`);
});

t.test('fast batches at the limit grow it back, up to the slots and no further', async (t) => {
  const { a, advance } = make({ maxLimit: 24 });
  for (let round = 0; round < 40; round++) {
    const tickets = admitN(a, a.limit);
    t.ok(isRefusal(a.admit('')), 'saturated');
    advance(120);
    for (const tk of tickets) a.settle(tk, 5);
  }
  t.equal(a.limit, 24);
});

t.test('fast batches with demand refused grow the limit by that demand, at most doubling per window', async (t) => {
  const { a, advance } = make();
  const seen: number[] = [a.limit];
  for (let round = 0; round < 4; round++) {
    const tickets = admitN(a, a.limit);
    // 64 connections against a limit of 16: each refused request is tried again at once.
    for (let k = 0; k < 40; k++) t.ok(isRefusal(a.admit('')));
    advance(120);
    for (const tk of tickets) a.settle(tk, 3); // ~3 ms against a 20 ms target: headroom
    seen.push(a.limit);
  }
  // The first window has no baseline yet (no headroom to judge): one step. Then doubling, then the slots.
  t.same(seen, [16, 17, 34, 64, 64], 'one window per step, not one per request wanted');
});

t.test('refused demand grows the limit by one when batches only meet the target, and not at all when late', async (t) => {
  const { a, advance } = make();
  for (let round = 0; round < 3; round++) {
    const tickets = admitN(a, a.limit);
    for (let k = 0; k < 40; k++) a.admit('');
    advance(120);
    // baseline 3 ms, target 20: 15 ms is in time but without headroom (over 3 + 10 ms)
    tickets.forEach((tk, i) => { a.settle(tk, i === 0 ? 3 : 15); });
  }
  t.equal(a.limit, 19, 'one per window');
  const tickets = admitN(a, a.limit);
  for (let k = 0; k < 40; k++) a.admit('');
  advance(120);
  for (const tk of tickets) a.settle(tk, 40);
  t.equal(a.limit, 14, 'late: shrinks by a quarter whatever was refused');
});

t.test('an idle process does not grow its limit', async (t) => {
  const { a, advance } = make();
  for (let round = 0; round < 50; round++) {
    const [tk] = admitN(a, 1);
    advance(150);
    a.settle(tk!, 5);
  }
  t.equal(a.limit, 16);
});

t.test('a few late batches (under 10 %) do not shrink it', async (t) => {
  const { a, advance } = make();
  const tickets = admitN(a, 16);
  advance(150);
  tickets.forEach((tk, i) => { a.settle(tk, i === 0 ? 500 : 5); });
  t.ok(a.limit >= 16);
});

t.test('settling twice counts once; tickets without a sample free their place', async (t) => {
  const { a } = make();
  const [tk] = admitN(a, 1);
  a.settle(tk!);
  a.settle(tk!, 10);
  t.equal(a.inFlight, 0);
});

t.test('per-client in-flight limit: 429 for that client only', async (t) => {
  const { a } = make({ clientMaxInFlight: 2 });
  const mine = admitN(a, 2, 'a');
  const v = a.admit('a');
  t.ok(isRefusal(v) && v.reason === 'client_in_flight');
  t.notOk(isRefusal(a.admit('b')), 'another client is admitted');
  a.settle(mine[0]!);
  t.notOk(isRefusal(a.admit('a')), 'a place freed is usable again');
});

t.test('per-client rate: a burst of one second, then tokens at the rate', async (t) => {
  const { a, advance } = make({ clientRatePerS: 10 });
  const tickets = admitN(a, 10, 'a');
  tickets.forEach((tk) => { a.settle(tk); });
  const v = a.admit('a');
  t.ok(isRefusal(v) && v.reason === 'client_rate');
  if (isRefusal(v)) t.equal(v.retryAfterS, 1);
  advance(100); // one token back
  t.notOk(isRefusal(a.admit('a')));
  t.ok(isRefusal(a.admit('a')));
  t.notOk(isRefusal(a.admit('b')), 'others have their own bucket');
});

t.test('client memory is bounded: idle clients are forgotten, busy ones kept', async (t) => {
  const { a } = make({ clientMaxInFlight: 1, maxClients: 100 });
  const busy = admitN(a, 1, 'busy');
  for (let i = 0; i < 10_000; i++) {
    const v = a.admit(`c${i}`);
    if (!isRefusal(v)) a.settle(v);
  }
  t.ok(a.clientCount <= 100, `${a.clientCount} clients remembered`);
  t.ok(isRefusal(a.admit('busy')), 'the busy client is still limited: it was not forgotten');
  a.settle(busy[0]!);
});

/** Scheduler counters of a main thread, advanced by hand: `spend(run, wait)` in ms. `broken`: unreadable (not Linux). */
function fakeCpu() {
  const c = { runNs: 0, waitNs: 0, broken: false };
  return {
    source: (): CpuCounters | null => (c.broken ? null : { runNs: c.runNs, waitNs: c.waitNs }),
    spend: (runMs: number, waitMs: number) => {
      c.runNs += runMs * 1e6;
      c.waitNs += waitMs * 1e6;
    },
    c,
  };
}

/**
 * `rounds` windows at the limit: every batch i (its place among those in flight) takes serviceMs(i)
 * of wall time, and the main thread runs `runMs` and waits `waitMs` for a core in each window.
 */
function saturate(
  t: Test, a: Admission, advance: (ms: number) => void, cpu: ReturnType<typeof fakeCpu> | null,
  rounds: number, serviceMs: (i: number) => number, runMs = 100, waitMs = 0,
) {
  for (let round = 0; round < rounds; round++) {
    const tickets = admitN(a, a.limit);
    if (!isRefusal(a.admit(''))) t.fail('not saturated');
    advance(150);
    cpu?.spend(runMs, waitMs);
    tickets.forEach((tk, i) => { a.settle(tk, serviceMs(i)); });
  }
}

t.test('CPU-aware: unreadable counters judge as measured (stretch 1), starvation then shrinks', async (t) => {
  const cpu = fakeCpu();
  cpu.c.broken = true;
  const { a, advance } = make({ cpu: cpu.source });
  saturate(t, a, advance, cpu, 1, () => 5);
  saturate(t, a, advance, cpu, 30, (i) => 3 * (5 + (i % 8)), 50, 100);
  t.equal(a.stretch, 1);
  t.ok(a.limit < 16, `limit ${a.limit}`);
});

t.test('CPU-aware: counters that go backwards, or a thread that hardly ran, give stretch 1; a huge one is capped', async (t) => {
  let reading: CpuCounters = { runNs: 10e9, waitNs: 10e9 };
  const { a, advance } = make({ cpu: () => reading });
  const step = (next: CpuCounters) => {
    const tickets = admitN(a, a.limit);
    advance(150);
    reading = next;
    tickets.forEach((tk) => { a.settle(tk, 5); });
  };
  step({ runNs: 10e9 + 100e6, waitNs: 10e9 + 100e6 });
  t.equal(a.stretch, 2, 'a sane window');
  step({ runNs: 11e9, waitNs: 5e9 }); // wait went backwards
  t.equal(a.stretch, 1);
  step({ runNs: 11e9 + 0.5e6, waitNs: 6e9 }); // 0.5 ms of run: too little to judge
  t.equal(a.stretch, 1);
  step({ runNs: 11e9 + 100e6, waitNs: 6e9 + 10e9 });
  t.equal(a.stretch, 8, 'capped');
});

t.test('CPU-aware: our own queue still shrinks the limit on a starved box (stretch 3)', async (t) => {
  const cpu = fakeCpu();
  const { a, advance } = make({ cpu: cpu.source });
  // Batch i waits for the i ahead of it: 5 + 8 i ms with a core always free, 3× that in wall time.
  saturate(t, a, advance, cpu, 60, (i) => 3 * (5 + 8 * i), 50, 100);
  t.equal(a.stretch, 3);
  t.equal(a.limit, 4, 'down to the floor: the queue is ours, starved or not');
  t.equal(a.baselineMs, 5, 'the baseline is in CPU-free time');
});

t.test('CPU-aware: a box starved by others keeps the limit; the same batches judged as measured shrink it', async (t) => {
  // One quiet window (batches 5 ms), then the neighbours take the cores: the main thread waits twice as long as
  // it runs (stretch 3) and every batch takes 3× its CPU-free 5–12 ms: 15–36 ms, most of them "late" as measured.
  const service = (i: number) => 3 * (5 + (i % 8));
  const cpu = fakeCpu();
  const aware = make({ cpu: cpu.source });
  saturate(t, aware.a, aware.advance, cpu, 1, () => 5);
  saturate(t, aware.a, aware.advance, cpu, 30, service, 50, 100);
  t.equal(aware.a.stretch, 3);
  t.ok(aware.a.limit > 16, `CPU-aware: limit grew to ${aware.a.limit}`);
  const blind = make();
  saturate(t, blind.a, blind.advance, null, 1, () => 5);
  saturate(t, blind.a, blind.advance, null, 30, service);
  t.ok(blind.a.limit <= 8, `as measured: shrank to ${blind.a.limit}, near the floor`);
});

t.test('a stall (answers at under half the recent rate, all late) is judged neither way; a lasting one is', async (t) => {
  const { a, advance } = make();
  // steady: a window of 16 fast batches every 100 ms, saturated
  saturate(t, a, advance, null, 5, () => 5);
  const before = a.limit;
  // the broker pauses 450 ms: the batches in flight all come back late, at a quarter of the rate
  {
    const tickets = admitN(a, a.limit);
    advance(600);
    tickets.forEach((tk) => { a.settle(tk, 450); });
  }
  t.equal(a.limit, before, 'held through the stall');
  // it lasts: the answer rate stays low, the smoothed rate follows it, and lateness counts again
  for (let round = 0; round < 10; round++) {
    const tickets = admitN(a, a.limit);
    advance(600);
    tickets.forEach((tk) => { a.settle(tk, 450); });
  }
  t.ok(a.limit < before, `a lasting slow-down shrinks it (${before} → ${a.limit})`);

  const blind = make({ holdStalls: false });
  saturate(t, blind.a, blind.advance, null, 5, () => 5);
  const was = blind.a.limit;
  const tickets = admitN(blind.a, blind.a.limit);
  blind.advance(600);
  tickets.forEach((tk) => { blind.a.settle(tk, 450); });
  t.ok(blind.a.limit < was, `holdStalls false: the stall shrinks it (${was} → ${blind.a.limit})`);
});

t.test('a window closes early when its sample buffer is full (many small requests)', async (t) => {
  const { a, advance } = make({ maxLimit: 4096, minLimit: 4 });
  // 2,000 fast batches within 10 ms, one at a time: two windows of 1,024 judged, both fast.
  for (let i = 0; i < 2000; i++) {
    const [tk] = admitN(a, 1);
    advance(0.005);
    a.settle(tk!, 1);
  }
  t.equal(a.baselineMs, 1, 'a window was judged before WINDOW_MIN_MS passed');
});

t.test('refuses a floor above the ceiling', async (t) => {
  t.throws(() => make({ minLimit: 65 }), RangeError);
});
