/**
 * One collector process: config → spill owner → host order → payload schemas → decode pool → producer → replay →
 * delivery and dedup → collector → ops → acceptor (HTTP, gRPC). PM2 runs N of these on one port (SO_REUSEPORT);
 * each owns its producer, its slab, its decode workers and its spill directory BUFFER_DIR/<instance>. Each step's
 * policy lives in the module that owns it; this file is the boot order and the drain order.
 */
import { hostname } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import pino from 'pino';
import { loadConfig, describeConfig } from './config/load.js';
import { maskedError, maskUrlCredentials } from './config/redact.js';
import { mallocTrim, startMallocTrim } from './lifecycle/malloc-trim.js';
import { recycleWorkers, startMemorySettle } from './lifecycle/memory-settle.js';
import { Collector } from './pipeline/collector.js';
import { Deliverer, retryAfterFullS } from './pipeline/delivery.js';
import { startDecodePool } from './pipeline/decode-pool.js';
import { Telemetry } from './telemetry/telemetry.js';
import { assertNativeUws, startServer } from './acceptor/server.js';
import { spillSummary } from './telemetry/reports.js';
import { createOps, runDir } from './ops/index.js';
import { watchForeignListeners } from './lifecycle/port-peers.js';
import { installShutdown } from './lifecycle/shutdown.js';
import { drainInOrder } from './lifecycle/drain.js';
import { openSpill } from './spill/open.js';
import { openHostOrder, startReplayer } from './replay/open.js';
import { DEAD_LETTER_HEADERS } from './codec/decode.js';
import { openDedup } from './dedup/open.js';
import { openAccess } from './auth/access.js';
import { startPayloadSchemas } from './schema/payload/start.js';
import { topicRoutes } from './pipeline/routes.js';
import { awaitKafka, startProducer } from './producer/connect.js';
import { startGrpc } from './grpc/server.js';
import { SharedStore } from './shared-store/store.js';
import { KafkaReach } from './shared-store/kafka-reach.js';
import { StoreMetrics } from './telemetry/store-metrics.js';

const STORE_CONNECT_WAIT_MS = 2_000;

async function main(): Promise<void> {
  const config = loadConfig();
  // HTTP clients and URL parsers quote the URL they were given: an error never shows its credentials.
  const log = pino({ level: config.LOG_LEVEL, base: { instance: config.INSTANCE_ID, pid: process.pid }, serializers: { err: (e: Error) => maskedError(pino.stdSerializers.err(e)) } });
  log.info({ config: describeConfig(config) }, 'effective configuration');
  if (config.HTTP_ENGINE === 'uws') assertNativeUws();
  const instance = `${hostname()}/${config.INSTANCE_ID}`;
  const routes = topicRoutes(config);
  const telemetry = new Telemetry({ instance: config.INSTANCE_ID }, [...routes.events.topics.map((t) => ['events', t] as const), ...routes.dlq.topics.map((t) => ['dlq', t] as const)]);
  // The store the replicas share (REDIS_URL): dedup claims and tenant buckets across hosts; then keys and quotas.
  const store = config.REDIS_URL ? new SharedStore({ url: config.REDIS_URL, timeoutMs: config.REDIS_TIMEOUT_MS, keyPrefix: config.REDIS_KEY_PREFIX, log, metrics: new StoreMetrics(telemetry.registry) }) : null;
  const access = openAccess(config, log, telemetry, store);
  // The spill log first (recovery finishes before anything is accepted), then the host-wide order it feeds.
  const { spill, hello } = await openSpill(config, log, telemetry);
  const { host, heads } = openHostOrder(config, hello);
  const { schemas, schemaMetrics } = await startPayloadSchemas(config, telemetry, log);
  const { slab, pool } = startDecodePool(config, instance, schemas);
  const kafka = startProducer(config, log);
  const { producer, circuit } = kafka;
  const replayer = startReplayer({ config, spill, producer, circuit, telemetry, log, dlqRoutes: routes.dlq, deadLetterHeaders: DEAD_LETTER_HEADERS, instance, heads });
  const adoptTimer = setInterval(() => void spill.adopt().catch(() => undefined), 30_000).unref();
  host.spilling(); // fail at start, not on the first request, if the table cannot be read
  const stopTrim = startMallocTrim(config.MALLOC_TRIM_INTERVAL_MS);
  const gaugeTimer = setInterval(() => telemetry.spillState(spillSummary(spill), circuit.state), 1000).unref();
  let hostReplayRate = () => telemetry.replayRate();
  const deliverer = new Deliverer({
    producer, spill, circuit, telemetry, log, spillAfterMs: config.SPILL_AFTER_MS, dlqRoutes: routes.dlq, deadLetterHeaders: DEAD_LETTER_HEADERS,
    instance, onSpilled: () => replayer.kick(), heads, host, maxDeadLetterBytes: config.DLQ_MAX_RECORD_BYTES, retryAfterFull: () => retryAfterFullS(hostReplayRate()),
  });
  const { dedup, sharedDedup } = openDedup(config, store, log);
  if (store) log.info({ store: maskUrlCredentials(config.REDIS_URL), connected: await Promise.race([store.connected(), sleep(STORE_CONNECT_WAIT_MS, false)]) }, 'shared store for dedup and quotas');
  const collector = new Collector({ config, slab, pool, deliverer, dedup, sharedDedup, telemetry, log, instance, schemas, schemaMetrics, quota: access.quota, routes });
  // Readiness fails while this replica cannot reach Kafka and another can (order across replicas; docs/multi-host.md).
  const kafkaReach = store ? new KafkaReach(store, config.HOST_NAMESPACE || hostname(), () => producer.isConnected && circuit.state === 'closed').start() : null;
  let stopping = false;
  const ops = createOps({ config, telemetry, producer, circuit, spill, stopping: () => stopping, log, schemas, store, kafkaReach });
  hostReplayRate = () => ops.cluster.hostReplayRate();
  const stopSettle = startMemorySettle({
    idleMs: config.MEMORY_SETTLE_IDLE_MS, activity: () => collector.batchesTaken, settleWorkers: () => recycleWorkers(pool, config.WORKER_THREADS), trim: mallocTrim,
    onSettled: (ms, workersReplaced) => log.info({ ms: Math.round(ms), workers_replaced: workersReplaced }, 'memory settled after work'),
  });
  await awaitKafka(kafka, config, routes, log);
  // While draining, requests already on open connections are still served (a reload must not fail them); their
  // answers close the connection so the client reconnects to a live process.
  const server = await startServer({ config, slab, collector, telemetry, keyring: access.keyring, producerBacklogged: kafka.backlogged, draining: () => stopping, ops });
  // The second door (src/grpc/): same slab, collector and admission budget as HTTP.
  const grpcServer = config.GRPC_PORT === 0 ? null : await startGrpc({
    config, slab, collector, admission: server.admission, telemetry, producerBacklogged: kafka.backlogged, log, ready: () => ops.readyz?.().status === 200, keyring: access.keyring,
  });
  log.info({ port: server.port, grpc_port: grpcServer?.port ?? null, host: config.HOST, workers: config.WORKER_THREADS }, 'collector listening');
  process.send?.('ready');
  const stopPeers = watchForeignListeners(server.port, runDir(config), (n) => telemetry.foreignListeners(n), log);

  installShutdown(log, () => {
    stopping = true;
    kafka.stopConnecting();
    return drainInOrder({
      stopAccepting: () => server.close(), drainGrpc: () => grpcServer?.drain() ?? Promise.resolve(), collector, stopReplay: () => replayer.stop(), flushProducer: async () => { await producer.flush(5000); },
      close: [() => producer.disconnect(), () => clearInterval(adoptTimer), () => clearInterval(gaugeTimer), stopPeers, stopTrim, stopSettle, () => schemas.stop(), () => kafka.saslPassword?.stop(),
        () => spill.close(), () => host.close(), () => dedup?.close(), () => kafkaReach?.stop(), () => store?.close(), () => access.close(), () => pool.destroy()],
    });
  });
}

main().catch((err: unknown) => {
  // pino may not exist yet (bad config): plain stderr, then a non-zero exit PM2 can see.
  process.stderr.write(`collector failed to start: ${maskUrlCredentials((err as Error).stack ?? String(err))}\n`);
  process.exit(1);
});
