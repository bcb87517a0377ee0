/**
 * Kafka outages lose nothing: a broker SIGKILLed under steady load, requests keep
 * answering 2xx (buffered), the broker comes back, and a consumer finds every
 * acknowledged event — in per-learner order for clients that wait for each answer.
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { LocalBroker } from '../../kafka/broker.js';
import { startCollector } from '../helpers/collector.js';
import { readUntilIds, eventIds } from '../helpers/consumer.js';
import { orderViolations, runLoad, sleep, waitDrained } from '../helpers/load.js';

t.setTimeout(400_000);
const TOPIC = `events-outage-${randomUUID().slice(0, 8)}`;
const DLQ = `${TOPIC}-dlq`;

t.test('broker SIGKILLed under load: every acknowledged event reaches Kafka, in order', async (t) => {
  const broker = await LocalBroker.start({ heapMb: 384 });
  t.teardown(() => broker.destroy());
  await broker.createTopics([
    { name: TOPIC, partitions: 3 },
    { name: DLQ, partitions: 1 },
  ]);
  const collector = await startCollector({
    KAFKA_BOOTSTRAP_SERVERS: broker.bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ, SPILL_AFTER_MS: '1000', CIRCUIT_PROBE_MS: '500',
  });
  t.teardown(() => collector.stop());

  let stopLoad!: () => void;
  const loading = runLoad({ urls: () => [collector.url], clients: 4, batchSize: 20, until: new Promise<void>((r) => (stopLoad = r)), pauseMs: 5 });
  await sleep(2000);
  await broker.kill();
  await sleep(5000);
  const during = (await (await fetch(`${collector.url}/api/v1/health`)).json()) as { circuit_state: string; buffer_status: { buffered_events: number } };
  await broker.restart();
  await sleep(3000);
  stopLoad();
  const load = await loading;

  t.equal(during.circuit_state, 'open', 'the circuit opened during the outage');
  t.ok(during.buffer_status.buffered_events > 0, 'events were buffered on disk during the outage');
  t.ok(load.buffered > 0, `${load.buffered} answers said buffered`);
  t.equal([...load.statuses.keys()].filter((s) => s >= 300).length, 0, `only 2xx answers: ${JSON.stringify([...load.statuses])}`);
  t.ok(load.acked.size > 500, `${load.acked.size} events acknowledged`);

  await waitDrained(collector.url);
  const records = await readUntilIds(broker.bootstrap, TOPIC, load.acked.keys());
  const found = eventIds(records);
  const missing = [...load.acked.keys()].filter((id) => !found.has(id));
  t.same(missing, [], 'every acknowledged event is in Kafka');
  t.same(orderViolations(records), [], 'per-learner order holds');
  const metrics = (await (await fetch(`${collector.url}/api/v1/metrics`)).json()) as { possible_duplicates_total: number; spilled_events_total: number; replayed_events_total: number };
  const copies = records.length - found.size;
  t.ok(copies <= metrics.possible_duplicates_total, `duplicates in Kafka (${copies}) are all counted (${metrics.possible_duplicates_total})`);
  t.ok(metrics.replayed_events_total >= metrics.spilled_events_total, 'everything spilled was replayed');
});

t.test('collector SIGKILLed while spilling and again while replaying: nothing acknowledged is missing', async (t) => {
  const broker = await LocalBroker.start({ heapMb: 384 });
  t.teardown(() => broker.destroy());
  const topic = `${TOPIC}-kill`;
  await broker.createTopics([
    { name: topic, partitions: 3 },
    { name: DLQ, partitions: 1 },
  ]);
  const env = { KAFKA_BOOTSTRAP_SERVERS: broker.bootstrap, KAFKA_TOPIC: topic, DLQ_TOPIC: DLQ, SPILL_AFTER_MS: '500', CIRCUIT_PROBE_MS: '500', INSTANCE_ID: '0' };
  let collector = await startCollector(env);
  const bufferDir = collector.bufferDir;
  const acked = new Set<string>();
  const keep = (r: { acked: Map<string, unknown> }) => r.acked.forEach((_, id) => acked.add(id));

  // 1: Kafka down, spilling, then kill -9 mid-load.
  await broker.kill();
  let stop!: () => void;
  let loading = runLoad({ urls: () => [collector.url], clients: 4, batchSize: 50, until: new Promise<void>((r) => (stop = r)) });
  await sleep(3000);
  await collector.kill();
  stop();
  keep(await loading);
  t.ok(acked.size > 0, `${acked.size} events acknowledged before the first kill`);

  // 2: restart on the same directory, build a larger backlog, bring Kafka back, kill -9 mid-replay.
  collector = await startCollector({ ...env, BUFFER_DIR: bufferDir });
  loading = runLoad({ urls: () => [collector.url], clients: 4, batchSize: 200, until: new Promise<void>((r) => (stop = r)) });
  await sleep(4000);
  stop();
  keep(await loading);
  await broker.restart();
  let sawReplay = false;
  for (let i = 0; i < 400; i++) {
    const m = (await (await fetch(`${collector.url}/api/v1/metrics`)).json()) as { replayed_events_total: number; buffer_events_count: number };
    if (m.replayed_events_total > 0 && m.buffer_events_count > 0) {
      sawReplay = true;
      break;
    }
    if (m.buffer_events_count === 0 && m.replayed_events_total > 0) break;
    await sleep(10);
  }
  await collector.kill();
  // On a loaded machine the replay can finish between two polls; the durability check below holds either way.
  if (sawReplay) t.pass('killed while replaying (some replayed, some still on disk)');
  else t.comment('the replay finished before the kill landed: this run checked a kill after replay');

  // 3: restart; everything drains.
  collector = await startCollector({ ...env, BUFFER_DIR: bufferDir });
  t.teardown(() => collector.stop());
  await waitDrained(collector.url);
  const records = await readUntilIds(broker.bootstrap, topic, acked);
  const found = eventIds(records);
  t.same([...acked].filter((id) => !found.has(id)), [], `all ${acked.size} acknowledged events are in Kafka`);
});

t.test('spill cap reached: 503 with Retry-After, and nothing already accepted is lost', async (t) => {
  const env = { KAFKA_BOOTSTRAP_SERVERS: '127.0.0.1:1', KAFKA_TOPIC: `${TOPIC}-cap`, DLQ_TOPIC: DLQ, MAX_BUFFER_SIZE_MB: '1', SPILL_SEGMENT_MB: '1', INSTANCE_ID: '0' };
  let collector = await startCollector(env);
  const bufferDir = collector.bufferDir;
  const acked = new Set<string>();
  let full: Response | undefined;
  for (let i = 0; i < 400 && !full; i++) {
    const events = Array.from({ length: 100 }, (_, k) => ({ ...syntheticLike(k), event_id: randomUUID() }));
    const r = await fetch(`${collector.url}/api/v1/collect`, { method: 'POST', body: JSON.stringify(events), headers: { 'content-type': 'application/json' } });
    if (r.status === 200) events.forEach((e) => acked.add(e.event_id));
    else full = r;
  }
  t.ok(full, 'the cap was reached');
  t.equal(full?.status, 503);
  t.ok(Number(full?.headers.get('retry-after')) >= 1, 'Retry-After is set');
  t.equal(((await full?.json()) as { error: { code: string } }).error.code, 'COLLECTOR_ERR_BUFFER_FULL');
  await collector.stop();

  const broker = await LocalBroker.start({ heapMb: 384 });
  t.teardown(() => broker.destroy());
  await broker.createTopics([
    { name: env.KAFKA_TOPIC, partitions: 3 },
    { name: DLQ, partitions: 1 },
  ]);
  collector = await startCollector({ ...env, KAFKA_BOOTSTRAP_SERVERS: broker.bootstrap, BUFFER_DIR: bufferDir });
  t.teardown(() => collector.stop());
  await waitDrained(collector.url);
  const records = await readUntilIds(broker.bootstrap, env.KAFKA_TOPIC, acked);
  const found = eventIds(records);
  t.same([...acked].filter((id) => !found.has(id)), [], `all ${acked.size} events accepted before the cap are in Kafka`);
});

function syntheticLike(i: number) {
  return {
    learner_id: `learner_${i % 10}`,
    tenant_id: 'tenant_alpha',
    event_type: 'interaction',
    timestamp: new Date().toISOString(),
    source_service: 'cap-test',
    event_data: { i, pad: 'x'.repeat(200) },
  };
}
