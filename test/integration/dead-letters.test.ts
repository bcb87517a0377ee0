/**
 * Poison pills against the real broker: an event the topic refuses (over its
 * max.message.bytes) is quarantined to the DLQ with its retry count while the events
 * around it are delivered.
 */
import t from 'tap';
import { randomBytes, randomUUID } from 'node:crypto';
import { sharedBroker } from '../helpers/broker.js';
import { createTopics } from '../helpers/topics.js';
import { startCollector } from '../helpers/collector.js';
import { readTopic, readUntilIds } from '../helpers/consumer.js';
import { syntheticBatch } from '../../src/pipeline/synthetic.js';

const { bootstrap } = sharedBroker();
const TOPIC = `events-poison-${randomUUID().slice(0, 8)}`;
const DLQ = `${TOPIC}-dlq`;

t.test('a record over the topic max.message.bytes is quarantined; its neighbours are delivered', async (t) => {
  await createTopics([
    { name: TOPIC, partitions: 3, config: { 'max.message.bytes': '3000' } },
    { name: DLQ, partitions: 1 },
  ]);
  const collector = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ, KAFKA_LINGER_MS: '5' });
  t.teardown(() => collector.stop());

  const events = syntheticBatch(5, { learners: 1 });
  // Random bytes do not compress: this one record is larger than the topic takes.
  events[2]!.event_data = { blob: randomBytes(4500).toString('base64') };
  const r = await fetch(`${collector.url}/api/v1/collect`, {
    method: 'POST',
    body: JSON.stringify({ batch_id: 'poison-1', events }),
    headers: { 'content-type': 'application/json' },
  });
  t.equal(r.status, 207);
  const body = (await r.json()) as { accepted_count: number; rejected_count: number; dlq_events: { index: number; reason: string; event_id: string }[] };
  t.equal(body.accepted_count, 4);
  t.equal(body.rejected_count, 1);
  t.match(body.dlq_events, [{ index: 2, reason: 'poison_pill', event_id: events[2]!.event_id }]);

  const good = events.filter((_, i) => i !== 2).map((e) => e.event_id as string);
  const main = await readUntilIds(bootstrap, TOPIC, good);
  const ids = main.map((m) => (JSON.parse(m.value) as { event_id: string }).event_id);
  t.same(ids.filter((id) => good.includes(id)).sort(), [...good].sort(), 'the four neighbours are in the main topic');
  t.notOk(ids.includes(events[2]!.event_id as string), 'the poison pill is not');

  const dead = await readTopic(bootstrap, DLQ, (rs) => rs.some((x) => x.headers.reason === 'poison_pill'));
  const pill = dead.find((x) => x.headers.reason === 'poison_pill');
  if (!pill) return t.fail('no poison pill in the DLQ');
  const v = JSON.parse(pill.value) as Record<string, unknown>;
  t.match(v, { reason: 'poison_pill', batch_id: 'poison-1', event_index: 2, tenant_id: 'tenant_alpha', failed_at: String });
  t.ok((v.retry_count as number) >= 1, 'retry_count says how often it was tried');
  t.equal((v.original_event as { event_id: string }).event_id, events[2]!.event_id, 'the original event');
  t.match((v.errors as { message: string }[])[0]!.message, /too large|size/i);
  const m = (await (await fetch(`${collector.url}/api/v1/metrics`)).json()) as { poison_pills_total: number };
  t.equal(m.poison_pills_total, 1);
});
