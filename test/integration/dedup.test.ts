/**
 * Client retries across processes: a batch resent to a different collector process of
 * the same host is acknowledged again but not written to Kafka twice.
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { sharedBroker } from '../helpers/broker.js';
import { createTopics } from '../helpers/topics.js';
import { startCollector, waitHealthy } from '../helpers/collector.js';
import { readUntilIds } from '../helpers/consumer.js';
import { syntheticBatch } from '../../src/pipeline/synthetic.js';

t.test('a batch resent to another process is acknowledged, not written twice', async (t) => {
  const { bootstrap } = sharedBroker();
  const topic = `events-dedup-${randomUUID().slice(0, 8)}`;
  await createTopics([{ name: topic, partitions: 3 }, { name: `${topic}-dlq`, partitions: 1 }]);
  const dedupPath = join(os.tmpdir(), `dedup-${randomUUID()}.dedup`);
  t.teardown(() => rmSync(dedupPath, { force: true }));
  const env = { KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: topic, DLQ_TOPIC: `${topic}-dlq`, DEDUP_PATH: dedupPath, DEDUP_CAPACITY: '65536' };
  const a = await startCollector({ ...env, INSTANCE_ID: '0' });
  const b = await startCollector({ ...env, INSTANCE_ID: '1' });
  t.teardown(async () => {
    await a.stop();
    await b.stop();
  });
  await waitHealthy(a.url);
  await waitHealthy(b.url);

  const events = syntheticBatch(50);
  const post = (url: string, body: unknown) =>
    fetch(`${url}/api/v1/collect`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

  const first = await post(a.url, events);
  t.equal(first.status, 200);
  t.match(await first.json(), { accepted_count: 50, duplicate_count: 0 });

  // The retry lands on the other process, with two new events added.
  const extra = syntheticBatch(2, {}, 100);
  const again = await post(b.url, [...events, ...extra]);
  t.equal(again.status, 200);
  const body = (await again.json()) as { accepted_count: number; duplicate_count: number; duplicates: { index: number }[]; warnings: string[] };
  t.equal(body.accepted_count, 52, 'everything acknowledged');
  t.equal(body.duplicate_count, 50, 'the 50 resent events are duplicates');
  t.same(body.duplicates.map((d) => d.index), [...Array(50).keys()]);
  t.match(body.warnings.join(' '), /already acknowledged/);

  const ids = [...events, ...extra].map((e) => e.event_id as string);
  const records = await readUntilIds(bootstrap, topic, ids);
  await new Promise((r) => setTimeout(r, 1000));
  const again2 = await readUntilIds(bootstrap, topic, ids);
  const counts = new Map<string, number>();
  for (const r of again2) {
    const id = (JSON.parse(r.value) as { event_id: string }).event_id;
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  t.ok(records.length >= 52);
  t.same(ids.filter((id) => counts.get(id) !== 1), [], 'each event is in Kafka exactly once');
  const m = (await (await fetch(`${b.url}/api/v1/metrics`)).json()) as { per_process?: unknown[] };
  t.ok(m, 'metrics answer');
  const prom = await (await fetch(`${b.url}/metrics`)).text();
  t.match(prom, /collector_dedup_duplicates_total\{[^}]*\} 50/, 'duplicates counted in Prometheus');
});
