/**
 * Backpressure on a stream: a client that stops reading its answers stalls its own writes
 * (the collector stops reading the stream) instead of making the collector buffer answers
 * or batches without bound; once it reads again every answer arrives, in order.
 */
import t from 'tap';
import { readFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { sharedBroker } from '../../helpers/broker.js';
import { createTopics } from '../../helpers/topics.js';
import { freePort, startCollector, waitHealthy } from '../../helpers/collector.js';
import http2 from 'node:http2';
import { metric, typedEvent } from '../../helpers/grpc.js';
import { packageDefinition, SERVICE_NAME } from '../../../src/grpc/contract.js';
import type { CollectResponse } from '../../../src/grpc/ingest.js';

const { bootstrap } = sharedBroker();
const TOPIC = `events-grpc-flow-${randomUUID().slice(0, 8)}`;
const DLQ = `${TOPIC}-dlq`;
t.setTimeout(300_000);

const rssMb = (pid: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))![1]) / 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('a slow reader stalls its own stream, not the collector memory', async (t) => {
  await createTopics([
    { name: TOPIC, partitions: 1 },
    { name: DLQ, partitions: 1 },
  ]);
  const port = await freePort();
  const collector = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ, GRPC_PORT: String(port), GRPC_STREAM_MAX_IN_FLIGHT: '4' });
  t.teardown(() => collector.stop());
  await waitHealthy(collector.url);

  // Every event is dead-lettered (no learner_id): each answer lists 100 dead letters, ~15 KB.
  const TOTAL = 400;
  const batches = Array.from({ length: TOTAL }, (_, i) => ({
    batch_id: `slow-${i}`,
    events: Array.from({ length: 100 }, () => ({ event: typedEvent({ learner_id: '' }) })),
  }));
  const counted = () => metric(collector.url, 'collector_ingress_batches_total', 'method="CollectStream"');
  const rssBefore = rssMb(collector.proc.pid!);

  // A raw HTTP/2 gRPC client that does not read its response: Node's http2 only returns flow-control
  // window to the server as the stream is read, so the server's answers back up (grpc-js's own client
  // reads eagerly into memory and could not show this).
  const method = (packageDefinition[SERVICE_NAME] as unknown as Record<string, { requestSerialize(v: object): Buffer; responseDeserialize(b: Buffer): CollectResponse }>).CollectStream!;
  const session = http2.connect(`http://127.0.0.1:${port}`);
  t.teardown(() => session.close());
  const req = session.request({ ':method': 'POST', ':path': `/${SERVICE_NAME}/CollectStream`, 'content-type': 'application/grpc', te: 'trailers' });
  let written = 0;
  let writing = true;
  const writer = (async () => {
    for (const b of batches) {
      if (!writing) return;
      const msg = method.requestSerialize(b);
      const frame = Buffer.alloc(5 + msg.length);
      frame.writeUInt32BE(msg.length, 1);
      msg.copy(frame, 5);
      written++;
      if (!req.write(frame)) await new Promise((r) => req.once('drain', r));
    }
    req.end();
  })();
  // Wait until the collector stops answering (no new answer in 3 s), or everything was answered.
  let last = -1;
  let now = await counted();
  const deadline = Date.now() + 120_000;
  while (now !== last && now < TOTAL && Date.now() < deadline) {
    last = now;
    await sleep(3000);
    now = await counted();
  }
  const rssStalled = rssMb(collector.proc.pid!);
  t.ok(now < TOTAL / 2, `the collector stopped taking batches from a stream nobody reads (${now} of ${TOTAL} answered, ${written} written by the client)`);
  t.ok(rssStalled - rssBefore < 100, `collector RSS grew ${Math.round(rssStalled - rssBefore)} MB (${Math.round(rssBefore)} → ${Math.round(rssStalled)})`);

  // Reading again: every answer arrives, in order, and the stream completes.
  const answers: CollectResponse[] = [];
  let pending = Buffer.alloc(0);
  await new Promise<void>((resolve, reject) => {
    req.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk]);
      while (pending.length >= 5 && pending.length >= 5 + pending.readUInt32BE(1)) {
        const len = pending.readUInt32BE(1);
        answers.push(method.responseDeserialize(pending.subarray(5, 5 + len)));
        pending = pending.subarray(5 + len);
      }
    });
    req.on('end', resolve);
    req.on('error', reject);
  });
  await writer;
  writing = false;
  t.equal(answers.length, TOTAL, 'every batch answered once the client reads');
  t.same(answers.map((a) => a.batch_id), batches.map((b) => b.batch_id), 'in order');
  t.equal(answers.filter((a) => a.outcome === 'OUTCOME_ALL_REJECTED' && a.rejected_count === 100).length, TOTAL, 'each one all dead-lettered');
});
