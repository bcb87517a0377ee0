/**
 * The collect path end to end: a real collector process, the real broker, and a
 * consumer that reads every claimed record back.
 */
import t from 'tap';
import { gzipSync } from 'node:zlib';
import { randomUUID } from 'node:crypto';
import { sharedBroker } from '../helpers/broker.js';
import { createTopics } from '../helpers/topics.js';
import { startCollector, waitHealthy, type RunningCollector } from '../helpers/collector.js';
import { readTopic, type ReadRecord } from '../helpers/consumer.js';
import { javaPartition } from '../helpers/murmur2.js';
import { syntheticBatch } from '../../src/pipeline/synthetic.js';

const { bootstrap } = sharedBroker();
const suffix = randomUUID().slice(0, 8);
const TOPIC = `events-collect-${suffix}`;
const DLQ = `events-dlq-collect-${suffix}`;

const specEvent = () => ({
  event_id: randomUUID(),
  learner_id: 'learner_001',
  tenant_id: 'tenant_alpha',
  event_type: 'interaction',
  timestamp: '2024-01-15T10:30:00Z',
  source_service: 'learning-app',
  event_data: { action: 'click', element: 'next_button' },
  metadata: {},
});

let collector: RunningCollector;

t.before(async () => {
  await createTopics([
    { name: TOPIC, partitions: 3 },
    { name: DLQ, partitions: 1 },
  ]);
  collector = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ, MAX_BODY_BYTES: '262144' });
  await waitHealthy(collector.url);
});
t.teardown(async () => {
  await collector?.stop();
});

const post = (body: string | Buffer, headers: Record<string, string> = { 'content-type': 'application/json' }, path = '/api/v1/collect') =>
  fetch(`${collector.url}${path}`, { method: 'POST', body, headers });

const byEventId = (records: ReadRecord[]) => new Map(records.map((r) => [(JSON.parse(r.value) as { event_id: string }).event_id, r]));

t.test('whole-batch errors: status and a JSON body with the code', async (t) => {
  const cases: [string, Promise<Response>, number, string][] = [
    ['invalid JSON', post('[{"event_id": '), 400, 'COLLECTOR_ERR_INVALID_JSON'],
    ['top-level scalar', post('"hello"'), 400, 'COLLECTOR_ERR_BATCH_SHAPE'],
    ['empty array', post('[]'), 400, 'COLLECTOR_ERR_EMPTY_BATCH'],
    ['corrupt gzip', post(Buffer.from('definitely not gzip'), { 'content-type': 'application/json', 'content-encoding': 'gzip' }), 400, 'COLLECTOR_ERR_CORRUPT_GZIP'],
    ['1001 events', post(gzipSync(JSON.stringify(syntheticBatch(1001))), { 'content-type': 'application/json', 'content-encoding': 'gzip' }), 413, 'COLLECTOR_ERR_TOO_MANY_EVENTS'],
    ['body over the byte limit', post('x'.repeat(300_000)), 413, 'COLLECTOR_ERR_BODY_TOO_LARGE'],
    ['unsupported encoding', post('[]', { 'content-type': 'application/json', 'content-encoding': 'br' }), 415, 'COLLECTOR_ERR_UNSUPPORTED_ENCODING'],
    ['wrong content type', post('[]', { 'content-type': 'text/plain' }), 415, 'COLLECTOR_ERR_UNSUPPORTED_MEDIA_TYPE'],
    ['unknown route', fetch(`${collector.url}/api/v2/nothing`), 404, 'COLLECTOR_ERR_NOT_FOUND'],
    ['wrong method', fetch(`${collector.url}/api/v1/collect`), 405, 'COLLECTOR_ERR_METHOD_NOT_ALLOWED'],
    ['bad count', post('', {}, '/api/v1/test/events?count=0'), 400, 'COLLECTOR_ERR_BAD_QUERY'],
  ];
  for (const [name, pending, status, code] of cases) {
    const r = await pending;
    t.equal(r.status, status, `${name}: status`);
    t.match(r.headers.get('content-type'), /application\/json/, `${name}: JSON`);
    const body = (await r.json()) as { error: { code: string; message: string } };
    t.equal(body.error.code, code, `${name}: code`);
    t.type(body.error.message, 'string');
  }
});

t.test('the spec curl: 200, response format, the record in Kafka with key, partition and headers', async (t) => {
  const ev = specEvent();
  const r = await post(JSON.stringify([ev]));
  t.equal(r.status, 200);
  const body = (await r.json()) as Record<string, unknown>;
  t.match(body, {
    batch_id: /^[0-9a-f-]{36}$/,
    accepted_count: 1,
    rejected_count: 0,
    processing_time_ms: Number,
    kafka_partition: javaPartition('learner_001', 3),
    dlq_events: [],
    warnings: [],
  });
  const records = await readTopic(bootstrap, TOPIC, (rs) => byEventId(rs).has(ev.event_id));
  const rec = byEventId(records).get(ev.event_id);
  if (!rec) return t.fail('event not found in Kafka');
  t.equal(rec.key, 'learner_001');
  t.equal(rec.partition, javaPartition('learner_001', 3), 'murmur2 partition as the Java client');
  t.match(rec.headers, { tenant_id: 'tenant_alpha', event_type: 'interaction', batch_id: body.batch_id, received_at: /^\d{4}-/ });
  const value = JSON.parse(rec.value) as Record<string, unknown>;
  t.same(value, { ...ev, priority: 'medium' }, 'the event with its priority defaulted');
});

t.test('batch envelope, gzip, many learners: every event lands on its learner partition', async (t) => {
  const events = syntheticBatch(200, { learners: 50 });
  const r = await post(gzipSync(JSON.stringify({ batch_id: 'batch-envelope-1', events, metadata: { source: 'mobile-app' } })), {
    'content-type': 'application/json',
    'content-encoding': 'gzip',
  });
  t.equal(r.status, 200);
  const body = (await r.json()) as { batch_id: string; accepted_count: number; kafka_partition: number | null; kafka_partitions: number[] };
  t.equal(body.batch_id, 'batch-envelope-1');
  t.equal(body.accepted_count, 200);
  t.equal(body.kafka_partition, null, 'spans several partitions');
  t.same(body.kafka_partitions, [0, 1, 2]);
  const ids = new Set(events.map((e) => e.event_id as string));
  const records = await readTopic(bootstrap, TOPIC, (rs) => [...ids].every((id) => byEventId(rs).has(id)));
  const found = byEventId(records);
  for (const e of events) {
    const rec = found.get(e.event_id as string);
    if (!rec) {
      t.fail(`missing ${e.event_id as string}`);
      continue;
    }
    if (rec.partition !== javaPartition(e.learner_id as string, 3) || rec.key !== e.learner_id) t.fail(`wrong key/partition for ${rec.key}`);
  }
  t.equal([...ids].filter((id) => found.has(id)).length, 200, 'all 200 read back');
});

t.test('mixed batch: 207, the bad events in the DLQ topic with the contract', async (t) => {
  const events: Record<string, unknown>[] = syntheticBatch(5);
  events[1]!.event_type = 'teleport';
  delete events[3]!.timestamp;
  const r = await post(JSON.stringify({ batch_id: 'mixed-1', events }));
  t.equal(r.status, 207);
  const body = (await r.json()) as { accepted_count: number; rejected_count: number; dlq_events: { index: number; event_id: string; errors: { code: string; path: string }[] }[] };
  t.equal(body.accepted_count, 3);
  t.equal(body.rejected_count, 2);
  t.same(body.dlq_events.map((d) => [d.index, d.event_id, d.errors[0]!.code, d.errors[0]!.path]), [
    [1, events[1]!.event_id, 'invalid_value', '/event_type'],
    [3, events[3]!.event_id, 'missing_field', '/timestamp'],
  ]);
  const dead = await readTopic(bootstrap, DLQ, (rs) => rs.filter((x) => x.headers.batch_id === 'mixed-1').length >= 2);
  const mine = dead.filter((x) => x.headers.batch_id === 'mixed-1');
  t.equal(mine.length, 2);
  const first = JSON.parse(mine[0]!.value) as Record<string, unknown>;
  t.match(first, { reason: 'validation', retry_count: 0, batch_id: 'mixed-1', failed_at: String, event_index: 1, tenant_id: 'tenant_alpha' });
  t.same(first.original_event, events[1]);
  t.match(first.errors, [{ code: 'invalid_value', path: '/event_type', message: String }]);
  t.equal(mine[0]!.headers.reason, 'validation');
  const main = await readTopic(bootstrap, TOPIC, (rs) => rs.filter((x) => x.headers.batch_id === 'mixed-1').length >= 3);
  t.equal(main.filter((x) => x.headers.batch_id === 'mixed-1').length, 3, 'the good three are in the main topic');
});

t.test('all rejected: 422 with the DLQ list and an error code', async (t) => {
  const events = syntheticBatch(2).map((e) => ({ ...e, event_id: 'nope' }));
  const r = await post(JSON.stringify(events));
  t.equal(r.status, 422);
  const body = (await r.json()) as { accepted_count: number; rejected_count: number; error: { code: string } };
  t.equal(body.accepted_count, 0);
  t.equal(body.rejected_count, 2);
  t.equal(body.error.code, 'COLLECTOR_ERR_ALL_REJECTED');
});

t.test('POST /api/v1/test/events generates valid events through the same path', async (t) => {
  const r = await post('', {}, '/api/v1/test/events?count=25');
  t.equal(r.status, 200);
  const body = (await r.json()) as { batch_id: string; accepted_count: number };
  t.equal(body.accepted_count, 25);
  const records = await readTopic(bootstrap, TOPIC, (rs) => rs.filter((x) => x.headers.batch_id === body.batch_id).length >= 25);
  t.equal(records.filter((x) => x.headers.batch_id === body.batch_id).length, 25);
});

t.test('health and metrics report the spec fields', async (t) => {
  const h = (await (await fetch(`${collector.url}/api/v1/health`)).json()) as Record<string, unknown>;
  t.match(h, {
    status: 'healthy',
    kafka_connected: true,
    buffer_status: { buffered_batches: Number, buffer_size_mb: Number },
    throughput_metrics: { events_per_second: Number, avg_processing_time_ms: Number },
    uptime_seconds: Number,
  });
  const m = (await (await fetch(`${collector.url}/api/v1/metrics`)).json()) as Record<string, number>;
  t.ok(m.events_processed_total! >= 233, 'counts the events of the tests above');
  t.ok(m.kafka_writes_total! >= 229);
  t.ok(m.dlq_events_total! >= 4);
  t.ok(m.p99_processing_time_ms! > 0);
});

t.test('Kafka unreachable from the start: accepted into the disk buffer, health degraded', async (t) => {
  const lonely = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: '127.0.0.1:1', KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ });
  try {
    const r = await fetch(`${lonely.url}/api/v1/collect`, { method: 'POST', body: JSON.stringify([specEvent()]), headers: { 'content-type': 'application/json' } });
    t.equal(r.status, 200);
    const body = (await r.json()) as { buffered: boolean; accepted_count: number; kafka_partitions: number[] };
    t.equal(body.buffered, true, 'the answer says it is on disk, not in Kafka');
    t.equal(body.accepted_count, 1);
    t.same(body.kafka_partitions, []);
    const h = await fetch(`${lonely.url}/api/v1/health`);
    t.equal(h.status, 200);
    t.match(await h.json(), { status: 'degraded', kafka_connected: false, circuit_state: 'open', buffer_status: { buffered_batches: 1, buffered_events: 1 } });
  } finally {
    await lonely.stop();
  }
});
