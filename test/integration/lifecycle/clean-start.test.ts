/**
 * A clean start says nothing on stderr: the collector logs to stdout, so a line on stderr is a
 * library talking past the logger (or a crash) and, repeated by every process at every start,
 * it buries the lines that matter. gRPC is on: its reflection once printed warnings there.
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { sharedBroker } from '../../helpers/broker.js';
import { createTopics } from '../../helpers/topics.js';
import { freePort, startCollector, waitHealthy } from '../../helpers/collector.js';

const { bootstrap } = sharedBroker();
const TOPIC = `events-clean-start-${randomUUID().slice(0, 8)}`;
const DLQ = `${TOPIC}-dlq`;

t.test('a clean start with HTTP and gRPC writes nothing to stderr', async (t) => {
  await createTopics([
    { name: TOPIC, partitions: 1 },
    { name: DLQ, partitions: 1 },
  ]);
  const c = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ, GRPC_PORT: String(await freePort()) });
  t.teardown(() => c.stop());
  await waitHealthy(c.url);
  t.ok(c.logs.join('').includes('collector listening'), 'the start log is on stdout');
  t.equal(c.stderr.join(''), '', 'stderr is empty');
});
