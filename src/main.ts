/**
 * One collector process: config → producer → decode pool → acceptor. PM2 runs N of
 * these on one port (SO_REUSEPORT); each owns its producer, its slab and its pool.
 */
import { hostname } from 'node:os';
import { Piscina } from 'piscina';
import pino from 'pino';
import { loadConfig, describeConfig } from './config/load.js';
import { Slab } from './ring/slab.js';
import { EventProducer } from './producer/producer.js';
import { Collector } from './pipeline/collector.js';
import { Telemetry } from './telemetry/telemetry.js';
import { assertNativeUws, startServer } from './acceptor/server.js';
import { healthReport, metricsReport } from './telemetry/reports.js';
import type { DecodeWorkerData } from './pipeline/task.js';
import { installShutdown } from './lifecycle/shutdown.js';

async function main(): Promise<void> {
  const config = loadConfig();
  const log = pino({ level: config.LOG_LEVEL, base: { instance: config.INSTANCE_ID, pid: process.pid } });
  log.info({ config: describeConfig(config) }, 'effective configuration');
  assertNativeUws();

  const instance = `${hostname()}/${config.INSTANCE_ID}`;
  const telemetry = new Telemetry({ instance: config.INSTANCE_ID });
  const shape = { slots: config.RING_SLOTS, slotBytes: config.MAX_BODY_BYTES };
  const slab = new Slab(shape);
  const workerData: DecodeWorkerData = {
    slab: slab.sab,
    shape,
    instance,
    limits: {
      maxDecodedBytes: config.MAX_DECODED_BYTES,
      maxEvents: config.MAX_EVENTS_PER_BATCH,
      maxEventBytes: config.MAX_EVENT_BYTES,
    },
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
  let ready = false;
  let stopping = false;
  const connectLoop = async () => {
    while (!ready && !stopping) {
      try {
        await producer.connect();
        ready = true;
        log.info({ bootstrap: config.KAFKA_BOOTSTRAP_SERVERS }, 'kafka producer connected');
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'kafka not reachable yet; retrying');
        await new Promise((r) => setTimeout(r, 1000));
      }
    }
  };
  void connectLoop();

  const collector = new Collector({ config, slab, pool, producer, telemetry, log });
  const server = await startServer({
    config,
    slab,
    collector,
    telemetry,
    admission: () => (stopping ? 'COLLECTOR_ERR_SHUTTING_DOWN' : ready ? null : 'COLLECTOR_ERR_NOT_READY'),
    ops: {
      health: () => healthReport({ telemetry, producer, ready, stopping }),
      metrics: async () => metricsReport(telemetry),
      prometheus: async () => ({ contentType: telemetry.registry.contentType, body: await telemetry.registry.metrics() }),
    },
  });
  log.info({ port: server.port, host: config.HOST, workers: config.WORKER_THREADS }, 'collector listening');
  process.send?.('ready');

  installShutdown(log, async () => {
    stopping = true;
    server.close();
    await producer.flush(config.REQUEST_TIMEOUT_MS);
    await producer.disconnect();
    await pool.destroy();
  });
}

main().catch((err: unknown) => {
  // pino may not exist yet (bad config): plain stderr, then a non-zero exit PM2 can see.
  process.stderr.write(`collector failed to start: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
