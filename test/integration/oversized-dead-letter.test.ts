/**
 * One oversized event must cost only itself. MAX_EVENT_BYTES bounds valid events, but a dead
 * letter carries the original whole: an invalid 1 MB event made a dead letter over
 * librdkafka's message.max.bytes, the delivery took that refusal for an outage, the circuit
 * opened and the batch went to the spill log. Dead letters are now bounded (the original is
 * cut, with its size and digest), and a DLQ refusal that no retry fixes is final.
 */
import t from 'tap';
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { sharedBroker } from '../helpers/broker.js';
import { createTopics } from '../helpers/topics.js';
import { startCollector, waitHealthy, type RunningCollector } from '../helpers/collector.js';
import { readTopic, readUntilIds } from '../helpers/consumer.js';
import { syntheticBatch } from '../../src/pipeline/synthetic.js';

const { bootstrap } = sharedBroker();
const suffix = randomUUID().slice(0, 8);
const TOPIC = `events-bigdl-${suffix}`;
const DLQ = `events-dlq-bigdl-${suffix}`;

let collector: RunningCollector;
t.before(async () => {
  await createTopics([
    { name: TOPIC, partitions: 3 },
    { name: DLQ, partitions: 1 },
  ]);
  collector = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ });
  await waitHealthy(collector.url, 60_000);
});
t.teardown(async () => {
  await collector?.stop();
});

interface Health {
  circuit_state: string;
  buffer_status: { buffered_batches: number };
}
interface DeadLetter {
  reason: string;
  batch_id: string;
  event_index: number;
  original_event: unknown;
  original_event_truncated?: { bytes: number; sha256: string; head: string };
}

const post = (body: unknown) =>
  fetch(`${collector.url}/api/v1/collect`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

t.test('a 1 MB invalid event and a 1 MB too-large event: dead letters land, the circuit stays closed', async (t) => {
  const events = syntheticBatch(4, { learners: 2 });
  const invalid = { ...events[1]!, event_type: 'teleport', event_data: { blob: 'x'.repeat(1_000_000) } };
  const tooLarge = { ...events[2]!, event_data: { blob: 'y'.repeat(1_000_000) } };
  const batch = [events[0]!, invalid, tooLarge, events[3]!];
  const r = await fetch(`${collector.url}/api/v1/collect`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ batch_id: `big-${suffix}`, events: batch.slice(0, 2) }),
  });
  // Two bodies: each stays under MAX_BODY_BYTES (1 MiB).
  t.equal(r.status, 207, await r.clone().text());
  const r2 = await post({ batch_id: `big2-${suffix}`, events: batch.slice(2) });
  t.equal(r2.status, 207, await r2.clone().text());

  const h = (await (await fetch(`${collector.url}/api/v1/health`)).json()) as Health;
  t.equal(h.circuit_state, 'closed', 'the circuit stays closed');
  t.equal(h.buffer_status.buffered_batches, 0, 'nothing went to the spill log');

  const dead = await readTopic(bootstrap, DLQ, (rs) => rs.length >= 2, 60_000);
  t.equal(dead.length, 2, 'both dead letters in the DLQ');
  for (const [ev, reason] of [
    [invalid, 'validation'],
    [tooLarge, 'too_large'],
  ] as const) {
    const rec = dead.find((d) => d.headers.reason === reason);
    if (!rec) {
      t.fail(`no ${reason} dead letter`);
      continue;
    }
    t.ok(Buffer.byteLength(rec.value) < 1_000_000, `${reason}: the record is bounded (${Buffer.byteLength(rec.value)} bytes)`);
    const v = JSON.parse(rec.value) as DeadLetter;
    t.equal(v.reason, reason);
    t.equal(v.original_event, null, `${reason}: the original is not inline`);
    const full = JSON.stringify(ev);
    t.equal(v.original_event_truncated?.bytes, Buffer.byteLength(full), `${reason}: its size`);
    t.equal(v.original_event_truncated?.sha256, createHash('sha256').update(full).digest('hex'), `${reason}: its digest`);
    t.ok(full.startsWith(v.original_event_truncated?.head ?? '\u0000'), `${reason}: a head of the original`);
    t.ok((v.original_event_truncated?.head.length ?? 0) > 1000, `${reason}: a useful head`);
  }

  // Other traffic is unaffected: the valid neighbours and a later batch land directly.
  const later = syntheticBatch(20);
  const r3 = await post(later);
  t.equal(r3.status, 200);
  const ids = [events[0]!, events[3]!, ...later].map((e) => e.event_id as string);
  const main = await readUntilIds(bootstrap, TOPIC, ids);
  const got = new Set(main.map((m) => (JSON.parse(m.value) as { event_id: string }).event_id));
  t.ok(ids.every((id) => got.has(id)), 'every valid event in the main topic');
  const h2 = (await (await fetch(`${collector.url}/api/v1/health`)).json()) as Health;
  t.equal(h2.circuit_state, 'closed');
  const m = (await (await fetch(`${collector.url}/api/v1/metrics`)).json()) as { spilled_events_total: number };
  t.equal(m.spilled_events_total, 0, 'no event was spilled');
});

t.test('a DLQ topic that refuses even the bounded dead letter: it lands without its original, the circuit stays closed', async (t) => {
  const small = `events-dlq-small-${suffix}`;
  await createTopics([{ name: small, partitions: 1, config: { 'max.message.bytes': '4000' } }]);
  const c = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: small });
  t.teardown(() => c.stop());
  await waitHealthy(c.url, 60_000);
  const [good, bad] = syntheticBatch(2);
  // Random bytes do not compress: the dead letter (about 14 KB) is over the topic's 4000 bytes.
  const invalid = { ...bad!, event_type: 'teleport', event_data: { blob: randomBytes(10_000).toString('base64') } };
  const r = await fetch(`${c.url}/api/v1/collect`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ batch_id: `small-${suffix}`, events: [good, invalid] }),
  });
  t.equal(r.status, 207, await r.clone().text());
  const h = (await (await fetch(`${c.url}/api/v1/health`)).json()) as Health;
  t.equal(h.circuit_state, 'closed', 'a final refusal is no outage');
  t.equal(h.buffer_status.buffered_batches, 0, 'nothing spilled');
  const dead = await readTopic(bootstrap, small, (rs) => rs.length >= 1, 60_000);
  t.equal(dead.length, 1);
  const v = JSON.parse(dead[0]?.value ?? '{}') as DeadLetter & { dlq_refused?: string };
  t.equal(v.reason, 'validation');
  t.equal(v.original_event, null);
  t.equal(v.original_event_truncated?.sha256, createHash('sha256').update(JSON.stringify(invalid)).digest('hex'), 'the digest finds the event');
  t.match(v.dlq_refused ?? '', /too large|size/i, 'says why the original is missing');
  const main = await readUntilIds(bootstrap, TOPIC, [good!.event_id as string]);
  t.ok(main.some((m) => (JSON.parse(m.value) as { event_id: string }).event_id === good!.event_id), 'its neighbour is delivered');
});
