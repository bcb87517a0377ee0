/**
 * `npm run dlq -- replay`: dead letters judged again with the schemas and rules in force now; the
 * ones that pass are written to the events topic as the collect path writes them (value, key and
 * so partition, headers), plus a `dlq_replayed_from` header naming the dead letter.
 *
 * Exactly once, through Kafka transactions (see markers.ts): events and their markers are written
 * in chunks, each chunk one transaction. The transactional.id is fixed per DLQ topic, so a second
 * replay started while one runs fences the first (it fails at its next commit), and a run killed
 * by SIGKILL leaves nothing visible to read_committed readers. Ctrl-C stops after the chunk being
 * written commits.
 *
 * Poison pills (Kafka itself refused the event) and tenant_forbidden (the key may not write that
 * tenant) are never replayed unless their reason is named with --reason.
 */
import Kafka from 'node-rdkafka';
import type { DecodeLimits } from '../codec/decode.js';
import type { PayloadValidators } from '../codec/payload.js';
import { matches, type DeadLetterFilter } from './filter.js';
import { ensureMarkerTopic, readMarkers } from './markers.js';
import { TopicReader } from './reader.js';
import { deadLetterId, parseDeadLetter, type DeadLetterRecord } from './record.js';
import { rejudge } from './rejudge.js';

export const NEVER_UNLESS_NAMED: readonly string[] = ['poison_pill', 'tenant_forbidden'];

export interface ReplayOptions {
  bootstrap: string;
  dlqTopic: string;
  eventsTopic: string;
  markerTopic: string;
  /** librdkafka global and topic settings of the collector's producer (security, compression, partitioner) */
  producerGlobal: Record<string, unknown>;
  producerTopic: Record<string, unknown>;
  /** librdkafka settings a consumer may share with the producer (security) */
  consumerExtra: Record<string, unknown>;
  filter: DeadLetterFilter;
  limits: DecodeLimits;
  payload: PayloadValidators | undefined;
  dryRun: boolean;
  /** dead letters per transaction */
  chunk: number;
  onProgress?: (s: ReplaySummary) => void;
  signal?: AbortSignal;
}

export interface ReplaySummary {
  read: number;
  matched: number;
  /** written to the events topic (with --dry-run: would be) */
  replayed: number;
  alreadyReplayed: number;
  /** still refused, by the first error code of each dead letter */
  stillFailing: Record<string, number>;
  /** left alone by reason (poison_pill, tenant_forbidden unless named) */
  skipped: Record<string, number>;
  interrupted: boolean;
  /** wall time of the run, from the first read to the last commit */
  seconds: number;
}

const call = (fn: (cb: (err: Kafka.LibrdKafkaError | null | undefined) => void) => void): Promise<void> =>
  new Promise((resolve, reject) => fn((err) => (err ? reject(err) : resolve())));

export async function replayDeadLetters(o: ReplayOptions): Promise<ReplaySummary> {
  const s: ReplaySummary = { read: 0, matched: 0, replayed: 0, alreadyReplayed: 0, stillFailing: {}, skipped: {}, interrupted: false, seconds: 0 };
  const t0 = Date.now();
  const named = o.filter.reasons ?? [];
  let markers = new Set<string>();
  if (o.dryRun) {
    markers = await readMarkers(o.bootstrap, o.markerTopic, o.consumerExtra).catch((err: Error) => {
      if (/does not exist/.test(err.message)) return new Set<string>();
      throw err;
    });
  } else if ((await ensureMarkerTopic(o.bootstrap, o.markerTopic, o.consumerExtra)) === 'exists') {
    markers = await readMarkers(o.bootstrap, o.markerTopic, o.consumerExtra);
  }

  let producer: Kafka.Producer | null = null;
  if (!o.dryRun) {
    producer = new Kafka.Producer(
      {
        ...(o.producerGlobal as Kafka.ProducerGlobalConfig),
        'transactional.id': `event-collector-dlq-replay:${o.dlqTopic}`,
        'enable.idempotence': true,
        dr_cb: false,
      },
      o.producerTopic as Kafka.ProducerTopicConfig,
    );
    await call((cb) => producer!.connect({ timeout: 20_000 }, (err) => cb(err)));
    producer.setPollInterval(50);
    // Aborts whatever a killed earlier run left open under this transactional.id, and fences it.
    await call((cb) => producer!.initTransactions(60_000, cb));
  }

  const pending: { r: DeadLetterRecord; value: Buffer; key: string | null; headers: { [k: string]: string }[] }[] = [];
  const flush = async () => {
    if (pending.length === 0) return;
    if (producer !== null) {
      await call((cb) => producer!.beginTransaction(cb));
      for (const p of pending) {
        const id = deadLetterId(p.r);
        producer.produce(o.eventsTopic, null, p.value, p.key ?? undefined, Date.now(), undefined, [...p.headers, { dlq_replayed_from: id }]);
        producer.produce(o.markerTopic, null, Buffer.from(JSON.stringify({ event_id: p.r.eventId, to: o.eventsTopic, at: new Date().toISOString() })), id, Date.now());
      }
      // Flushes every record of the transaction; an error here leaves none of them readable.
      await call((cb) => producer!.commitTransaction(120_000, cb));
    }
    for (const p of pending) markers.add(deadLetterId(p.r));
    s.replayed += pending.length;
    pending.length = 0;
    o.onProgress?.(s);
  };

  const reader = await TopicReader.open({ bootstrap: o.bootstrap, topic: o.dlqTopic, extra: o.consumerExtra, since: o.filter.since });
  try {
    outer: for await (const batch of reader.batches()) {
      for (const m of batch) {
        if (o.signal?.aborted) {
          s.interrupted = true;
          break outer;
        }
        s.read++;
        const r = parseDeadLetter(m);
        if (!matches(o.filter, r)) continue;
        s.matched++;
        if (markers.has(deadLetterId(r))) {
          s.alreadyReplayed++;
          continue;
        }
        if (NEVER_UNLESS_NAMED.includes(r.reason) && !named.includes(r.reason)) {
          s.skipped[r.reason] = (s.skipped[r.reason] ?? 0) + 1;
          continue;
        }
        const j = rejudge(r, o.limits, o.payload, 'dlq-replay');
        if (!j.ok) {
          const code = j.codes[0] ?? 'unknown';
          s.stillFailing[code] = (s.stillFailing[code] ?? 0) + 1;
          continue;
        }
        pending.push({ r, value: j.value, key: j.key, headers: j.headers });
        if (pending.length >= o.chunk) await flush();
      }
      o.onProgress?.(s);
    }
    if (o.signal?.aborted) s.interrupted = true;
    await flush();
    s.seconds = (Date.now() - t0) / 1000;
  } finally {
    await reader.close();
    if (producer !== null) await new Promise((r) => producer!.disconnect(30_000, r));
  }
  return s;
}
