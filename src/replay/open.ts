/**
 * The host-wide order and its replayer, at start: the order table is published before any batch is accepted (what
 * each log of this process owes, and the durable limit the leader may read up to), and one replayer per host sends
 * the merged order of every log of the host.
 */
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Circuit } from '../producer/circuit.js';
import type { EventProducer } from '../producer/producer.js';
import type { SpillClient } from '../spill/index.js';
import type { SpillHello } from '../spill/protocol.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import type { TopicRoutes } from '../pipeline/routes.js';
import { OrderHeads } from './heads.js';
import { HostTable } from './host-table.js';
import { ReplayLeadership } from './replay-lock.js';
import { Replayer } from './replayer.js';

export function openHostOrder(config: Config, hello: SpillHello): { host: HostTable; heads: OrderHeads } {
  const host = HostTable.open(resolve(config.BUFFER_DIR));
  const heads = new OrderHeads(host, hello.sources[0]!.dir);
  for (const s of hello.sources) heads.track(s.dir, s.records > 0);
  // The replay leader reads the own log below this only (appends move it); adopted logs: no limit.
  for (const s of hello.sources) heads.setDurable(s.dir, s.dir === heads.ownDir ? s.nextSeq : 0);
  return { host, heads };
}

export interface ReplayDeps {
  config: Config;
  spill: SpillClient;
  producer: EventProducer;
  circuit: Circuit;
  telemetry: Telemetry;
  log: Logger;
  dlqRoutes: TopicRoutes;
  deadLetterHeaders: readonly string[];
  instance: string;
  heads: OrderHeads;
}

export function startReplayer(d: ReplayDeps): Replayer {
  const replayer = new Replayer({
    spill: d.spill, producer: d.producer, circuit: d.circuit, telemetry: d.telemetry, log: d.log, dlqRoutes: d.dlqRoutes,
    deadLetterHeaders: d.deadLetterHeaders, instance: d.instance, maxRetries: d.config.KAFKA_MAX_RETRIES,
    // Half the producer's queue: room is left for live batches and for the chunk after this one.
    queueBudget: Math.floor(d.config.KAFKA_QUEUE_MAX_MESSAGES / 2),
    heads: d.heads, baseDir: resolve(d.config.BUFFER_DIR),
    leadership: new ReplayLeadership(resolve(d.config.BUFFER_DIR)),
  });
  replayer.start();
  return replayer;
}
