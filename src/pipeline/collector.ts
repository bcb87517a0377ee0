/**
 * One batch, from slab slot to answer: the decode pool validates and packs it, the
 * producer writes accepted events to the main topic and rejected ones to the
 * dead-letter topic, and only when Kafka has acknowledged every record does the
 * answer say 2xx.
 */
import type { Piscina } from 'piscina';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { errorBody, type ErrorCode, ERRORS } from '../errors.js';
import { DEAD_LETTER_HEADERS, EVENT_HEADERS, type DecodeOutcome } from '../codec/decode.js';
import type { EventProducer } from '../producer/producer.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import type { Slab } from '../ring/slab.js';
import type { DecodeTask } from './task.js';
import { batchAnswer, type CollectAnswer } from './answer.js';

export interface CollectorDeps {
  config: Readonly<Config>;
  slab: Slab;
  pool: Piscina;
  producer: EventProducer;
  telemetry: Telemetry;
  log: Logger;
}

export function errorAnswer(code: ErrorCode, detail?: string, batchId?: string, retryAfter?: number): CollectAnswer {
  const answer: CollectAnswer = { status: ERRORS[code].status, body: errorBody(code, detail, batchId) };
  if (retryAfter !== undefined) answer.retryAfter = retryAfter;
  return answer;
}

export class Collector {
  constructor(private readonly deps: CollectorDeps) {}

  async collect(task: DecodeTask, startedAt: number): Promise<CollectAnswer> {
    const { pool, producer, config, telemetry, slab } = this.deps;
    let outcome: DecodeOutcome;
    try {
      outcome = (await pool.run(task)) as DecodeOutcome;
    } catch (err) {
      this.deps.log.error({ err }, 'decode worker failed');
      return errorAnswer('COLLECTOR_ERR_INTERNAL', 'the batch could not be decoded');
    } finally {
      // The worker frees the slot itself; this covers a worker that died before it could.
      slab.release(task.slot, task.token);
    }
    if (!outcome.ok) return errorAnswer(outcome.code, outcome.detail, outcome.batchId);

    const batch = outcome.batch;
    const [main, dead] = await Promise.all([
      producer.send(config.KAFKA_TOPIC, batch.accepted, EVENT_HEADERS, task.receivedAt),
      producer.send(config.DLQ_TOPIC, batch.dead, DEAD_LETTER_HEADERS, task.receivedAt),
    ]);
    telemetry.kafkaWritten('events', batch.accepted.count - main.failures.length);
    telemetry.kafkaWritten('dlq', batch.dead.count - dead.failures.length);
    if (main.failures.length > 0 || dead.failures.length > 0) {
      const first = main.failures[0] ?? dead.failures[0]!;
      this.deps.log.warn(
        { batch_id: batch.batchId, failed: main.failures.length + dead.failures.length, err: first.message },
        'kafka did not acknowledge the batch',
      );
      return errorAnswer('COLLECTOR_ERR_KAFKA_UNAVAILABLE', first.message, batch.batchId, 1);
    }
    telemetry.batchSettled(batch.accepted.count, batch.rejected.length);
    return batchAnswer(
      batch.batchId,
      batch.accepted.count,
      batch.rejected,
      main.partitions,
      batch.warnings,
      performance.now() - startedAt,
    );
  }
}
