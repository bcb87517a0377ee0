/**
 * The producer at start: it is created with the circuit open (batches are spilled, not refused, until Kafka
 * answers), connects in short attempts until it does, and the process waits a bounded while for that before it
 * listens — listening earlier would spill (and later replay) the first batches of every start although Kafka is
 * fine; with Kafka down it listens anyway and serves from disk.
 */
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { TopicRoutes } from '../pipeline/routes.js';
import { Circuit } from './circuit.js';
import { meansBrokersDown } from './classify.js';
import { SaslPasswordFile } from './credentials.js';
import { EventProducer } from './producer.js';
import { missingTopics } from './topics.js';

/** Short attempts: librdkafka reconnects on its own between them, and a shutdown waits for the one in flight. */
const CONNECT_ATTEMPT_MS = 5_000;

export interface StartedProducer {
  producer: EventProducer;
  circuit: Circuit;
  saslPassword: SaslPasswordFile | null;
  /** resolves once the producer first connected */
  connected: Promise<void>;
  /** ends the connect loop (shutdown) */
  stopConnecting(): void;
  /**
   * True while the producer's queue could not take one more batch below 80 % of its cap (past the cap produce()
   * fails with QUEUE_FULL and the batch would be spilled). Only while batches go to the producer: with the circuit
   * open they go to the spill log, whatever librdkafka holds.
   */
  backlogged(): boolean;
}

export function startProducer(config: Config, log: Logger): StartedProducer {
  const producer = new EventProducer(config, log);
  const saslPassword = SaslPasswordFile.applies(config) ? new SaslPasswordFile(config, producer, log) : null;
  saslPassword?.start();
  const circuit = new Circuit(config.CIRCUIT_PROBE_MS, 'open');
  producer.onClientError = (code, message) => {
    if (meansBrokersDown(code, message)) circuit.trip();
  };
  let stopping = false;
  let onConnected = () => {};
  const connected = new Promise<void>((resolve) => {
    onConnected = resolve;
  });
  const connectLoop = async () => {
    while (!producer.isConnected && !stopping) {
      try {
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
  const highWater = Math.max(0, config.KAFKA_QUEUE_MAX_MESSAGES * 0.8 - config.MAX_EVENTS_PER_BATCH);
  return {
    producer, circuit, saslPassword, connected,
    stopConnecting: () => {
      stopping = true;
    },
    backlogged: () => circuit.state === 'closed' && producer.queued > highWater,
  };
}

/**
 * Waits up to KAFKA_CONNECT_WAIT_MS for the first connection; once connected, every topic the routes name must
 * exist (a start that would dead-letter or spill everything for a typo stops, naming it).
 */
export async function awaitKafka(started: StartedProducer, config: Config, routes: { events: TopicRoutes; dlq: TopicRoutes }, log: Logger): Promise<void> {
  let graceTimer: NodeJS.Timeout | undefined;
  const waited = await Promise.race([
    started.connected.then(() => true),
    new Promise<boolean>((r) => {
      graceTimer = setTimeout(() => r(false), config.KAFKA_CONNECT_WAIT_MS);
    }),
  ]);
  clearTimeout(graceTimer);
  if (!waited) {
    log.warn({ waited_ms: config.KAFKA_CONNECT_WAIT_MS }, 'kafka not connected yet: listening anyway, batches are spilled until it is');
    return;
  }
  const wanted = [...new Set([...routes.events.topics, ...routes.dlq.topics])];
  const missing = await missingTopics(config, wanted);
  if (missing?.length) {
    throw new Error(`topic(s) not in Kafka: ${missing.join(', ')} (from KAFKA_TOPIC, DLQ_TOPIC, TOPIC_ROUTES, DLQ_TOPIC_ROUTES): create them or fix the setting`);
  }
}
