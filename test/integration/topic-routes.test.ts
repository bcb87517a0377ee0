/**
 * Routing per tenant on the real broker: each tenant's events and dead letters in its own topics,
 * keyed and ordered per learner there, also through a broker outage (spilled, then replayed to the
 * routed topic); writes are counted per topic; a routed topic that does not exist stops the start.
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { LocalBroker } from '../../kafka/broker.js';
import { sharedBroker } from '../helpers/broker.js';
import { createTopics } from '../helpers/topics.js';
import { startCollector } from '../helpers/collector.js';
import { readTopic, type ReadRecord } from '../helpers/consumer.js';
import { orderViolations } from '../helpers/load.js';
import { javaPartition } from '../helpers/murmur2.js';
import { waitFor } from '../helpers/wait.js';
import { syntheticBatch } from '../../src/pipeline/synthetic.js';

function names() {
  const s = randomUUID().slice(0, 8);
  return { alpha: `events-alpha-${s}`, rest: `events-rest-${s}`, alphaDlq: `dlq-alpha-${s}`, restDlq: `dlq-rest-${s}` };
}

function mixedBatch(n: number, start: number): Record<string, unknown>[] {
  const events = syntheticBatch(n, { learners: 6 }, start);
  events.forEach((e, i) => {
    e.tenant_id = i % 3 === 0 ? 'tenant_beta' : 'tenant_alpha';
    e.event_data = { seq: start + i };
  });
  return events;
}

const tenantsOf = (rs: ReadRecord[]) => new Set(rs.map((r) => (JSON.parse(r.value) as { tenant_id: string }).tenant_id));

async function post(url: string, events: Record<string, unknown>[]) {
  const r = await fetch(`${url}/api/v1/collect`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
  return { status: r.status, body: (await r.json()) as { buffered?: boolean; accepted_count: number; rejected_count: number } };
}

t.test('each tenant to its own topics: events and dead letters, keyed and in order; counted per topic', async (t) => {
  const { bootstrap } = sharedBroker();
  const n = names();
  await createTopics([{ name: n.alpha, partitions: 3 }, { name: n.rest, partitions: 3 }, { name: n.alphaDlq, partitions: 1 }, { name: n.restDlq, partitions: 1 }]);
  const c = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: n.rest, DLQ_TOPIC: n.restDlq,
    TOPIC_ROUTES: `tenant_alpha=${n.alpha}`, DLQ_TOPIC_ROUTES: `tenant_alpha=${n.alphaDlq},*=${n.restDlq}` });
  t.teardown(() => c.stop());

  const events = mixedBatch(90, 0);
  events[1]!.timestamp = 'not a time'; // tenant_alpha, invalid
  events[3]!.timestamp = 'not a time'; // tenant_beta, invalid
  const r = await post(c.url, events);
  t.equal(r.status, 207);
  t.equal(r.body.accepted_count, 88);
  const alpha = await readTopic(bootstrap, n.alpha, (rs) => rs.length >= 59);
  const rest = await readTopic(bootstrap, n.rest, (rs) => rs.length >= 29);
  t.equal(alpha.length, 59, 'tenant_alpha\'s valid events in its topic');
  t.equal(rest.length, 29, 'everyone else\'s in KAFKA_TOPIC');
  t.same([...tenantsOf(alpha)], ['tenant_alpha']);
  t.same([...tenantsOf(rest)], ['tenant_beta']);
  t.same([...alpha, ...rest].filter((rec) => rec.partition !== javaPartition(rec.key!, 3)).length, 0, 'each in its learner_id\'s partition');
  t.same(orderViolations(alpha.map((x) => ({ key: x.key, value: x.value }))), [], 'per-learner order in the routed topic');
  const alphaDlq = await readTopic(bootstrap, n.alphaDlq, (rs) => rs.length >= 1);
  const restDlq = await readTopic(bootstrap, n.restDlq, (rs) => rs.length >= 1);
  t.equal(alphaDlq.length, 1);
  t.equal(alphaDlq[0]!.headers.tenant_id, 'tenant_alpha', 'tenant_alpha\'s dead letter in its DLQ topic');
  t.equal(restDlq.length, 1);
  t.equal(restDlq[0]!.headers.tenant_id, 'tenant_beta');

  const prom = await (await fetch(`${c.url}/metrics`)).text();
  t.match(prom, new RegExp(`collector_kafka_records_written_total\\{kind="events",topic="${n.alpha}"[^}]*\\} 59`));
  t.match(prom, new RegExp(`collector_kafka_records_written_total\\{kind="dlq",topic="${n.restDlq}"[^}]*\\} 1`));
});

t.test('a routed topic that does not exist: the start fails naming it', async (t) => {
  const { bootstrap } = sharedBroker();
  const missing = `events-nowhere-${randomUUID().slice(0, 8)}`;
  const err = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, TOPIC_ROUTES: `tenant_alpha=${missing}` }).then(() => null, (e: Error) => e);
  t.ok(err, 'the collector did not start');
  t.match(err?.message, /exited with 1 before listening/);
  t.match(err?.message, new RegExp(`topic\\(s\\) not in Kafka: ${missing}`));
});

t.test('through a broker outage: spilled, then replayed to each tenant\'s topic, in order', async (t) => {
  const broker = await LocalBroker.start();
  t.teardown(() => broker.stop());
  const n = names();
  await broker.createTopics([{ name: n.alpha, partitions: 3 }, { name: n.rest, partitions: 3 }, { name: n.alphaDlq, partitions: 1 }, { name: n.restDlq, partitions: 1 }]);
  const c = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: broker.bootstrap, KAFKA_TOPIC: n.rest, DLQ_TOPIC: n.restDlq,
    TOPIC_ROUTES: `tenant_alpha=${n.alpha}`, DLQ_TOPIC_ROUTES: `tenant_alpha=${n.alphaDlq}`, SPILL_AFTER_MS: '2000', CIRCUIT_PROBE_MS: '500' });
  t.teardown(() => c.stop());
  t.equal((await post(c.url, mixedBatch(30, 0))).status, 200, 'before the outage');
  await broker.kill();
  const during: Record<string, unknown>[] = [];
  for (let b = 0; b < 4; b++) {
    const events = mixedBatch(30, 30 + b * 30);
    during.push(...events);
    const r = await post(c.url, events);
    t.equal(r.status, 200);
    t.equal(r.body.buffered, true, 'kept in the spill log');
  }
  await broker.restart();
  const alpha = await readTopic(broker.bootstrap, n.alpha, (rs) => rs.length >= 100, 90_000);
  const rest = await readTopic(broker.bootstrap, n.rest, (rs) => rs.length >= 50, 30_000);
  t.equal(alpha.length, 100, 'every tenant_alpha event, before and after the outage, in its topic');
  t.equal(rest.length, 50);
  t.same([...tenantsOf(alpha)], ['tenant_alpha']);
  t.same([...tenantsOf(rest)], ['tenant_beta']);
  t.same(orderViolations(alpha.map((x) => ({ key: x.key, value: x.value }))), [], 'per-learner order across the outage');
  await waitFor(async () => (await (await fetch(`${c.url}/api/v1/health`)).json()) as { status: string }, (h) => h.status === 'healthy', 60_000, 500);
});
