/** Content-Encoding: zstd on the real collect path: decoded, validated, written, read back. */
import t from 'tap';
import { compress } from 'zstd-napi';
import { sharedBroker } from '../helpers/broker.js';
import { startCollector } from '../helpers/collector.js';
import { readUntilIds } from '../helpers/consumer.js';
import { syntheticBatch } from '../../src/pipeline/synthetic.js';

t.test('a zstd body lands like a gzip one; a corrupt one is a 400 naming zstd', async (t) => {
  const { bootstrap } = sharedBroker();
  const c = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap });
  t.teardown(() => c.stop());
  const events = syntheticBatch(300, { learners: 9 });
  const r = await fetch(`${c.url}/api/v1/collect`, {
    method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'zstd' }, body: compress(Buffer.from(JSON.stringify(events))),
  });
  t.equal(r.status, 200);
  const got = await readUntilIds(bootstrap, 'events', events.map((e) => e.event_id as string));
  const ids = new Set(events.map((e) => e.event_id));
  t.equal(got.filter((x) => ids.has((JSON.parse(x.value) as { event_id: string }).event_id)).length, 300, 'every event in Kafka');
  const bad = await fetch(`${c.url}/api/v1/collect`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'zstd' }, body: 'garbage' });
  t.equal(bad.status, 400);
  t.match(await bad.json(), { error: { code: 'COLLECTOR_ERR_CORRUPT_ZSTD' } });
  const br = await fetch(`${c.url}/api/v1/collect`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'br' }, body: 'x' });
  t.equal(br.status, 415, 'other encodings are still refused');
});
