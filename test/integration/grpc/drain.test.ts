/**
 * Shutdown with a stream open: SIGTERM → GOAWAY; the stream is served until the client ends it
 * or GRPC_DRAIN_GRACE_MS passes (then cancelled: its unanswered batches are unacknowledged), the
 * process exits 0, and every acknowledged event is in Kafka.
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { sharedBroker } from '../../helpers/broker.js';
import { createTopics } from '../../helpers/topics.js';
import { freePort, startCollector, waitHealthy } from '../../helpers/collector.js';
import { readTopic, eventIds } from '../../helpers/consumer.js';
import { sleep } from '../../helpers/load.js';
import { batchOf, grpcClient, idsOf } from '../../helpers/grpc.js';
import type { CollectResponse } from '../../../src/grpc/ingest.js';

const { bootstrap } = sharedBroker();
const TOPIC = `events-grpc-drain-${randomUUID().slice(0, 8)}`;
const DLQ = `${TOPIC}-dlq`;
t.setTimeout(300_000);

t.test('SIGTERM with a stream open: drained, exit 0, nothing acknowledged lost', async (t) => {
  await createTopics([
    { name: TOPIC, partitions: 3 },
    { name: DLQ, partitions: 1 },
  ]);
  const port = await freePort();
  const collector = await startCollector({
    KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ, GRPC_PORT: String(port), GRPC_DRAIN_GRACE_MS: '3000',
  });
  t.teardown(() => collector.kill());
  await waitHealthy(collector.url);
  const client = grpcClient(port);
  t.teardown(() => client.close());

  const call = client.CollectStream();
  const sent = new Map<string, string[]>();
  const acked: string[] = [];
  let answered = 0;
  let ended = '';
  const done = new Promise<void>((resolve) => {
    call.on('data', (a: CollectResponse) => {
      answered++;
      if (a.outcome === 'OUTCOME_ACCEPTED') acked.push(...sent.get(a.batch_id)!);
    });
    call.on('end', () => {
      ended ||= 'end';
      resolve();
    });
    call.on('error', (e: Error & { code?: number }) => {
      ended ||= `error ${e.code}`;
      resolve();
    });
  });
  let stop = false;
  const writer = (async () => {
    for (let i = 0; !stop && !ended; i++) {
      const b = batchOf(20, `drain-${i}`);
      sent.set(b.batch_id, idsOf(b));
      if (!call.write(b)) await new Promise((r) => call.once('drain', r));
      while (sent.size - answered > 8 && !stop && !ended) await sleep(5);
    }
  })();
  await sleep(2000);
  const acceptedBefore = acked.length;
  collector.proc.kill('SIGTERM');
  await done;
  stop = true;
  await writer;
  // Not stop(): a second SIGTERM means "exit now" (130).
  const code = collector.proc.exitCode ?? (await new Promise<number | null>((r) => collector.proc.once('exit', (c) => r(c))));

  t.ok(acceptedBefore > 0, `${acceptedBefore} events acknowledged before SIGTERM`);
  t.ok(acked.length >= acceptedBefore, `${acked.length} acknowledged in all; the stream ended with ${ended}`);
  t.equal(code, 0, 'the collector exited 0 after draining');
  const records = await readTopic(bootstrap, TOPIC, (rs) => { const have = eventIds(rs); return acked.every((id) => have.has(id)); }, 60_000);
  const found = eventIds(records);
  t.same(acked.filter((id) => !found.has(id)), [], 'every acknowledged event is in Kafka');
});
