/**
 * Everything the operator routes need, built once per process from the live parts:
 * cluster-wide health/metrics/Prometheus (src/ops/cluster.ts), the probes, and the
 * pages (API docs, OpenAPI document, dashboard). main.ts hands the result to the acceptor.
 */
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { OpsDeps } from '../acceptor/ops-routes.js';
import type { Config } from '../config/schema.js';
import type { Circuit } from '../producer/circuit.js';
import type { EventProducer } from '../producer/producer.js';
import type { SpillClient } from '../spill/client.js';
import { healthReport, metricsReport, spillSummary } from '../telemetry/reports.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { ClusterView } from './cluster.js';
import { opsPages } from './pages.js';
import { LagMonitor, livez, readyz } from './probes.js';
import type { PayloadSchemas } from '../schema/payload/service.js';
import { schemasDocument } from './schemas.js';
import type { SharedStore } from '../shared-store/store.js';
import type { KafkaReach } from '../shared-store/kafka-reach.js';
import { metricsTokenCheck } from './metrics-token.js';

export interface OpsInput {
  config: Readonly<Config>;
  telemetry: Telemetry;
  producer: EventProducer;
  circuit: Circuit;
  spill: SpillClient;
  stopping: () => boolean;
  log: Logger;
  schemas?: PayloadSchemas;
  /** the shared store (REDIS_URL), when there is one */
  store?: SharedStore | null;
  /** whether other replicas reach Kafka (readiness), when there is a store */
  kafkaReach?: KafkaReach | null;
}

export interface Ops extends OpsDeps {
  cluster: ClusterView;
  close(): void;
}

/** RUN_DIR, or BUFFER_DIR + '-run' when it is empty. */
export function runDir(config: Pick<Config, 'RUN_DIR' | 'BUFFER_DIR'>): string {
  return config.RUN_DIR ? resolve(config.RUN_DIR) : `${resolve(config.BUFFER_DIR)}-run`;
}

export function createOps(i: OpsInput): Ops {
  const { telemetry, producer, circuit, spill } = i;
  const lag = new LagMonitor().start();
  const durability = { acks: i.config.KAFKA_ACKS, idempotent: i.config.KAFKA_IDEMPOTENT, weakAcksAllowed: i.config.ALLOW_WEAK_ACKS };
  let warned = false;
  const cluster = new ClusterView({
    runDir: runDir(i.config),
    instance: i.config.INSTANCE_ID,
    telemetry,
    health: () => healthReport({ telemetry, producer, circuit, spill, stopping: i.stopping(), durability, schemas: i.schemas && (() => i.schemas!.status()), store: i.store ? () => i.store!.status : undefined }),
    metrics: () => metricsReport(telemetry, spill),
    beforePublish: () => telemetry.kafkaConnected(producer.isConnected && circuit.state !== 'open'),
    onError: (err) => {
      // Once: a read-only run dir must not flood the log every second.
      if (!warned) i.log.warn({ err: err.message, runDir: runDir(i.config) }, 'cannot publish cluster telemetry; other processes will not see this one');
      warned = true;
    },
  });
  cluster.start();
  return {
    cluster,
    health: () => cluster.health(),
    metrics: () => cluster.metrics(),
    prometheus: () => cluster.prometheus(),
    prometheusAuthorized: metricsTokenCheck(i.config.METRICS_TOKEN),
    livez: () => livez(lag),
    readyz: () =>
      readyz({
        stopping: i.stopping(),
        producerConnected: producer.isConnected,
        circuit: circuit.state,
        spillFill: spillSummary(spill).fillRatio,
        othersReachKafka: i.kafkaReach?.othersReach ?? false,
      }),
    pages: opsPages(),
    schemas: i.schemas && (async () => schemasDocument(i.schemas!, i.config, await cluster.all(true))),
    close: () => {
      lag.stop();
      cluster.stop();
    },
  };
}
