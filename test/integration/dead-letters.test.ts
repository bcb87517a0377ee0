/**
 * Poison pills against the real broker: an event the topic refuses (over its
 * max.message.bytes) is quarantined to the DLQ with its retry count while the events
 * around it are delivered.
 */
import t from 'tap';
import Kafka from 'node-rdkafka';
import { randomBytes, randomUUID } from 'node:crypto';
import { sharedBroker } from '../helpers/broker.js';
import { createTopics } from '../helpers/topics.js';
import { startCollector } from '../helpers/collector.js';
import { readTopic, readUntilIds } from '../helpers/consumer.js';
import { syntheticBatch } from '../../src/pipeline/synthetic.js';

const { bootstrap } = sharedBroker();
const TOPIC = `events-poison-${randomUUID().slice(0, 8)}`;
const DLQ = `${TOPIC}-dlq`;

/** Produces one incompressible 4.5 kB record with a throwaway producer; the broker's verdict. */
async function probeOversized(topic: string): Promise<string> {
  const p = new Kafka.Producer({ 'bootstrap.servers': bootstrap, dr_cb: true, 'compression.codec': 'gzip' }, { acks: -1 });
  await new Promise<void>((res, rej) => p.connect({ timeout: 20_000 }, (e) => (e ? rej(e) : res())));
  p.setPollInterval(10);
  try {
    return await new Promise<string>((res) => {
      p.on('delivery-report', (err) => res(err ? err.message : 'accepted'));
      p.produce(topic, null, Buffer.from(randomBytes(4500).toString('base64')), 'probe');
    });
  } finally {
    await new Promise((r) => p.disconnect(5_000, r));
  }
}

t.test('a record over the topic max.message.bytes is quarantined; its neighbours are delivered', async (t) => {
  await createTopics([
    { name: TOPIC, partitions: 3, config: { 'max.message.bytes': '3000' } },
    { name: DLQ, partitions: 1 },
  ]);
  // The precondition, checked rather than assumed: the topic really refuses the oversized record.
  t.match(await probeOversized(TOPIC), /too large|size/i, 'the topic refuses a 4.5 kB record');
  // Regression (CI: 200 instead of 207, 3 runs in 5 here): the collector listened before its producer had
  // connected, so the batch found the circuit open, went to the spill log and was answered 200 buffered. It now
  // waits for the producer (KAFKA_CONNECT_WAIT_MS). The pill's refusal and the re-send of each record alone take
  // 0.5–1 s here; on a loaded box that must not pass SPILL_AFTER_MS and turn this test into an outage test.
  const collector = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ,
    KAFKA_LINGER_MS: '5', SPILL_AFTER_MS: '120000' });
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
  const body = (await r.json()) as { accepted_count: number; rejected_count: number; buffered?: boolean; dlq_events: { index: number; reason: string; event_id: string }[] };
  t.notOk(body.buffered, 'answered from Kafka, not the spill log');
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
