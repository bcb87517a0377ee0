/**
 * A batch is produced in one call; librdkafka may refuse a record of it with QUEUE_FULL and
 * take the next one (the queue drained in between, or the next record is smaller). The refused
 * record is spilled and replayed later, so a later record taken then would reach Kafka first
 * although both were answered 2xx. Against the real librdkafka and broker: a queue of 1 KiB
 * (queue.buffering.max.kbytes) refuses a 2 KB record whatever it holds and takes a small one,
 * so the refusal mid-batch is certain.
 */
import t, { type Test } from 'tap';
import pino from 'pino';
import { randomUUID } from 'node:crypto';
import { sharedBroker } from '../../helpers/broker.js';
import { createTopics } from '../../helpers/topics.js';
import { readTopic } from '../../helpers/consumer.js';
import { loadConfig } from '../../../src/config/load.js';
import { EventProducer } from '../../../src/producer/producer.js';
import { isQueueFull } from '../../../src/producer/classify.js';
import { PackedBuilder, type PackedRecords } from '../../../src/codec/packed.js';

const { bootstrap } = sharedBroker();
const TOPIC = `events-qfull-${randomUUID().slice(0, 8)}`;
const KEY = 'learner_0001';
const BIG = 'x'.repeat(2000);

t.before(async () => {
  await createTopics([{ name: TOPIC, partitions: 1 }]);
});

/** A connected producer whose queue holds `kbytes` KiB, closed when the test ends. */
async function producer(t: Test, kbytes: number): Promise<EventProducer> {
  const config = loadConfig({
    KAFKA_BOOTSTRAP_SERVERS: bootstrap,
    KAFKA_CONFIG_JSON: JSON.stringify({ 'queue.buffering.max.kbytes': String(kbytes) }),
  });
  const p = new EventProducer(config, pino({ level: 'silent' }));
  await p.connect();
  t.teardown(async () => {
    await p.flush(5000);
    await p.disconnect();
  });
  return p;
}

function records(values: { tag: string; body?: string; key?: string }[]): PackedRecords {
  const b = new PackedBuilder();
  values.forEach((v, i) => { b.add(JSON.stringify({ tag: v.tag, body: v.body ?? '' }), v.key ?? KEY, [], v.tag, i); });
  return b.build();
}

/** Tags of the topic's records, read until `last` is there. */
async function tagsUntil(last: string): Promise<string[]> {
  const got = await readTopic(bootstrap, TOPIC, (rs) => rs.some((r) => (JSON.parse(r.value) as { tag: string }).tag === last));
  return got.map((r) => (JSON.parse(r.value) as { tag: string }).tag);
}

t.test('a record refused with queue-full holds back the records after it in its batch', async (t) => {
  const p = await producer(t, 1);
  const run = randomUUID().slice(0, 8);
  // Record 0 can never fit the 1 KiB queue; record 1 would (the queue is empty).
  const got = await p.send(TOPIC, records([{ tag: `${run}-0`, body: BIG }, { tag: `${run}-1` }]), [], Date.now());
  t.same(got.failures.map((f) => f.record), [0, 1], 'both records come back not enqueued, in record order');
  t.ok(got.failures.every((f) => isQueueFull(f.code, f.message)), 'as queue-full: they never left this process (no duplicate to count)');

  // A marker sent after: once it is in Kafka, anything of the batch that was enqueued is too.
  const marker = `${run}-marker`;
  t.same((await p.send(TOPIC, records([{ tag: marker }]), [], Date.now())).failures, [], 'the marker is delivered');
  const tags = await tagsUntil(marker);
  t.notOk(tags.includes(`${run}-1`), 'record 1 did not reach Kafka ahead of the refused record 0');
});

t.test('records before the refusal are delivered; the refusal and all after it come back, in order', async (t) => {
  const p = await producer(t, 4);
  const run = randomUUID().slice(0, 8);
  // 3 KB fits the 4 KiB queue once; the second 3 KB record does not, the small ones after it would.
  const big = 'x'.repeat(3000);
  const batch = [{ tag: `${run}-0`, body: big }, { tag: `${run}-1`, body: big }, { tag: `${run}-2` }, { tag: `${run}-3`, key: 'learner_0002' }];
  const got = await p.send(TOPIC, records(batch), [], Date.now());
  t.same(got.failures.map((f) => f.record), [1, 2, 3], 'records 1..3 are not enqueued, whatever their key');
  const marker = `${run}-marker`;
  t.same((await p.send(TOPIC, records([{ tag: marker }]), [], Date.now())).failures, [], 'a marker sent after is delivered');
  const tags = await tagsUntil(marker);
  t.ok(tags.includes(`${run}-0`), 'record 0 was delivered');
  t.notOk(tags.includes(`${run}-2`) || tags.includes(`${run}-3`), 'nothing after the refusal was delivered');
});

t.test('a record too large for Kafka holds back nothing: it is its own fault, its neighbours go on', async (t) => {
  const p = await producer(t, 1024);
  const run = randomUUID().slice(0, 8);
  // Above message.max.bytes (1,000,000 by default): refused at once, for good (a poison pill).
  const huge = 'y'.repeat(1_100_000);
  const got = await p.send(TOPIC, records([{ tag: `${run}-0`, body: huge }, { tag: `${run}-1` }]), [], Date.now());
  t.same(got.failures.map((f) => f.record), [0], 'only the oversized record is refused');
  t.notOk(isQueueFull(got.failures[0]!.code, got.failures[0]!.message), 'as too large, not queue-full');
  t.ok((await tagsUntil(`${run}-1`)).includes(`${run}-1`), 'its neighbour is delivered');
});
