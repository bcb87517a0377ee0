/**
 * Dead-letter replay throughput: N dead letters in the collector's format (valid events, refused
 * under a schema set that is gone now), then one `replay` of all of them, timed from its first read
 * to its last commit. Prints dead letters/s with the load average; writes a JSON report beside the
 * others in bench/results/.
 *
 *   npm run build && node dist/bench/dlq-replay.js            (BENCH_DLQ_EVENTS, default 50,000; BENCH_DLQ_CHUNK, 500)
 *
 * It starts a local broker of its own: the dead letters it writes are not ones to leave in a real cluster.
 */
import Kafka from 'node-rdkafka';
import { randomUUID } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalBroker } from '../kafka/broker.js';
import { loadConfig } from '../src/config/load.js';
import { decodeLimits } from '../src/codec/inline.js';
import { deadLetterValue } from '../src/codec/dead-letter.js';
import { producerSettings } from '../src/producer/settings.js';
import { replayDeadLetters } from '../src/dlq/replay.js';
import { syntheticBatch } from '../src/pipeline/synthetic.js';

const N = Number(process.env.BENCH_DLQ_EVENTS ?? 50_000);
const CHUNK = Number(process.env.BENCH_DLQ_CHUNK ?? 500);
const root = fileURLToPath(new URL('../..', import.meta.url));
const log = (m: string) => process.stderr.write(`[dlq-bench] ${m}\n`);

async function main(): Promise<void> {
  const broker = await LocalBroker.start();
  try {
    const suffix = randomUUID().slice(0, 8);
    const events = `bench-events-${suffix}`;
    const dlq = `${events}-dlq`;
    await broker.createTopics([{ name: events, partitions: 3 }, { name: dlq, partitions: 1 }]);
    const config = loadConfig({ ...process.env, KAFKA_BOOTSTRAP_SERVERS: broker.bootstrap, KAFKA_TOPIC: events, DLQ_TOPIC: dlq, SCHEMA_DIR: 'off' });

    log(`writing ${N} dead letters to ${dlq}`);
    const p = new Kafka.Producer({ 'bootstrap.servers': config.KAFKA_BOOTSTRAP_SERVERS, dr_cb: true, 'linger.ms': 20, 'compression.codec': 'lz4' }, { acks: -1 });
    await new Promise<void>((res, rej) => p.connect({ timeout: 20_000 }, (e) => (e ? rej(e) : res())));
    p.setPollInterval(20);
    let delivered = 0;
    const allDelivered = new Promise<void>((res) => p.on('delivery-report', () => ++delivered === N && res()));
    const now = new Date().toISOString();
    for (let i = 0; i < N; i += 1000) {
      const batch = syntheticBatch(Math.min(1000, N - i), { learners: 97 }, i);
      batch.forEach((ev, j) => {
        const value = deadLetterValue({ reason: 'validation', errors: [{ code: 'unknown_schema_version', path: '/schema_version', message: 'bench' }], retryCount: 0, failedAt: now, batchId: `b-${i}`, instance: 'bench', tenantId: ev.tenant_id as string, eventIndex: j, original: ev });
        for (;;) {
          try {
            p.produce(dlq, null, Buffer.from(value), ev.learner_id as string, Date.now(), undefined, [{ reason: 'validation' }, { batch_id: `b-${i}` }, { tenant_id: ev.tenant_id as string }, { received_at: now }]);
            break;
          } catch {
            p.poll(); // queue full: let reports drain
          }
        }
      });
      await new Promise((r) => setImmediate(r));
    }
    await allDelivered;
    await new Promise((r) => p.disconnect(10_000, r));

    const { global, topic } = producerSettings(config);
    const load0 = os.loadavg();
    const s = await replayDeadLetters({
      bootstrap: config.KAFKA_BOOTSTRAP_SERVERS, dlqTopic: dlq, eventsTopic: events, markerTopic: `${dlq}-replayed`,
      producerGlobal: global as Record<string, unknown>, producerTopic: topic as Record<string, unknown>, consumerExtra: {},
      filter: {}, limits: decodeLimits(config), payload: undefined, dryRun: false, chunk: CHUNK,
    });
    const rate = Math.round(s.replayed / s.seconds);
    const load1 = os.loadavg();
    log(`replayed ${s.replayed} of ${N} dead letters in ${s.seconds.toFixed(2)} s: ${rate.toLocaleString('en-US')} dead letters/s (chunk ${CHUNK}); load average before ${load0.map((x) => x.toFixed(2)).join(' ')}, after ${load1.map((x) => x.toFixed(2)).join(' ')}`);
    const dir = process.env.BENCH_RESULTS_DIR || join(root, 'bench', 'results');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `${new Date().toISOString().replace(/[:.]/g, '-').slice(0, 19)}Z-dlq-replay.json`);
    writeFileSync(file, `${JSON.stringify({ kind: 'dlq-replay', deadLetters: N, chunk: CHUNK, summary: s, deadLettersPerS: rate, loadAvgBefore: load0, loadAvgAfter: load1 }, null, 2)}\n`);
    log(`report written to ${file}`);
  } finally {
    await broker.stop();
  }
}

main().catch((err: Error) => {
  process.stderr.write(`${err.stack ?? err.message}\n`);
  process.exit(1);
});
