/**
 * The spec's JSON documents: GET /api/v1/health and GET /api/v1/metrics, built from
 * the telemetry snapshot and the live state of the producer.
 */
import type { EventProducer } from '../producer/producer.js';
import type { Telemetry } from './telemetry.js';

export interface HealthInput {
  telemetry: Telemetry;
  producer: EventProducer;
  ready: boolean;
  stopping: boolean;
}

export function healthReport(h: HealthInput): { status: number; body: unknown } {
  const s = h.telemetry.snapshot();
  const kafka = h.ready && h.producer.isConnected;
  const status = h.stopping || !kafka ? 'unhealthy' : 'healthy';
  return {
    status: status === 'unhealthy' ? 503 : 200,
    body: {
      status,
      kafka_connected: kafka,
      buffer_status: { buffered_batches: 0, buffer_size_mb: 0 },
      throughput_metrics: {
        events_per_second: Math.round((s.events_in_window / s.window_seconds) * 10) / 10,
        avg_processing_time_ms: s.latency_count ? Math.round((s.latency_sum_ms / s.latency_count) * 100) / 100 : 0,
      },
      uptime_seconds: Math.round((Date.now() - h.telemetry.startedAt) / 1000),
    },
  };
}

export function metricsReport(t: Telemetry): unknown {
  const s = t.snapshot();
  return {
    events_processed_total: s.events_processed_total,
    events_per_second: Math.round((s.events_in_window / s.window_seconds) * 10) / 10,
    kafka_writes_total: s.kafka_writes_total,
    dlq_events_total: s.dlq_events_total,
    buffer_events_count: 0,
    avg_processing_time_ms: s.latency_count ? Math.round((s.latency_sum_ms / s.latency_count) * 100) / 100 : 0,
    p99_processing_time_ms: s.p99_ms,
  };
}
