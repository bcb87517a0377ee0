/**
 * The spec's JSON documents: GET /api/v1/health and GET /api/v1/metrics, built from
 * the telemetry snapshot and the live state of the producer, circuit and spill log.
 *
 * Health rules: unhealthy — stopping, or Kafka unreachable and the spill log ≥ 95 % full
 * (nothing more can be accepted); degraded — circuit not closed, spill log holding
 * batches, or DLQ rate over 5 % in the window; healthy otherwise. 503 only when unhealthy.
 */
import type { EventProducer } from '../producer/producer.js';
import type { Circuit } from '../producer/circuit.js';
import type { SpillClient } from '../spill/client.js';
import type { Telemetry } from './telemetry.js';
import type { StoreStatus } from '../shared-store/store.js';

export interface HealthInput {
  telemetry: Telemetry;
  producer: EventProducer;
  circuit: Circuit;
  spill: SpillClient;
  stopping: boolean;
  /** what a 2xx means: KAFKA_ACKS, KAFKA_IDEMPOTENT, ALLOW_WEAK_ACKS */
  durability: { acks: string; idempotent: boolean; weakAcksAllowed: boolean };
  /** payload schema status (src/schema/payload/service.ts) */
  schemas?: () => { status: 'ok' | 'degraded'; generation: number; problems: { message: string }[] };
  /** the shared store's state (src/shared-store/store.ts); absent without REDIS_URL */
  store?: (() => StoreStatus) | undefined;
}

export function spillSummary(spill: SpillClient) {
  const sources = spill.sources;
  const own = sources[0];
  return {
    batches: sources.reduce((n, s) => n + s.records, 0),
    events: sources.reduce((n, s) => n + s.events, 0),
    bytes: sources.reduce((n, s) => n + s.bytes, 0),
    fillRatio: own?.fillRatio ?? 0,
    adopted: sources.length - 1,
  };
}

const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;

/** GET /api/v1/health of one process (the spec's fields, then ours). */
export interface HealthBody {
  status: 'healthy' | 'degraded' | 'unhealthy';
  kafka_connected: boolean;
  buffer_status: {
    buffered_batches: number;
    buffer_size_mb: number;
    buffered_events: number;
    fill_percent: number;
    replay_events_per_second: number;
    adopted_logs: number;
  };
  circuit_state: string;
  throughput_metrics: { events_per_second: number; avg_processing_time_ms: number };
  dlq_rate: number;
  uptime_seconds: number;
  /** what a 2xx promises: weak_acks is true when an acknowledged event can be lost with one broker */
  durability: { acks: string; idempotent: boolean; weak_acks: boolean };
  payload_schemas: { status: 'ok' | 'degraded'; generation: number; problems: string[] };
  /** with REDIS_URL: shared (dedup and quotas across replicas) or degraded (per host only) and why */
  shared_store?: StoreStatus;
  /** while Kafka is unreachable, what librdkafka said stops it (e.g. "authentication failed") */
  kafka_problem?: string;
}

/** GET /api/v1/metrics of one process (the spec's fields, then ours). */
export interface MetricsBody {
  events_processed_total: number;
  events_per_second: number;
  events_accepted_total: number;
  events_rejected_total: number;
  kafka_writes_total: number;
  dlq_events_total: number;
  buffer_events_count: number;
  avg_processing_time_ms: number;
  p99_processing_time_ms: number;
  spilled_events_total: number;
  replayed_events_total: number;
  possible_duplicates_total: number;
  poison_pills_total: number;
}

export function healthReport(h: HealthInput): { status: number; body: HealthBody } {
  const s = h.telemetry.snapshot();
  const spill = spillSummary(h.spill);
  const kafka = h.producer.isConnected && h.circuit.state !== 'open';
  const dlqRate = s.events_processed_total ? s.events_rejected_total / s.events_processed_total : 0;
  let status: HealthBody['status'] = 'healthy';
  const schemas = h.schemas?.() ?? { status: 'ok' as const, generation: 0, problems: [] };
  const store = h.store?.();
  if (h.stopping || (!kafka && spill.fillRatio >= 0.95)) status = 'unhealthy';
  else if (!kafka || spill.batches > 0 || dlqRate > 0.05 || schemas.status !== 'ok' || store?.state === 'degraded') status = 'degraded';
  return {
    status: status === 'unhealthy' ? 503 : 200,
    body: {
      status,
      kafka_connected: kafka,
      buffer_status: {
        buffered_batches: spill.batches,
        buffer_size_mb: round(spill.bytes / 1048576),
        buffered_events: spill.events,
        fill_percent: round(spill.fillRatio * 100, 1),
        replay_events_per_second: round(h.telemetry.replayRate(), 1),
        adopted_logs: spill.adopted,
      },
      circuit_state: h.circuit.state,
      throughput_metrics: {
        events_per_second: round(s.events_in_window / s.window_seconds, 1),
        avg_processing_time_ms: s.latency_count ? round(s.latency_sum_ms / s.latency_count) : 0,
      },
      dlq_rate: round(dlqRate, 4),
      uptime_seconds: Math.round((Date.now() - h.telemetry.startedAt) / 1000),
      durability: {
        acks: h.durability.acks === '-1' ? 'all' : h.durability.acks,
        idempotent: h.durability.idempotent,
        weak_acks: h.durability.weakAcksAllowed && h.durability.acks !== 'all' && h.durability.acks !== '-1',
      },
      payload_schemas: { status: schemas.status, generation: schemas.generation, problems: schemas.problems.map((p) => p.message) },
      ...(store ? { shared_store: store } : {}),
      ...(!kafka && h.producer.kafkaProblem ? { kafka_problem: h.producer.kafkaProblem } : {}),
    },
  };
}

export function metricsReport(t: Telemetry, spill: SpillClient): MetricsBody {
  const s = t.snapshot();
  return {
    events_processed_total: s.events_processed_total,
    events_per_second: round(s.events_in_window / s.window_seconds, 1),
    events_accepted_total: s.events_accepted_total,
    events_rejected_total: s.events_rejected_total,
    kafka_writes_total: s.kafka_writes_total,
    dlq_events_total: s.dlq_events_total,
    buffer_events_count: spillSummary(spill).events,
    avg_processing_time_ms: s.latency_count ? round(s.latency_sum_ms / s.latency_count) : 0,
    p99_processing_time_ms: s.p99_ms,
    spilled_events_total: s.spilled_events_total,
    replayed_events_total: s.replayed_events_total,
    possible_duplicates_total: s.possible_duplicates_total,
    poison_pills_total: s.poison_pills_total,
  };
}
