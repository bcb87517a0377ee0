/**
 * Backpressure at the edge, against a real collector and broker: slow and trickled
 * uploads lose their slot and connection after BODY_TIMEOUT_MS (and the slots come back),
 * trickled headers never take a slot, a client over its rate gets 429 while others are
 * served, and a burst far past the admission limit gets 503 + Retry-After without losing
 * anything it acknowledged.
 */
import t from 'tap';
import net from 'node:net';
import { randomUUID } from 'node:crypto';
import { sharedBroker } from '../helpers/broker.js';
import { createTopics } from '../helpers/topics.js';
import { startCollector, waitHealthy, type RunningCollector } from '../helpers/collector.js';
import { readUntilIds } from '../helpers/consumer.js';
import { syntheticBatch } from '../../src/pipeline/synthetic.js';
import { waitFor } from '../helpers/wait.js';

const { bootstrap } = sharedBroker();
const TOPIC = `events-bp-${randomUUID().slice(0, 8)}`;
const DLQ = `${TOPIC}-dlq`;
const BODY_TIMEOUT_MS = 1000;
const SLOTS = 4;

const collectors: RunningCollector[] = [];
t.before(async () => {
  await createTopics([
    { name: TOPIC, partitions: 3 },
    { name: DLQ, partitions: 1 },
  ]);
});
t.teardown(async () => {
  await Promise.all(collectors.map((c) => c.stop()));
});

async function collector(env: Record<string, string>): Promise<RunningCollector> {
  const c = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ, ...env });
  collectors.push(c);
  await waitHealthy(c.url);
  return c;
}

async function post(url: string, events: unknown[], headers: Record<string, string> = {}) {
  const r = await fetch(`${url}/api/v1/collect`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(events),
  });
  return { status: r.status, retryAfter: r.headers.get('retry-after'), body: (await r.json()) as { error?: { code: string }; [k: string]: unknown } };
}

/** A raw connection that sends `head` now and then whatever the test writes; resolves with all it read when closed. */
function rawConnection(port: number, head: string) {
  const sock = net.connect(port, '127.0.0.1');
  sock.write(head);
  let text = '';
  sock.on('data', (d) => (text += d.toString('latin1')));
  const closed = new Promise<{ text: string; at: number }>((resolve) => {
    sock.on('close', () => resolve({ text, at: performance.now() }));
    sock.on('error', () => undefined);
  });
  return { sock, closed };
}

const slowHead = (port: number, length: number) =>
  `POST /api/v1/collect HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nContent-Type: application/json\r\nContent-Length: ${length}\r\n\r\n`;

async function refusalCount(url: string, reason: string): Promise<number> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const m = text.match(new RegExp(`collector_admission_refusals_total\\{[^}]*reason="${reason}"[^}]*\\} (\\d+)`));
  return m ? Number(m[1]) : NaN;
}

/** The in-flight gauge of the process (requests holding an admission place). */
async function inFlight(url: string): Promise<number> {
  return Number((await (await fetch(`${url}/metrics`)).text()).match(/^collector_requests_in_flight(?:\{[^}]*\})? (\d+)/m)?.[1]);
}

t.test('slow bodies: a stalled or trickled upload gets 408 and loses its slot; the slots come back', async (t) => {
  const c = await collector({ BODY_TIMEOUT_MS: String(BODY_TIMEOUT_MS), RING_SLOTS: String(SLOTS), ADMISSION_MIN_IN_FLIGHT: String(SLOTS) });
  const started = performance.now();
  // Every slot pinned: two stalled uploads and two that trickle a byte every 100 ms (each byte resets no timer).
  const conns = Array.from({ length: SLOTS }, (_, i) => {
    const conn = rawConnection(c.port, slowHead(c.port, 5000) + '[{"event_id":');
    if (i % 2 === 1) {
      const trickle = setInterval(() => conn.sock.write(' '), 100);
      void conn.closed.then(() => clearInterval(trickle));
    }
    return conn;
  });
  await waitFor(() => inFlight(c.url), (n) => n === SLOTS);

  const blocked = await post(c.url, syntheticBatch(1));
  t.equal(blocked.status, 503, 'while slow uploads hold every slot, a new batch is refused, not queued');
  t.equal(blocked.body.error?.code, 'COLLECTOR_ERR_OVERLOADED');
  t.ok(Number(blocked.retryAfter) >= 1, 'with a Retry-After');

  for (const conn of conns) {
    const { text, at } = await conn.closed;
    t.match(text, /^HTTP\/1\.1 408 /, 'the slow upload is answered 408');
    t.match(text, /"code":"COLLECTOR_ERR_BODY_TIMEOUT"/);
    // Bounded, not timed: a trickle that reset the deadline would hold the connection for the whole 5000-byte body
    // (~8 min at a byte per 100 ms); the slack is for a loaded box.
    t.ok(at - started < BODY_TIMEOUT_MS + 30_000, `and its connection closed after ${Math.round(at - started)} ms`);
  }
  const after = await post(c.url, syntheticBatch(2));
  t.equal(after.status, 200, 'the slots are free again');
  t.equal(await refusalCount(c.url, 'body_timeout'), SLOTS, 'the cut-offs are counted');
});

t.test('clients that disconnect mid-body give their slot and admission place back at once', async (t) => {
  // A long body timeout: only the disconnect can free these slots within the test.
  const c = await collector({ BODY_TIMEOUT_MS: '60000', RING_SLOTS: String(SLOTS), ADMISSION_MIN_IN_FLIGHT: String(SLOTS) });
  for (let round = 0; round < 3; round++) {
    const conns = Array.from({ length: SLOTS }, () => rawConnection(c.port, slowHead(c.port, 5000) + '[{"event_id":'));
    t.equal(await waitFor(() => inFlight(c.url), (n) => n === SLOTS), SLOTS, `round ${round}: the half-sent bodies hold every place`);
    t.equal((await post(c.url, syntheticBatch(1))).status, 503, 'so a new batch is refused');
    for (const conn of conns) conn.sock.destroy();
    await Promise.all(conns.map((conn) => conn.closed));
    t.equal(await waitFor(() => inFlight(c.url), (n) => n === 0), 0, 'after the disconnects nothing is held');
    t.equal((await post(c.url, syntheticBatch(1))).status, 200, 'and a batch is admitted again');
  }
});

t.test('trickled headers never reach the handler, so they take no slot', async (t) => {
  const c = await collector({ RING_SLOTS: String(SLOTS), ADMISSION_MIN_IN_FLIGHT: String(SLOTS) });
  const conns = Array.from({ length: SLOTS * 3 }, () => rawConnection(c.port, 'POST /api/v1/collect HTTP/1.1\r\nHost: x\r\n'));
  const trickle = setInterval(() => conns.forEach((conn) => { conn.sock.write('X-Slow: 1\r\n'); }), 100);
  await new Promise((r) => setTimeout(r, 500));
  const ok = await post(c.url, syntheticBatch(2));
  clearInterval(trickle);
  t.equal(ok.status, 200, `${conns.length} connections trickling headers do not block a batch`);
  for (const conn of conns) conn.sock.destroy();
});

t.test('per-client rate limit: 429 with Retry-After for that client, others served', async (t) => {
  const RATE = 5;
  const c = await collector({ CLIENT_RATE_LIMIT: String(RATE), CLIENT_ID_HEADER: 'x-api-key' });
  const started = performance.now();
  const statuses: number[] = [];
  let refused: Awaited<ReturnType<typeof post>> | undefined;
  for (let i = 0; i < RATE * 3; i++) {
    const r = await post(c.url, syntheticBatch(1), { 'x-api-key': 'noisy' });
    statuses.push(r.status);
    if (r.status === 429) refused ??= r;
  }
  const elapsedS = (performance.now() - started) / 1000;
  const admitted = statuses.filter((s) => s === 200).length;
  t.same(statuses.slice(0, RATE), Array(RATE).fill(200), 'a full bucket admits a burst of one second');
  t.ok(admitted <= RATE + Math.ceil(RATE * elapsedS) + 1, `admitted ${admitted} in ${elapsedS.toFixed(2)} s: no more than burst + rate × time`);
  t.ok(statuses.every((s) => s === 200 || s === 429), `only 200 or 429: ${statuses.join(',')}`);
  t.ok(refused, 'the client over its rate got 429');
  t.equal(refused?.body.error?.code, 'COLLECTOR_ERR_CLIENT_LIMIT');
  t.ok(Number(refused?.retryAfter) >= 1, 'with a Retry-After');
  t.equal((await post(c.url, syntheticBatch(1), { 'x-api-key': 'quiet' })).status, 200, 'another client is served meanwhile');
  t.ok((await refusalCount(c.url, 'client_rate')) >= 1, 'counted as client_rate');
});

t.test('a burst far past the admission limit: 503 + Retry-After, every acknowledged event in Kafka', async (t) => {
  const c = await collector({ ADMISSION_MIN_IN_FLIGHT: '2', RING_SLOTS: '8' });
  const batches = Array.from({ length: 120 }, () => syntheticBatch(50));
  const answers = await Promise.all(batches.map((b) => post(c.url, b)));
  const statuses = answers.map((a) => a.status);
  const acked = batches.filter((_, i) => statuses[i] === 200);
  const refused = answers.filter((a) => a.status === 503);
  t.ok(refused.length > 0, `${refused.length} of 120 refused`);
  t.ok(acked.length > 0, `${acked.length} of 120 admitted`);
  t.ok(statuses.every((s) => s === 200 || s === 503), `only 200 or 503: ${[...new Set(statuses)].join(',')}`);
  for (const r of refused) {
    t.equal(r.body.error?.code, 'COLLECTOR_ERR_OVERLOADED');
    t.ok(Number(r.retryAfter) >= 1 && Number(r.retryAfter) <= 30, 'Retry-After 1–30 s');
  }
  const ids = acked.flatMap((b) => b.map((e) => e.event_id as string));
  const records = await readUntilIds(bootstrap, TOPIC, ids, 60_000);
  const found = new Set(records.map((r) => (JSON.parse(r.value) as { event_id: string }).event_id));
  t.equal(ids.filter((id) => !found.has(id)).length, 0, `all ${ids.length} acknowledged events are in Kafka`);
  t.ok((await refusalCount(c.url, 'overloaded')) >= refused.length, 'counted as overloaded');
});
