/**
 * Memory settling after work (MEMORY_SETTLE_IDLE_MS): once no batch has come for the idle time, every decode
 * worker is replaced by a fresh one. Batches that arrive while that happens — idle gaps just over the
 * setting, so the next batch comes in right as the workers go — are answered as always and all reach Kafka.
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { sharedBroker } from '../helpers/broker.js';
import { createTopics } from '../helpers/topics.js';
import { startCollector, waitHealthy } from '../helpers/collector.js';
import { readUntilIds, eventIds } from '../helpers/consumer.js';
import { syntheticBatch } from '../../src/pipeline/synthetic.js';
import { waitFor } from '../helpers/wait.js';

const settled = (logs: string[]) =>
  logs.join('').split('\n').filter((l) => l.includes('memory settled after work')).map((l) => JSON.parse(l) as { workers_replaced: number });

t.test('decode workers replaced after work; batches around the replacement are all answered and delivered', async (t) => {
  const { bootstrap } = sharedBroker();
  const topic = `events-settle-${randomUUID().slice(0, 8)}`;
  await createTopics([{ name: topic, partitions: 3 }, { name: `${topic}-dlq`, partitions: 1 }]);
  const c = await startCollector({
    KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: topic, DLQ_TOPIC: `${topic}-dlq`,
    MEMORY_SETTLE_IDLE_MS: '600', WORKER_THREADS: '2',
  });
  t.teardown(() => c.stop());
  await waitHealthy(c.url);

  const acked = new Set<string>();
  const statuses = new Map<number, number>();
  const post = async () => {
    // 500 events: decoded by a worker, not inline on the main thread.
    const events = syntheticBatch(500).map((e) => ({ ...e, event_id: randomUUID() }));
    const r = await fetch(`${c.url}/api/v1/collect`, { method: 'POST', body: JSON.stringify(events), headers: { 'content-type': 'application/json' } });
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
    await r.arrayBuffer();
    if (r.status === 200) for (const e of events) acked.add(e.event_id);
  };

  for (let i = 0; i < 3; i++) await post();
  const first = await waitFor(async () => settled(c.logs), (s) => s.length >= 1, 30_000);
  t.ok(first.length >= 1, 'settled once idle after work');
  t.equal(first[0]?.workers_replaced, 2, 'both decode workers were replaced');

  // Gaps around the idle time: some batches land while the workers are being replaced.
  const before = settled(c.logs).length;
  for (let i = 0; i < 16; i++) {
    await Promise.all([post(), post()]);
    await new Promise((r) => setTimeout(r, 550 + (i % 4) * 60));
  }
  await new Promise((r) => setTimeout(r, 1500));
  t.ok(settled(c.logs).length > before, `settled again between batches (${settled(c.logs).length - before} times)`);
  t.same([...statuses.keys()], [200], `every batch answered 200: ${JSON.stringify([...statuses])}`);
  t.equal(acked.size, 35 * 500, 'all 35 batches acknowledged');
  const records = await readUntilIds(bootstrap, topic, acked);
  const found = eventIds(records);
  t.same([...acked].filter((id) => !found.has(id)), [], 'every acknowledged event is in Kafka');
});
