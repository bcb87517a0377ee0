import t from 'tap';
import { Admission, isRefusal, type Ticket, type AdmissionOptions } from '../../src/acceptor/admission.js';

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
    tickets.forEach((tk, i) => a.settle(tk, 5 + 8 * i));
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
    tickets.forEach((tk, i) => a.settle(tk, 80 + (i % 5)));
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
  tickets.forEach((tk, i) => a.settle(tk, i === 0 ? 500 : 5));
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
  tickets.forEach((tk) => a.settle(tk));
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

t.test('refuses a floor above the ceiling', async (t) => {
  t.throws(() => make({ minLimit: 65 }), RangeError);
});
