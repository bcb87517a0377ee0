/**
 * Two collector hosts on one Kafka and one redis-server (REDIS_URL): a batch acknowledged by host A
 * and retried on host B is acknowledged again by B but not written twice; a tenant's quota is one
 * quota for both; and a host whose store is unreachable still takes everything, saying degraded.
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { sharedBroker } from '../../helpers/broker.js';
import { createTopics } from '../../helpers/topics.js';
import { freePort, startCollector } from '../../helpers/collector.js';
import { readUntilIds } from '../../helpers/consumer.js';
import { startRedis } from '../../helpers/redis.js';
import { syntheticBatch } from '../../../src/pipeline/synthetic.js';
import { sleep } from '../../helpers/load.js';

t.setTimeout(240_000);

const post = (url: string, body: unknown) =>
  fetch(`${url}/api/v1/collect`, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

t.test('shared store: a retry on another host is a duplicate, a quota is one quota for both hosts', async (t) => {
  const { bootstrap } = sharedBroker();
  const topic = `events-shared-${randomUUID().slice(0, 8)}`;
  await createTopics([{ name: topic, partitions: 2 }, { name: `${topic}-dlq`, partitions: 1 }]);
  const redis = await startRedis(t);
  const quotaFile = join(os.tmpdir(), `quotas-${randomUUID()}.json`);
  writeFileSync(quotaFile, JSON.stringify({ quotas: { metered: { events_per_second: 200, burst_seconds: 1 } } }));
  const env = {
    KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: topic, DLQ_TOPIC: `${topic}-dlq`, REDIS_URL: redis.url, REDIS_TIMEOUT_MS: '250',
    TENANT_QUOTAS_FILE: quotaFile, REDIS_KEY_PREFIX: `t${randomUUID().slice(0, 6)}:`,
  };
  const a = await startCollector({ ...env, HOST_NAMESPACE: 'a' });
  const b = await startCollector({ ...env, HOST_NAMESPACE: 'b' });
  t.teardown(async () => {
    await a.stop();
    await b.stop();
  });

  const events = syntheticBatch(20);
  const first = await post(a.url, events);
  t.equal(first.status, 200);
  t.match(await first.json(), { accepted_count: 20, duplicate_count: 0 });
  const retry = await post(b.url, events);
  t.equal(retry.status, 200);
  t.match(await retry.json(), { accepted_count: 20, duplicate_count: 20 }, 'host B knows host A acknowledged them');
  const ids = events.map((e) => e.event_id as string);
  await readUntilIds(bootstrap, topic, ids);
  await sleep(1000);
  const records = await readUntilIds(bootstrap, topic, ids);
  const seen = records.map((r) => (JSON.parse(r.value) as { event_id: string }).event_id).filter((id) => ids.includes(id));
  t.equal(seen.length, 20, 'each event once in Kafka');

  // 200 events/s for the tenant, load alternating between the hosts for 5 s: ~200/s accepted, not ~400/s.
  let accepted = 0;
  const started = Date.now();
  let n = 0;
  const other: number[] = [];
  while (Date.now() - started < 5000) {
    const batch = syntheticBatch(10).map((e) => ({ ...e, tenant_id: 'metered' }));
    const r = await post(n++ % 2 ? a.url : b.url, batch);
    if (r.status === 200) accepted += ((await r.json()) as { accepted_count: number }).accepted_count;
    else {
      if (r.status !== 429) other.push(r.status);
      await r.arrayBuffer();
      await sleep(10);
    }
  }
  t.same(other, [], 'over the quota: 429, nothing else');
  const rate = accepted / ((Date.now() - started) / 1000);
  t.ok(rate < 200 * 1.25, `accepted ${Math.round(rate)} events/s of a 200/s quota over two hosts`);
  t.ok(rate > 200 * 0.75, `accepted ${Math.round(rate)} events/s: the quota is used`);

  // Every batch's claim and quota calls went to the store, and their durations are on record.
  const prom = await (await fetch(`${a.url}/metrics`)).text();
  for (const call of ['dedup_claim', 'quota']) {
    const count = Number(new RegExp(`collector_shared_store_call_seconds_count\\{[^}]*call="${call}"[^}]*\\} (\\d+)`).exec(prom)?.[1] ?? 0);
    t.ok(count >= Math.floor(n / 2), `${count} ${call} calls timed on host A (${n} batches over both hosts)`);
  }
});

t.test('store unreachable at start: batches are taken, health says degraded and why', async (t) => {
  const { bootstrap } = sharedBroker();
  const topic = `events-nostore-${randomUUID().slice(0, 8)}`;
  await createTopics([{ name: topic, partitions: 1 }, { name: `${topic}-dlq`, partitions: 1 }]);
  const dead = await freePort();
  const c = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: topic, DLQ_TOPIC: `${topic}-dlq`, REDIS_URL: `redis://user:s3cret@127.0.0.1:${dead}` });
  t.teardown(() => c.stop());
  const events = syntheticBatch(5);
  const r = await post(c.url, events);
  t.equal(r.status, 200, 'taken without the store');
  const again = await post(c.url, events);
  t.match(await again.json(), { duplicate_count: 5 }, 'host-local dedup still holds');
  const health = (await (await fetch(`${c.url}/api/v1/health`)).json()) as { status: string; shared_store?: { state: string; reason?: string } };
  t.equal(health.status, 'degraded');
  t.equal(health.shared_store?.state, 'degraded');
  t.match(health.shared_store?.reason ?? '', /\S/, 'with the reason');
  t.notMatch(c.logs.join(''), /s3cret/, 'the password is never logged');
  t.match(c.logs.join(''), /SHARED STORE DEGRADED/);
  const prom = await (await fetch(`${c.url}/metrics`)).text();
  t.match(prom, /collector_shared_store_up\{[^}]*\} 0/);
});
