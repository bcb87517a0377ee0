/**
 * Broker SIGKILLed in the middle of a stream: answers keep coming (buffered: true, from the
 * spill log), and once the broker is back every acknowledged event is in Kafka.
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { LocalBroker } from '../../../kafka/broker.js';
import { freePort, startCollector, waitHealthy } from '../../helpers/collector.js';
import { readUntilIds, eventIds } from '../../helpers/consumer.js';
import { waitDrained, sleep } from '../../helpers/load.js';
import { batchOf, grpcClient, idsOf } from '../../helpers/grpc.js';
import type { CollectResponse } from '../../../src/grpc/ingest.js';

t.setTimeout(400_000);
const TOPIC = `events-grpc-outage-${randomUUID().slice(0, 8)}`;
const DLQ = `${TOPIC}-dlq`;

t.test('broker SIGKILLed mid-stream: answers say buffered, nothing acknowledged is lost', async (t) => {
  const broker = await LocalBroker.start({ heapMb: 384 });
  t.teardown(() => broker.destroy());
  await broker.createTopics([
    { name: TOPIC, partitions: 3 },
    { name: DLQ, partitions: 1 },
  ]);
  const port = await freePort();
  const collector = await startCollector({
    KAFKA_BOOTSTRAP_SERVERS: broker.bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ, SPILL_AFTER_MS: '1000', CIRCUIT_PROBE_MS: '500',
    GRPC_PORT: String(port),
  });
  t.teardown(() => collector.stop());
  await waitHealthy(collector.url);
  const client = grpcClient(port);
  t.teardown(() => client.close());

  const call = client.CollectStream();
  const sent = new Map<string, string[]>();
  const acked: string[] = [];
  let buffered = 0;
  const refused: string[] = [];
  let answered = 0;
  let bufferedBeforeKill = -1;
  const done = new Promise<void>((resolve, reject) => {
    call.on('data', (a: CollectResponse) => {
      answered++;
      if (a.outcome === 'OUTCOME_ACCEPTED') acked.push(...sent.get(a.batch_id)!);
      else refused.push(`${a.batch_id}: ${a.error?.code}`);
      if (a.buffered) buffered++;
    });
    call.on('end', resolve);
    call.on('error', reject);
  });
  let stop = false;
  const writer = (async () => {
    for (let i = 0; !stop; i++) {
      const b = batchOf(20, `outage-${i}`);
      sent.set(b.batch_id, idsOf(b));
      if (!call.write(b)) await new Promise((r) => call.once('drain', r));
      // a steady stream, not a flood: wait while more than 8 answers are outstanding
      while (sent.size - answered > 8 && !stop) await sleep(5);
    }
  })();
  await sleep(2000);
  bufferedBeforeKill = buffered;
  await broker.kill();
  await sleep(5000);
  await broker.restart();
  await sleep(3000);
  stop = true;
  await writer;
  call.end();
  await done;

  t.equal(answered, sent.size, `every batch answered (${sent.size})`);
  t.same(refused, [], 'no batch refused during the outage');
  t.ok(buffered > bufferedBeforeKill, `${buffered} answers said buffered (${bufferedBeforeKill} before the kill)`);
  t.ok(acked.length > 200, `${acked.length} events acknowledged`);
  await waitDrained(collector.url);
  const records = await readUntilIds(broker.bootstrap, TOPIC, acked);
  const found = eventIds(records);
  t.same(acked.filter((id) => !found.has(id)), [], 'every acknowledged event is in Kafka');
});
