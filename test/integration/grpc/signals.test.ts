/**
 * What a gRPC client is told to do, end to end on a real collector:
 * - a batch over its client's rate limit fails with RESOURCE_EXHAUSTED, the collector's error
 *   code, and a google.rpc.RetryInfo saying when to come back (the HTTP path's Retry-After);
 * - a health Watch opened before SIGTERM sees NOT_SERVING as soon as draining starts, so a
 *   load balancer that health-checks over gRPC stops sending new calls before the port goes away.
 */
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { randomUUID } from 'node:crypto';
import { protoPath as healthProtoPath } from 'grpc-health-check';
import { sharedBroker } from '../../helpers/broker.js';
import { createTopics } from '../../helpers/topics.js';
import { freePort, startCollector, waitHealthy } from '../../helpers/collector.js';
import { batchOf, collect, grpcClient } from '../../helpers/grpc.js';
import { decodeStatusDetails } from '../../../src/grpc/contract.js';

const { bootstrap } = sharedBroker();
const TOPIC = `events-grpc-signals-${randomUUID().slice(0, 8)}`;
const DLQ = `${TOPIC}-dlq`;
t.setTimeout(300_000);

t.before(() => createTopics([{ name: TOPIC, partitions: 3 }, { name: DLQ, partitions: 1 }]));

t.test('over the client rate limit: RESOURCE_EXHAUSTED with the collector code and RetryInfo', async (t) => {
  const port = await freePort();
  const collector = await startCollector({
    KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ, GRPC_PORT: String(port), CLIENT_RATE_LIMIT: '1',
  });
  t.teardown(() => collector.stop());
  await waitHealthy(collector.url);
  const client = grpcClient(port);
  t.teardown(() => client.close());

  // A bucket of 1 request/s holds one second's worth: of 6 calls sent at once, most are refused.
  const results = await Promise.all(Array.from({ length: 6 }, () => collect(client, batchOf(2))));
  const ok = results.filter((r) => r.err === null);
  const refused = results.filter((r) => r.err !== null);
  t.ok(ok.length >= 1, `${ok.length} answered`);
  t.ok(refused.length >= 1, `${refused.length} refused`);
  for (const r of refused) {
    t.equal(r.err!.code, grpc.status.RESOURCE_EXHAUSTED, r.err!.message);
    t.equal(r.err!.metadata.get('collector-error-code')[0], 'COLLECTOR_ERR_CLIENT_LIMIT');
    const details = decodeStatusDetails(r.err!.metadata.get('grpc-status-details-bin')[0] as Buffer);
    t.equal(details.reason, 'COLLECTOR_ERR_CLIENT_LIMIT');
    t.ok(details.retryDelayS !== undefined && details.retryDelayS >= 1, `RetryInfo retry_delay ${details.retryDelayS} s`);
  }
});

type HealthClient = grpc.Client & { Watch(req: { service: string }): grpc.ClientReadableStream<{ status: string }> };

t.test('a health Watch sees NOT_SERVING when draining starts', async (t) => {
  const port = await freePort();
  // A long grace so the process is still draining (connection open) when the update arrives.
  const collector = await startCollector({
    KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ, GRPC_PORT: String(port), GRPC_DRAIN_GRACE_MS: '5000',
  });
  t.teardown(() => collector.kill());
  await waitHealthy(collector.url);

  const def = protoLoader.loadSync(healthProtoPath, { keepCase: true, longs: String, enums: String, defaults: true });
  const Health = (grpc.loadPackageDefinition(def) as unknown as { grpc: { health: { v1: { Health: new (a: string, c: grpc.ChannelCredentials) => HealthClient } } } })
    .grpc.health.v1.Health;
  const health = new Health(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  t.teardown(() => health.close());
  const seen: string[] = [];
  let notify: (() => void) | undefined;
  const watch = health.Watch({ service: 'collector.v1.EventCollector' });
  watch.on('data', (m: { status: string }) => {
    seen.push(m.status);
    notify?.();
  });
  watch.on('error', () => notify?.());
  const until = async (pred: () => boolean, ms: number) => {
    const deadline = Date.now() + ms;
    while (!pred() && Date.now() < deadline) await new Promise<void>((r) => {
      notify = r;
      setTimeout(r, 200);
    });
  };
  // Health follows readiness once a second: SERVING within a few seconds of start.
  await until(() => seen.includes('SERVING'), 30_000);
  t.ok(seen.includes('SERVING'), `SERVING before SIGTERM (${seen.join(', ')})`);

  collector.proc.kill('SIGTERM');
  await until(() => seen.at(-1) === 'NOT_SERVING', 15_000);
  t.equal(seen.at(-1), 'NOT_SERVING', `the watch was told NOT_SERVING (${seen.join(' → ')})`);
  watch.cancel();
  const code = collector.proc.exitCode ?? (await new Promise<number | null>((r) => collector.proc.once('exit', (c) => r(c))));
  t.equal(code, 0, 'then the collector drained and exited 0');
});
