/**
 * The Prometheus series Telemetry exports, declared by group: each function registers its
 * group's series in `registry` and exports every known label value at 0 from the start, so
 * rate() and the alert rules (deploy/prometheus) see a series before the first event of its kind.
 * Names, labels and help text are the operators' interface: dashboards and alerts query them.
 */
import client from 'prom-client';

/** Most tenants with a metric label of their own; the rest share OTHER_TENANT. */
export const MAX_TENANT_LABELS = 200;
export const OTHER_TENANT = '_other';

/** Same buckets for every request/batch latency histogram, so their quantiles compare. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24];

/** What the acceptor's admission reports when metrics are collected (undefined before it is watched). */
export type AdmissionSource = () => { limit: number; inFlight: number; stretch?: number } | undefined;

/** Requests and batches by the door they came in (HTTP, gRPC), and the port's other listeners. */
export function ingressSeries(registry: client.Registry) {
  const requests = new client.Counter({
    name: 'collector_http_requests_total',
    help: 'HTTP requests answered, by route and status',
    labelNames: ['route', 'status'],
    registers: [registry],
  });
  const latency = new client.Histogram({
    name: 'collector_request_duration_seconds',
    help: 'Time from the first body byte to the answer',
    labelNames: ['route'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  // Batches by the door they came in (ingress="http"|"grpc"): HTTP answers are also in
  // collector_http_requests_total; gRPC's only here (per method and gRPC status code name).
  const batches = new client.Counter({
    name: 'collector_ingress_batches_total',
    help: 'Batches answered, by ingress (http|grpc), method (collect | Collect | CollectStream) and code (HTTP status or gRPC status name)',
    labelNames: ['ingress', 'method', 'code'],
    registers: [registry],
  });
  const batchLatency = new client.Histogram({
    name: 'collector_batch_duration_seconds',
    help: 'Time from a batch being in (HTTP: first body byte; gRPC: message received) to its answer, by ingress',
    labelNames: ['ingress'],
    buckets: LATENCY_BUCKETS,
    registers: [registry],
  });
  const grpcStreams = new client.Gauge({
    name: 'collector_grpc_active_streams',
    help: 'CollectStream calls open in this process',
    registers: [registry],
  });
  const foreignListeners = new client.Gauge({
    name: 'collector_foreign_listeners',
    help: 'Processes outside this collector group listening on our port (SO_REUSEPORT shares connections with them)',
    registers: [registry],
  });
  batches.inc({ ingress: 'http', method: 'collect', code: '200' }, 0);
  for (const method of ['Collect', 'CollectStream']) batches.inc({ ingress: 'grpc', method, code: 'OK' }, 0);
  grpcStreams.set(0);
  latency.zero({ route: 'collect' });
  return { requests, latency, batches, batchLatency, grpcStreams, foreignListeners };
}

/** Requests refused before their body was read (or cut off), and the adaptive limit that refuses them. */
export function admissionSeries(registry: client.Registry, admission: AdmissionSource) {
  const refusals = new client.Counter({
    name: 'collector_admission_refusals_total',
    help: 'Requests refused before their body was read (overloaded: 503, client_*: 429) or cut off (body_timeout: 408)',
    labelNames: ['reason'],
    registers: [registry],
  });
  const authRefusals = new client.Counter({
    name: 'collector_auth_refusals_total',
    help: 'Requests refused 401 by AUTH_MODE=api_key: missing (no key), unknown (wrong or malformed key), revoked',
    labelNames: ['reason'],
    registers: [registry],
  });
  new client.Gauge({
    name: 'collector_admission_limit',
    help: 'Adaptive limit of batches in flight in this process (shrinks while batches take longer than ADMISSION_TARGET_MS)',
    registers: [registry],
    collect() {
      const a = admission();
      if (a) this.set(a.limit);
    },
  });
  new client.Gauge({
    name: 'collector_admission_cpu_stretch',
    help: "The main thread's (run + run-queue wait) / run over admission's last window: service times are divided by it (1 = a core was always free)",
    registers: [registry],
    collect() {
      const a = admission();
      if (a?.stretch !== undefined) this.set(a.stretch);
    },
  });
  new client.Gauge({
    name: 'collector_requests_in_flight',
    help: 'Admitted batches not yet done (body being read, decoded or delivered)',
    registers: [registry],
    collect() {
      const a = admission();
      if (a) this.set(a.inFlight);
    },
  });
  for (const reason of ['overloaded', 'producer_queue', 'client_in_flight', 'client_rate', 'body_timeout']) refusals.inc({ reason }, 0);
  for (const reason of ['missing', 'unknown', 'revoked']) authRefusals.inc({ reason }, 0);
  return { refusals, authRefusals };
}

/** Events delivered to Kafka or dead-lettered, records written per topic, and the producer's state. */
export function deliverySeries(registry: client.Registry, topics: readonly (readonly ['events' | 'dlq', string])[]) {
  const events = new client.Counter({
    name: 'collector_events_total',
    help: 'Events by outcome: accepted (in Kafka), rejected (to the DLQ)',
    labelNames: ['outcome'],
    registers: [registry],
  });
  const kafkaWrites = new client.Counter({
    name: 'collector_kafka_records_written_total',
    help: 'Records acknowledged by Kafka, by kind (events, dlq) and topic name',
    labelNames: ['kind', 'topic'],
    registers: [registry],
  });
  const kafkaConnected = new client.Gauge({
    name: 'collector_kafka_connected',
    help: '1 while the Kafka producer is connected and the circuit is not open, else 0',
    registers: [registry],
  });
  const circuit = new client.Gauge({
    name: 'collector_circuit_state',
    help: 'Kafka circuit breaker: 1 for the current state',
    labelNames: ['state'],
    registers: [registry],
  });
  for (const outcome of ['accepted', 'rejected']) events.inc({ outcome }, 0);
  for (const [kind, topic] of topics) kafkaWrites.inc({ kind, topic }, 0);
  kafkaConnected.set(0);
  return { events, kafkaWrites, kafkaConnected, circuit };
}

/** Events written twice (possibly) or not written again (dedup). */
export function duplicateSeries(registry: client.Registry) {
  const possible = new client.Counter({
    name: 'collector_possible_duplicates_total',
    help: 'Records that may reach Kafka twice (acknowledged late after being spilled, or re-sent by a replay retry)',
    registers: [registry],
  });
  const skipped = new client.Counter({
    name: 'collector_dedup_duplicates_total',
    help: 'Events a client sent again within the dedup window: acknowledged, not written twice',
    registers: [registry],
  });
  return { possible, skipped };
}

/** Events Kafka refused for good: quarantined to the DLQ, or lost when the DLQ refused them too. */
export function deadLetterSeries(registry: client.Registry) {
  const poisoned = new client.Counter({
    name: 'collector_poison_pills_total',
    help: 'Events Kafka refused for good (or past KAFKA_MAX_RETRIES), quarantined to the DLQ',
    registers: [registry],
  });
  const dropped = new client.Counter({
    name: 'collector_dead_letters_dropped_total',
    help: 'Dead letters Kafka refused for good even without their original event (logged at error level): lost',
    registers: [registry],
  });
  return { poisoned, dropped };
}

/** The disk spill log: events in and out, its fill, refusals at its cap, and records found damaged. */
export function spillSeries(registry: client.Registry) {
  const events = new client.Counter({
    name: 'collector_spill_events_total',
    help: 'Events written to the disk spill log (in) and replayed from it into Kafka (out)',
    labelNames: ['direction'],
    registers: [registry],
  });
  const state = new client.Gauge({
    name: 'collector_spill',
    help: 'Spill log now: batches, events, bytes, fill_ratio',
    labelNames: ['what'],
    registers: [registry],
  });
  const full = new client.Counter({
    name: 'collector_spill_full_total',
    help: 'Batches refused with 503 because the spill log was at its cap',
    registers: [registry],
  });
  const lost = new client.Counter({
    name: 'collector_spill_acknowledged_records_lost_total',
    help: 'Acknowledged spilled records found damaged at start (below the durable limit): lost, their segment quarantined',
    registers: [registry],
  });
  const corrupt = new client.Counter({
    name: 'collector_spill_corrupt_records_total',
    help: 'Times replay met a spilled record failing its checksum: its segment copied to BUFFER_DIR/<log>/quarantine/, the record skipped',
    registers: [registry],
  });
  for (const direction of ['in', 'out']) events.inc({ direction }, 0);
  for (const what of ['batches', 'events', 'bytes', 'fill_ratio']) state.set({ what }, 0);
  return { events, state, full, lost, corrupt };
}

/** Events per tenant and outcome, with a bounded label set (see Telemetry.knownTenants). */
export function tenantSeries(registry: client.Registry) {
  const events = new client.Counter({
    name: 'collector_tenant_events_total',
    help: `Events by tenant and outcome: accepted (in Kafka), rejected (dead-lettered, tenant_forbidden included), throttled (refused 429 by the tenant's quota). Tenants named in the keys and quota files have their own label (at most ${MAX_TENANT_LABELS}); every other tenant is counted under "${OTHER_TENANT}"`,
    labelNames: ['tenant', 'outcome'],
    registers: [registry],
  });
  for (const outcome of ['accepted', 'rejected', 'throttled']) events.inc({ tenant: OTHER_TENANT, outcome }, 0);
  return { events };
}
