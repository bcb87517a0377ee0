/**
 * A device whose clock is an hour fast: its batch says sent_at 1 h ahead of the collector, and
 * every record read back from Kafka carries derived_timestamp 1 h behind its (untouched)
 * timestamp, within 1 s (the request's own time on the wire). A sent_at that is not RFC 3339 is
 * a 400 and nothing is written.
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { sharedBroker } from '../helpers/broker.js';
import { createTopics } from '../helpers/topics.js';
import { startCollector, waitHealthy, type RunningCollector } from '../helpers/collector.js';
import { readUntilIds } from '../helpers/consumer.js';
import { syntheticBatch } from '../../src/pipeline/synthetic.js';

const { bootstrap } = sharedBroker();
const suffix = randomUUID().slice(0, 8);
const TOPIC = `events-skew-${suffix}`;
const DLQ = `events-dlq-skew-${suffix}`;
const HOUR = 3_600_000;

let c: RunningCollector;
t.before(async () => {
  await createTopics([{ name: TOPIC, partitions: 3 }, { name: DLQ, partitions: 1 }]);
  c = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ });
  await waitHealthy(c.url);
});
t.teardown(async () => {
  await c?.stop();
});

const post = (body: unknown, gzip = false) => fetch(`${c.url}/api/v1/collect`, {
  method: 'POST',
  headers: { 'content-type': 'application/json', ...(gzip ? { 'content-encoding': 'gzip' } : {}) },
  body: gzip ? gzipSync(JSON.stringify(body)) : JSON.stringify(body),
});

t.test('sent_at 1 h ahead: derived_timestamp 1 h behind timestamp, within 1 s', async (t) => {
  const fast = Date.now() + HOUR; // the device's clock
  // Plain and gzip (a small body decodes on the main thread, a large gzip one in a worker).
  const small: Record<string, unknown>[] = syntheticBatch(20).map((e, i) => ({ ...e, timestamp: new Date(fast - i * 1000).toISOString() }));
  const large: Record<string, unknown>[] = syntheticBatch(600).map((e, i) => ({ ...e, timestamp: new Date(fast - i * 100).toISOString() }));
  for (const [batch, gzip] of [[small, false], [large, true]] as const) {
    const r = await post({ sent_at: new Date(fast).toISOString(), events: batch }, gzip);
    t.equal(r.status, 200, await r.text());
  }
  const sent = new Map([...small, ...large].map((e) => [e.event_id as string, e.timestamp]));
  const records = (await readUntilIds(bootstrap, TOPIC, sent.keys())).filter((r) => sent.has((JSON.parse(r.value) as { event_id: string }).event_id));
  t.equal(records.length, sent.size, 'every event read back');
  let worst = 0;
  let missing = 0;
  for (const r of records) {
    const v = JSON.parse(r.value) as { event_id: string; timestamp: string };
    if (v.timestamp !== sent.get(v.event_id)) t.fail(`timestamp changed: ${v.timestamp}`);
    const d = r.headers.derived_timestamp;
    if (d === undefined) {
      missing++;
      continue;
    }
    worst = Math.max(worst, Math.abs(Date.parse(v.timestamp) - HOUR - Date.parse(d)));
  }
  t.equal(missing, 0, 'every record has derived_timestamp');
  t.ok(worst <= 1000, `derived_timestamp is timestamp - 1 h within 1 s (worst ${worst} ms)`);
});

t.test('a sent_at that is not RFC 3339 is a 400 and writes nothing', async (t) => {
  const r = await post({ sent_at: '2026-03-01 13:00', events: syntheticBatch(2) });
  t.equal(r.status, 400);
  const body = (await r.json()) as { error: { code: string } };
  t.equal(body.error.code, 'COLLECTOR_ERR_SENT_AT');
});
