// Integration test of the harness itself: a private broker (not the shared one), a real
// produce/consume round trip, and data surviving SIGKILL + restart on the same ports.
import t from 'tap';
import Kafka from 'node-rdkafka';
import { LocalBroker } from '../../../kafka/broker.js';

t.setTimeout(240_000); // JVM start twice + maybe a first-time mvn resolve; tap's default is 30 s

async function produce(bootstrap: string, topic: string, values: string[]): Promise<Kafka.DeliveryReport[]> {
  // acks is a topic-level property: node-rdkafka ignores it in the global config.
  const p = new Kafka.Producer({ 'metadata.broker.list': bootstrap, dr_cb: true }, { acks: -1 });
  await new Promise<void>((res, rej) => p.connect({}, (err) => (err ? rej(err) : res())));
  p.setPollInterval(20);
  const reports: Kafka.DeliveryReport[] = [];
  const done = new Promise<void>((res, rej) =>
    p.on('delivery-report', (err, r) => (err ? rej(err) : reports.push(r) === values.length && res())));
  values.forEach((v, i) => { p.produce(topic, null, Buffer.from(v), `k${i}`); });
  await done;
  await new Promise((r) => p.disconnect(5_000, r));
  return reports;
}

async function consumeAll(bootstrap: string, topic: string, want: number): Promise<string[]> {
  // A fresh group each time + earliest = read from the beginning; subscribe (not assign) so the
  // group coordinator and its RF-1 __consumer_offsets topic are exercised too.
  const c = new Kafka.KafkaConsumer(
    { 'metadata.broker.list': bootstrap, 'group.id': `g-${process.pid}-${Date.now()}`, 'enable.auto.commit': false },
    { 'auto.offset.reset': 'earliest' });
  await new Promise<void>((res, rej) => c.connect({}, (err) => (err ? rej(err) : res())));
  c.subscribe([topic]);
  const got: string[] = [];
  for (const end = Date.now() + 30_000; got.length < want && Date.now() < end;) {
    const msgs = await new Promise<Kafka.Message[]>((res, rej) => c.consume(10, (err, m) => (err ? rej(err) : res(m))));
    for (const m of msgs) got.push(m.value?.toString() ?? '');
  }
  await new Promise((r) => c.disconnect(r));
  return got.sort();
}

t.test('LocalBroker: produce, consume, survive kill + restart', async (t) => {
  let ms = Date.now();
  const broker = await LocalBroker.start();
  t.comment(`start: ${Date.now() - ms} ms at ${broker.bootstrap} (pid ${broker.pid}, ${broker.dataDir})`);
  t.teardown(() => broker.destroy());
  t.match(broker.bootstrap, /^127\.0\.0\.1:\d+$/);

  ms = Date.now();
  await broker.createTopics([{ name: 'harness', partitions: 2, config: { 'retention.ms': '3600000' } }]);
  await broker.createTopics([{ name: 'harness', partitions: 2 }]); // idempotent
  t.comment(`createTopics: ${Date.now() - ms} ms`);

  const values = ['a', 'b', 'c'];
  const reports = await produce(broker.bootstrap, 'harness', values);
  t.equal(reports.length, 3, 'three delivery reports');
  t.ok(reports.every((r) => r.offset >= 0 && r.partition >= 0), 'each report has a partition and offset');
  t.same(await consumeAll(broker.bootstrap, 'harness', 3), values, 'read back from the beginning');

  const { port, pid } = broker;
  await broker.kill();
  t.notOk(broker.isRunning(), 'killed');
  ms = Date.now();
  await broker.restart();
  t.comment(`restart after SIGKILL: ${Date.now() - ms} ms`);
  t.equal(broker.port, port, 'same port');
  t.not(broker.pid, pid, 'new process');
  t.same(await consumeAll(broker.bootstrap, 'harness', 3), values, 'data survived SIGKILL');

  ms = Date.now();
  await broker.stop();
  t.comment(`stop (SIGTERM): ${Date.now() - ms} ms`);
  t.notOk(broker.isRunning(), 'stopped');
});
