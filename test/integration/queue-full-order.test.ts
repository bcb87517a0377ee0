/**
 * Per-learner order when the producer's queue fills in the middle of a batch, against the real
 * collector and broker: a record refused with QUEUE_FULL is spilled and replayed, so no later
 * record of its batch may be sent live ahead of it. Everything answered 2xx is read back and
 * checked in Kafka order, per learner (first copies).
 */
import t, { type Test } from 'tap';
import { randomUUID } from 'node:crypto';
import { sharedBroker } from '../helpers/broker.js';
import { createTopics } from '../helpers/topics.js';
import { startCollector, waitHealthy, type RunningCollector } from '../helpers/collector.js';
import { readUntilIds } from '../helpers/consumer.js';
import { orderViolations, runLoad, sleep, waitDrained } from '../helpers/load.js';
import { syntheticEvent } from '../../src/pipeline/synthetic.js';

t.setTimeout(240_000);

const { bootstrap } = sharedBroker();
const TOPIC = `events-qfull-${randomUUID().slice(0, 8)}`;
const DLQ = `${TOPIC}-dlq`;

t.before(async () => {
  await createTopics([
    { name: TOPIC, partitions: 3 },
    { name: DLQ, partitions: 1 },
  ]);
});

async function collector(t: Test, env: Record<string, string>): Promise<RunningCollector> {
  const c = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ, ...env });
  t.teardown(() => c.stop());
  await waitHealthy(c.url);
  return c;
}

/** Only what was acknowledged counts: the records of those ids, in the order read. */
function acknowledged(records: { key: string | null; value: string }[], acked: Set<string>) {
  return records.filter((r) => acked.has((JSON.parse(r.value) as { event_id: string }).event_id));
}

t.test('a record refused mid-batch by a full queue is not overtaken by the records after it', async (t) => {
  // A 64 KiB queue: the first 40 KB event fits, the second does not, the small ones after it would.
  const c = await collector(t, { KAFKA_CONFIG_JSON: JSON.stringify({ 'queue.buffering.max.kbytes': '64' }) });
  const learner = `learner_${randomUUID().slice(0, 8)}`;
  const events = Array.from({ length: 10 }, (_, seq) => ({
    ...syntheticEvent(seq),
    event_id: randomUUID(),
    learner_id: learner,
    event_data: { seq, pad: seq < 2 ? 'x'.repeat(40_000) : '' },
  }));
  const r = await fetch(`${c.url}/api/v1/collect`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
  const body = (await r.json()) as { accepted_count?: number; buffered?: boolean };
  t.equal(r.status, 200, 'answered 2xx');
  t.equal(body.accepted_count, 10);
  t.equal(body.buffered, true, 'the refused record (and what follows it) went to the spill log');

  const ids = events.map((e) => e.event_id);
  const got = await readUntilIds(bootstrap, TOPIC, ids);
  const mine = acknowledged(got, new Set(ids));
  t.same(orderViolations(mine), [], 'the learner\'s events are in Kafka in the order sent');
  const firsts = [...new Map(mine.map((m) => [(JSON.parse(m.value) as { event_id: string }).event_id, m])).keys()];
  t.same(firsts, ids, 'every event, first copies in batch order');
});

t.test('under load with a small producer queue, every learner\'s acknowledged events stay in order', async (t) => {
  // The smallest queue allowed (1000 records) and 300-event batches from six clients at once: the queue fills
  // mid-batch again and again. A replay chunk still fits it (half the queue, at least one batch).
  const c = await collector(t, { KAFKA_QUEUE_MAX_MESSAGES: '1000' });
  const load = await runLoad({ urls: () => [c.url], clients: 6, batchSize: 300, until: sleep(8_000) });
  t.ok(load.acked.size > 0, `${load.acked.size} events acknowledged (${JSON.stringify([...load.statuses])})`);
  t.ok(load.buffered > 0, `the queue filled: ${load.buffered} batches were answered from the spill log`);
  await waitDrained(c.url, 120_000);
  const got = await readUntilIds(bootstrap, TOPIC, load.acked.keys(), 120_000);
  const mine = acknowledged(got, new Set(load.acked.keys()));
  t.equal(new Set(mine.map((m) => (JSON.parse(m.value) as { event_id: string }).event_id)).size, load.acked.size, 'every acknowledged event is in Kafka');
  t.same(orderViolations(mine), [], 'no learner\'s events out of order');
});
