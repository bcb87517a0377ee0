/**
 * One collector process: config → spill owner → producer → decode pool → acceptor.
 * PM2 runs N of these on one port (SO_REUSEPORT); each owns its producer, its slab,
 * its decode workers and its spill directory BUFFER_DIR/<instance>.
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { Piscina } from 'piscina';
import pino from 'pino';
import { loadConfig, describeConfig } from './config/load.js';
import { maskedError, maskUrlCredentials } from './config/redact.js';
import { Slab } from './ring/slab.js';
import { mallocTrim, startMallocTrim } from './lifecycle/malloc-trim.js';
import { recycleWorkers, startMemorySettle } from './lifecycle/memory-settle.js';
import { EventProducer } from './producer/producer.js';
import { Circuit } from './producer/circuit.js';
import { meansBrokersDown } from './producer/classify.js';
import { Collector } from './pipeline/collector.js';
import { Deliverer } from './pipeline/delivery.js';
import { Telemetry } from './telemetry/telemetry.js';
import { assertNativeUws, startServer } from './acceptor/server.js';
import { spillSummary } from './telemetry/reports.js';
import { createOps, runDir } from './ops/index.js';
import { foreignListeners, groupMembers } from './lifecycle/port-peers.js';
import type { DecodeWorkerData } from './pipeline/task.js';
import { installShutdown } from './lifecycle/shutdown.js';
import { SpillClient } from './spill/client.js';
import { Replayer } from './replay/index.js';
import { HostTable } from './replay/index.js';
import { OrderHeads } from './replay/index.js';
import { ReplayLeadership } from './replay/index.js';
import { DEAD_LETTER_HEADERS } from './codec/decode.js';
import { DedupTable, defaultDedupPath } from './dedup/table.js';
import { hostTableName } from './config/host-namespace.js';
import { decodeLimits } from './codec/inline.js';
import { openAccess } from './auth/access.js';
import { PayloadSchemas } from './schema/payload/service.js';
import { registrySourceFrom } from './schema/payload/registry.js';
import { SaslPasswordFile } from './producer/credentials.js';
import { topicRoutes } from './pipeline/routes.js';
import { missingTopics } from './producer/topics.js';
import { SchemaMetrics } from './telemetry/schema-metrics.js';
import { startGrpc, type GrpcServer } from './grpc/server.js';
import { SharedStore } from './shared-store/store.js';
import { SharedClaims } from './shared-store/claims.js';
import { KafkaReach } from './shared-store/kafka-reach.js';
import { StoreMetrics } from './telemetry/store-metrics.js';
import { setTimeout as sleep } from 'node:timers/promises';

const DRAIN_QUIET_MS = 500;
const CONNECT_ATTEMPT_MS = 5_000;
const STORE_CONNECT_WAIT_MS = 2_000;

async function main(): Promise<void> {
  const config = loadConfig();
  const log = pino({
    level: config.LOG_LEVEL,
    base: { instance: config.INSTANCE_ID, pid: process.pid },
    // HTTP clients and URL parsers quote the URL they were given: an error never shows its credentials.
    serializers: { err: (e: Error) => maskedError(pino.stdSerializers.err(e)) },
  });
  log.info({ config: describeConfig(config) }, 'effective configuration');
  if (config.HTTP_ENGINE === 'uws') assertNativeUws();

  const instance = `${hostname()}/${config.INSTANCE_ID}`;
  const routes = topicRoutes(config);
  const telemetry = new Telemetry({ instance: config.INSTANCE_ID }, [
    ...routes.events.topics.map((t) => ['events', t] as const), ...routes.dlq.topics.map((t) => ['dlq', t] as const)]);
  // API keys and tenant quotas (AUTH_MODE, API_KEYS_FILE, TENANT_QUOTAS_FILE), reloaded while running.
  // The store the replicas share (REDIS_URL): dedup claims and tenant buckets across hosts.
  const storeMetrics = new StoreMetrics(telemetry.registry);
  const store = config.REDIS_URL ? new SharedStore({ url: config.REDIS_URL, timeoutMs: config.REDIS_TIMEOUT_MS, keyPrefix: config.REDIS_KEY_PREFIX, log, metrics: storeMetrics }) : null;
  const access = openAccess(config, log, telemetry, store);

  // The spill log first: recovery must finish before anything is accepted.
  const spill = new SpillClient(
    {
      baseDir: resolve(config.BUFFER_DIR),
      instance: config.INSTANCE_ID,
      maxBytes: config.MAX_BUFFER_SIZE_MB * 1024 * 1024,
      segmentBytes: config.SPILL_SEGMENT_MB * 1024 * 1024,
    },
    log,
  );
  // A spill worker that keeps dying: exit, so the supervisor starts a process whose recovery finds the log.
  spill.onFatal = () => process.exit(70);
  const hello = await spill.ready;
  for (const r of hello.recovery) {
    if (r.acknowledgedLost > 0) telemetry.spillRecordsLost(r.acknowledgedLost);
    if (r.quarantined.length || r.lostRanges.length) log.error({ recovery: r }, `SPILL LOG DAMAGE: ${r.acknowledgedLost} acknowledged record(s) lost, evidence quarantined; inspect the quarantine/ folder`);
    else if (r.truncatedBytes && r.truncatedAcknowledged === 'no') log.warn({ recovery: r }, 'spill log: torn tail truncated (a crash mid-append, past the durable limit: nothing acknowledged was lost)');
    else if (r.truncatedBytes) log.warn({ recovery: r }, 'spill log: a bad last frame truncated; no durable limit was recorded, so whether it had been acknowledged is not known');
  }
  log.info({ sources: hello.sources.map((s) => ({ source: s.source, dir: s.dir, records: s.records, events: s.events })) }, 'spill log open');
  if (hello.sources[0]!.dir !== config.INSTANCE_ID) {
    log.warn({ dir: hello.sources[0]!.dir }, 'own spill directory is held by a sibling that adopted it while this instance was down: spilling to a fresh one meanwhile');
  }
  // Host-wide order of spilled batches: published before any batch is accepted.
  const host = HostTable.open(resolve(config.BUFFER_DIR));
  const heads = new OrderHeads(host, hello.sources[0]!.dir);
  for (const s of hello.sources) heads.track(s.dir, s.records > 0);
  // The replay leader reads the own log below this only (appends move it); adopted logs: no limit.
  for (const s of hello.sources) heads.setDurable(s.dir, s.dir === heads.ownDir ? s.nextSeq : 0);

  // Payload schemas before the decode pool: its workers read the set from the channel on their first task.
  const schemaMetrics = new SchemaMetrics(telemetry.registry);
  const registry = registrySourceFrom(config, (reason) => schemaMetrics.registryAnswerRefused(reason));
  const schemas = new PayloadSchemas({
    dir: config.SCHEMA_DIR,
    compatibility: config.SCHEMA_COMPATIBILITY,
    ...(registry ? { source: registry } : {}),
    reloadMs: registry ? config.SCHEMA_REGISTRY_REFRESH_MS : config.SCHEMA_RELOAD_MS,
    log,
    onReload: (result) => schemaMetrics.reloaded(result, schemas.snapshot.generation),
  });
  await schemas.load();
  schemaMetrics.loaded(schemas.snapshot.generation);
  schemas.start();

  const shape = { slots: config.RING_SLOTS, slotBytes: config.MAX_BODY_BYTES };
  const slab = new Slab(shape);
  const workerData: DecodeWorkerData = {
    slab: slab.sab,
    shape,
    instance,
    limits: decodeLimits(config),
    schemas: schemas.channel.sab,
  };
  const pool = new Piscina({
    filename: new URL('../workers/decode.js', import.meta.url).href,
    minThreads: config.WORKER_THREADS,
    maxThreads: config.WORKER_THREADS,
    idleTimeout: Number.MAX_SAFE_INTEGER,
    // Every task holds a slot, so slots bound the queue; this is the backstop.
    maxQueue: config.RING_SLOTS,
    workerData,
  });

  const producer = new EventProducer(config, log);
  const saslPassword = SaslPasswordFile.applies(config) ? new SaslPasswordFile(config, producer, log) : null;
  saslPassword?.start();
  // Open until Kafka is reachable: batches are spilled, not refused.
  const circuit = new Circuit(config.CIRCUIT_PROBE_MS, 'open');
  producer.onClientError = (code, message) => {
    if (meansBrokersDown(code, message)) circuit.trip();
  };
  let stopping = false;
  let onConnected = () => {};
  const connected = new Promise<void>((resolve) => { onConnected = resolve; });
  const connectLoop = async () => {
    while (!producer.isConnected && !stopping) {
      try {
        // Short attempts: librdkafka reconnects on its own between them, and a shutdown waits for the
        // attempt in flight (the client cannot be destroyed under it), so this bounds that wait.
        await producer.connect(CONNECT_ATTEMPT_MS);
        // Reachable now. A non-empty spill log keeps new batches queued behind it anyway.
        circuit.succeeded();
        onConnected();
        log.info({ bootstrap: config.KAFKA_BOOTSTRAP_SERVERS }, 'kafka producer connected');
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'kafka not reachable yet; spilling meanwhile and retrying');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  };
  void connectLoop();

  const replayer = new Replayer({
    spill, producer, circuit, telemetry, log, dlqRoutes: routes.dlq, deadLetterHeaders: DEAD_LETTER_HEADERS,
    instance, maxRetries: config.KAFKA_MAX_RETRIES,
    // Half the producer's queue: room is left for live batches and for the chunk after this one.
    queueBudget: Math.floor(config.KAFKA_QUEUE_MAX_MESSAGES / 2),
    heads, baseDir: resolve(config.BUFFER_DIR),
    // One replayer per host sends the merged order of every log of the host.
    leadership: new ReplayLeadership(resolve(config.BUFFER_DIR)),
  });
  replayer.start();
  const adoptTimer = setInterval(() => void spill.adopt().catch(() => undefined), 30_000).unref();
  host.spilling(); // fail at start, not on the first request, if the table cannot be read
  const stopTrim = startMallocTrim(config.MALLOC_TRIM_INTERVAL_MS);
  let stopSettle = () => {};
  const gaugeTimer = setInterval(() => {
    const s = spillSummary(spill);
    telemetry.spillState({ batches: s.batches, events: s.events, bytes: s.bytes, fillRatio: s.fillRatio }, circuit.state);
  }, 1000).unref();

  let hostReplayRate = () => telemetry.replayRate();
  const deliverer = new Deliverer({
    producer, spill, circuit, telemetry, log, spillAfterMs: config.SPILL_AFTER_MS, dlqRoutes: routes.dlq,
    deadLetterHeaders: DEAD_LETTER_HEADERS, instance, onSpilled: () => replayer.kick(), heads, host,
    maxDeadLetterBytes: config.DLQ_MAX_RECORD_BYTES,
    retryAfterFull: () => {
      // Seconds until the replay frees room for a typical batch; 30 s when nothing drains (Kafka down).
      // The host's rate, not this process's: the one replay leader may be another process.
      const rate = hostReplayRate();
      return rate > 0 ? Math.min(300, Math.max(1, Math.ceil(1000 / rate))) : 30;
    },
  });
  // Fails fast (DedupUnavailableError) if the native addon was not built: no silent fallback.
  const dedup = config.DEDUP_ENABLED
    ? DedupTable.open({
        path: config.DEDUP_PATH || defaultDedupPath(hostTableName(config)),
        capacity: config.DEDUP_CAPACITY,
        windowMs: config.DEDUP_WINDOW_MS,
        // A claim lives until the batch is acknowledged or refused; past this a crashed claimant stops blocking it.
        leaseMs: config.REQUEST_TIMEOUT_MS + config.SPILL_AFTER_MS,
      })
    : null;
  const sharedDedup = store && dedup ? new SharedClaims(store, config.DEDUP_WINDOW_MS, dedup.leaseMs) : null;
  if (store) log.info({ store: maskUrlCredentials(config.REDIS_URL), connected: await Promise.race([store.connected(), sleep(STORE_CONNECT_WAIT_MS, false)]) }, 'shared store for dedup and quotas');
  if (dedup) log.info({ path: dedup.path, capacity: dedup.capacity, window_ms: dedup.windowMs, created: dedup.created }, 'dedup table open');
  // A batch is up to MAX_EVENTS_PER_BATCH records: refuse new ones while the producer's queue could not take one
  // more below 80 % of its cap (past the cap produce() fails with QUEUE_FULL and the batch would be spilled).
  const producerHighWater = Math.max(0, config.KAFKA_QUEUE_MAX_MESSAGES * 0.8 - config.MAX_EVENTS_PER_BATCH);
  const collector = new Collector({ config, slab, pool, deliverer, dedup, sharedDedup, telemetry, log, instance, schemas, schemaMetrics, quota: access.quota, routes });
  // Readiness fails while this replica cannot reach Kafka and another can (order across replicas; docs/multi-host.md).
  const kafkaReach = store ? new KafkaReach(store, config.HOST_NAMESPACE || hostname(), () => producer.isConnected && circuit.state === 'closed').start() : null;
  const ops = createOps({ config, telemetry, producer, circuit, spill, stopping: () => stopping, log, schemas, store, kafkaReach });
  stopSettle = startMemorySettle({
    idleMs: config.MEMORY_SETTLE_IDLE_MS,
    activity: () => collector.batchesTaken,
    settleWorkers: () => recycleWorkers(pool, config.WORKER_THREADS),
    trim: mallocTrim,
    onSettled: (ms, workersReplaced) => log.info({ ms: Math.round(ms), workers_replaced: workersReplaced }, 'memory settled after work'),
  });
  hostReplayRate = () => ops.cluster.hostReplayRate();
  // Only while batches go to the producer: with the circuit open they go to the spill log, whatever librdkafka holds.
  const producerBacklogged = () => circuit.state === 'closed' && producer.queued > producerHighWater;
  // Listening before the producer is connected would spill (and later replay) the first batches of every start and
  // every reload although Kafka is fine. Wait a bounded while: with Kafka down the collector still serves from disk.
  let graceTimer: NodeJS.Timeout | undefined;
  const waited = await Promise.race([
    connected.then(() => true),
    new Promise<boolean>((r) => { graceTimer = setTimeout(() => r(false), config.KAFKA_CONNECT_WAIT_MS); }),
  ]);
  clearTimeout(graceTimer);
  if (!waited) log.warn({ waited_ms: config.KAFKA_CONNECT_WAIT_MS }, 'kafka not connected yet: listening anyway, batches are spilled until it is');
  else {
    const wanted = [...new Set([...routes.events.topics, ...routes.dlq.topics])];
    const missing = await missingTopics(config, wanted);
    if (missing?.length) {
      throw new Error(`topic(s) not in Kafka: ${missing.join(', ')} (from KAFKA_TOPIC, DLQ_TOPIC, TOPIC_ROUTES, DLQ_TOPIC_ROUTES): create them or fix the setting`);
    }
  }
  const server = await startServer({
    config,
    slab,
    collector,
    telemetry,
    keyring: access.keyring,
    producerBacklogged,
    // While draining, requests already on open connections are still served (a reload must not
    // fail them); their answers close the connection so the client reconnects to a live process.
    draining: () => stopping,
    // Health, metrics and Prometheus for every process on the host (RUN_DIR), probes, docs, dashboard.
    ops,
  });
  // The second door (src/grpc/): same slab, collector and admission budget as HTTP.
  const grpcServer: GrpcServer | null =
    config.GRPC_PORT === 0
      ? null
      : await startGrpc({
          config, slab, collector, admission: server.admission, telemetry, producerBacklogged, log,
          ready: () => ops.readyz?.().status === 200,
          keyring: access.keyring,
        });
  log.info({ port: server.port, grpc_port: grpcServer?.port ?? null, host: config.HOST, workers: config.WORKER_THREADS }, 'collector listening');
  process.send?.('ready');

  // A process outside this group listening on our port gets some of our connections (SO_REUSEPORT): say so loudly.
  let lastForeign = '';
  const checkPeers = () => {
    const foreign = foreignListeners(server.port, groupMembers(runDir(config)));
    telemetry.foreignListeners(foreign.length);
    const key = foreign.map((f) => f.pid).join(',');
    if (key && key !== lastForeign) {
      log.error({ port: server.port, foreign }, 'STALE LISTENER: another process listens on this port (SO_REUSEPORT) and is not part of this collector group; the kernel sends it some of our connections — stop it');
    }
    lastForeign = key;
  };
  const peerTimer = setInterval(checkPeers, 5000).unref();
  setTimeout(checkPeers, 3000).unref();

  installShutdown(log, async () => {
    stopping = true;
    server.close();
    // GOAWAY to gRPC connections; open streams get GRPC_DRAIN_GRACE_MS to finish their batches.
    const grpcDrained = grpcServer?.drain() ?? Promise.resolve();
    // In-flight batches finish (delivered, or spilled after SPILL_AFTER_MS at most); a short quiet
    // window lets requests already sent on kept-alive connections arrive and be answered.
    do {
      await collector.idle();
      await new Promise((r) => setTimeout(r, DRAIN_QUIET_MS));
    } while (collector.pending > 0);
    await grpcDrained;
    await collector.idle();
    await replayer.stop();
    clearInterval(adoptTimer);
    clearInterval(peerTimer);
    clearInterval(gaugeTimer);
    stopTrim();
    stopSettle();
    schemas.stop();
    saslPassword?.stop();
    // Nothing acknowledged is only in librdkafka's queue: every answered batch is in Kafka or on disk.
    await producer.flush(5000);
    await producer.disconnect();
    await spill.close();
    host.close();
    dedup?.close();
    kafkaReach?.stop();
    await store?.close();
    access.close();
    await pool.destroy();
  });
}

main().catch((err: unknown) => {
  // pino may not exist yet (bad config): plain stderr, then a non-zero exit PM2 can see.
  process.stderr.write(`collector failed to start: ${maskUrlCredentials((err as Error).stack ?? String(err))}\n`);
  process.exit(1);
});
