/**
 * Issue #17.1: a broker that is away never uses up a spilled record's retries. With
 * KAFKA_MAX_RETRIES=1, a 1 s delivery timeout and a probe every 200 ms, the broker stays
 * down for far more than 3 probe cycles × the delivery timeout; when it is back, every
 * acknowledged event is in the main topic, every dead letter in the DLQ, and nothing was
 * quarantined as a poison pill (before the fix: timed-out probes counted as attempts, the
 * probed main-topic records became poison pills and spilled dead letters were dropped).
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { LocalBroker } from '../../kafka/broker.js';
import { startCollector } from '../helpers/collector.js';
import { readTopic, readUntilIds, eventIds } from '../helpers/consumer.js';
import { sleep, waitDrained } from '../helpers/load.js';
import { syntheticEvent } from '../../src/pipeline/synthetic.js';

t.setTimeout(300_000);

t.test('broker away for many probe cycles: nothing becomes a poison pill, nothing is dropped', async (t) => {
  const broker = await LocalBroker.start({ heapMb: 384 });
  t.teardown(() => broker.destroy());
  const topic = `events-retries-${randomUUID().slice(0, 8)}`;
  const dlq = `${topic}-dlq`;
  await broker.createTopics([{ name: topic, partitions: 3 }, { name: dlq, partitions: 1 }]);
  const collector = await startCollector({
    KAFKA_BOOTSTRAP_SERVERS: broker.bootstrap, KAFKA_TOPIC: topic, DLQ_TOPIC: dlq,
    KAFKA_MAX_RETRIES: '1', KAFKA_DELIVERY_TIMEOUT_MS: '1000', CIRCUIT_PROBE_MS: '200', SPILL_AFTER_MS: '500',
  });
  t.teardown(() => collector.stop());
  for (let h: { circuit_state?: string; kafka_connected?: boolean } = {}; !(h.kafka_connected && h.circuit_state === 'closed'); await sleep(100)) {
    h = (await (await fetch(`${collector.url}/api/v1/health`)).json()) as typeof h;
  }

  await broker.kill();
  const acked = new Set<string>();
  const invalid = new Set<string>();
  for (let b = 0; b < 10; b++) {
    const events: Record<string, unknown>[] = Array.from({ length: 20 }, (_, i) => ({ ...syntheticEvent(i), event_id: randomUUID() }));
    // one invalid event per batch: answered 207, its dead letter goes to the DLQ (spilled while Kafka is away)
    events[5] = { ...events[5], event_type: 'not-a-type' };
    const r = await fetch(`${collector.url}/api/v1/collect`, { method: 'POST', body: JSON.stringify(events), headers: { 'content-type': 'application/json' } });
    t.equal(r.status, 207, `batch ${b} answered 207 (one invalid event)`);
    events.forEach((e, i) => { (i === 5 ? invalid : acked).add(e.event_id as string); });
  }
  // Away for much longer than 3 probe cycles × the delivery timeout (3 × (200 + 1000) ms): a lower bound, not a speed assumption.
  const probeCycles = async () => {
    const text = collector.logs.join('');
    return (text.match(/kafka not reachable|circuit/g) ?? []).length;
  };
  await sleep(12_000);
  const mid = (await (await fetch(`${collector.url}/api/v1/metrics`)).json()) as { poison_pills_total: number; buffer_events_count: number };
  t.equal(mid.poison_pills_total, 0, 'no poison pill while the broker is away');
  t.ok(mid.buffer_events_count > 0, `still buffered while away (${mid.buffer_events_count} events)`);
  t.comment(`log lines about the outage: ${await probeCycles()}`);

  await broker.restart();
  await waitDrained(collector.url, 180_000);
  const main = await readUntilIds(broker.bootstrap, topic, acked, 120_000);
  const found = eventIds(main);
  t.same([...acked].filter((id) => !found.has(id)), [], `all ${acked.size} acknowledged events are in the main topic`);
  const dead = await readTopic(broker.bootstrap, dlq, (rs) => {
    const ids = new Set(rs.map((r) => (JSON.parse(r.value) as { original_event?: { event_id?: string } }).original_event?.event_id));
    return [...invalid].every((id) => ids.has(id));
  });
  const deadIds = new Set(dead.map((r) => (JSON.parse(r.value) as { original_event?: { event_id?: string } }).original_event?.event_id));
  t.same([...invalid].filter((id) => !deadIds.has(id)), [], `all ${invalid.size} dead letters are in the DLQ`);
  t.equal(dead.filter((r) => r.headers.reason === 'poison_pill').length, 0, 'no poison pill in the DLQ');
  const m = (await (await fetch(`${collector.url}/api/v1/metrics`)).json()) as { poison_pills_total: number };
  t.equal(m.poison_pills_total, 0, 'poison_pills_total is 0');
});
