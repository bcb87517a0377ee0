/**
 * Every Kafka compression codec the collector offers, end to end on the real broker: the collector
 * starts with it, and the records it writes read back whole. zstd needs librdkafka built with libzstd
 * (.ci/run installs libzstd-dev before `npm ci`); CI fails without it, elsewhere the zstd case is skipped.
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { sharedBroker } from '../../helpers/broker.js';
import { createTopics } from '../../helpers/topics.js';
import { startCollector } from '../../helpers/collector.js';
import { readUntilIds } from '../../helpers/consumer.js';
import { syntheticBatch } from '../../../src/pipeline/synthetic.js';
import { librdkafkaFeatures, supportedCompression } from '../../../src/producer/features.js';

const { bootstrap } = sharedBroker();

t.test('this install can write zstd (CI installs libzstd-dev before npm ci)', { skip: process.env.CI ? false : 'CI only: a local install may lack libzstd-dev' }, async (t) => {
  t.ok(librdkafkaFeatures().includes('zstd'), `librdkafka features: ${librdkafkaFeatures().join(', ')}`);
});

for (const codec of ['zstd', 'lz4', 'gzip'] as const) {
  const skip = supportedCompression().includes(codec) ? false : `this librdkafka has no ${codec}`;
  t.test(`KAFKA_COMPRESSION_TYPE=${codec}: events land and read back unchanged`, { skip }, async (t) => {
    const topic = `events-${codec}-${randomUUID().slice(0, 8)}`;
    await createTopics([{ name: topic, partitions: 3 }, { name: `${topic}-dlq`, partitions: 1 }]);
    const collector = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: topic, DLQ_TOPIC: `${topic}-dlq`,
      KAFKA_COMPRESSION_TYPE: codec });
    t.teardown(() => collector.stop());
    const events = syntheticBatch(200, { learners: 7 });
    const r = await fetch(`${collector.url}/api/v1/collect`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
    t.equal(r.status, 200, await r.clone().text());
    const records = await readUntilIds(bootstrap, topic, events.map((e) => e.event_id as string));
    t.equal(records.length, 200, 'every event once');
    const byId = new Map(records.map((rec) => [(JSON.parse(rec.value) as { event_id: string }).event_id, rec]));
    for (const e of events.slice(0, 5)) {
      const got = JSON.parse(byId.get(e.event_id as string)!.value) as Record<string, unknown>;
      t.same(got.event_data, e.event_data, 'payload unchanged through the codec');
      t.equal(byId.get(e.event_id as string)!.key, e.learner_id, 'keyed by learner');
    }
  });
}
