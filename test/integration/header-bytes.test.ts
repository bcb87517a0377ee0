/**
 * Header values and record keys reach Kafka whole, whatever their UTF-8 length: the C
 * producer copies JS strings into fixed buffers first, and V8 stops at a whole character
 * when one does not fit, so "it fitted" must be decided from the UTF-8 length, not from a
 * byte to spare. A tenant_id of 256 × "é" is 512 bytes: one byte more than the old 512-byte
 * buffer holds with its NUL, so it arrived one character short.
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { sharedBroker } from '../helpers/broker.js';
import { createTopics } from '../helpers/topics.js';
import { startCollector, waitHealthy, type RunningCollector } from '../helpers/collector.js';
import { readTopic } from '../helpers/consumer.js';

const { bootstrap } = sharedBroker();
const suffix = randomUUID().slice(0, 8);
const TOPIC = `events-hdr-${suffix}`;
const DLQ = `events-dlq-hdr-${suffix}`;

let collector: RunningCollector;
t.before(async () => {
  await createTopics([
    { name: TOPIC, partitions: 1 },
    { name: DLQ, partitions: 1 },
  ]);
  collector = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ });
  await waitHealthy(collector.url, 60_000);
});
t.teardown(async () => {
  await collector?.stop();
});

const event = (tenant: string, learner: string) => ({
  event_id: randomUUID(),
  learner_id: learner,
  tenant_id: tenant,
  event_type: 'interaction',
  timestamp: '2026-01-15T10:30:00Z',
  source_service: 'svc',
  event_data: {},
});

t.test('multi-byte tenant_id and learner_id reach the header and key exactly', async (t) => {
  const cases = [
    { tenant: 'é'.repeat(256), learner: 'é'.repeat(256) }, // 512 bytes each
    { tenant: '€'.repeat(256), learner: '€'.repeat(256) }, // 768 bytes each
    { tenant: '😀'.repeat(128), learner: '😀'.repeat(128) }, // 256 UTF-16 units, 512 bytes
    { tenant: `${'a'.repeat(255)}é`, learner: `${'a'.repeat(254)}€` }, // the multi-byte char across the old boundary
  ];
  const events = cases.map((c) => event(c.tenant, c.learner));
  const invalid = cases.map((c) => ({ ...event(c.tenant, c.learner), event_type: 'teleport' }));
  const r = await fetch(`${collector.url}/api/v1/collect`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify([...events, ...invalid]),
  });
  t.equal(r.status, 207, await r.clone().text());
  const ids = new Set<string>(events.map((e) => e.event_id));
  const read = await readTopic(bootstrap, TOPIC, (rs) => rs.filter((x) => ids.has((JSON.parse(x.value) as { event_id: string }).event_id)).length >= events.length, 60_000);
  for (const [i, e] of events.entries()) {
    const rec = read.find((x) => (JSON.parse(x.value) as { event_id: string }).event_id === e.event_id);
    t.ok(rec, `event ${i} in Kafka`);
    t.equal(rec?.headers.tenant_id, e.tenant_id, `event ${i}: tenant_id header whole (${Buffer.byteLength(e.tenant_id)} bytes)`);
    t.equal(rec?.key, e.learner_id, `event ${i}: key whole (${Buffer.byteLength(e.learner_id)} bytes)`);
  }
  const dead = await readTopic(bootstrap, DLQ, (rs) => rs.length >= invalid.length, 60_000);
  for (const [i, e] of invalid.entries()) {
    const rec = dead.find((x) => (JSON.parse(x.value) as { original_event: { event_id: string } }).original_event.event_id === e.event_id);
    t.ok(rec, `dead letter ${i} in the DLQ`);
    t.equal(rec?.headers.tenant_id, e.tenant_id, `dead letter ${i}: tenant_id header whole`);
  }
});
