/**
 * Every metric the process emits goes through the named functions here: counters and
 * histograms in a prom-client registry (GET /metrics), plus an HDR histogram over a
 * sliding window for the spec's p99 (a real percentile, not an average of averages).
 * Called once per batch or request, never per event in a hot loop; labels are bounded.
 */
import client from 'prom-client';
import * as hdr from 'hdr-histogram-js';

const WINDOW_SLICES = 6;
/** Most tenants with a metric label of their own; the rest share OTHER_TENANT. */
export const MAX_TENANT_LABELS = 200;
export const OTHER_TENANT = '_other';
const SLICE_MS = 10_000;

/** p99 etc. over the last WINDOW_SLICES × SLICE_MS (60 s), in microseconds. */
class SlidingHistogram {
  private slices: hdr.Histogram[] = [];
  private sliceStart = Date.now();

  constructor() {
    this.slices.push(this.make());
  }

  private make(): hdr.Histogram {
    return newWindowHistogram();
  }

  private rotate(now: number): void {
    while (now - this.sliceStart >= SLICE_MS) {
      this.sliceStart += SLICE_MS;
      this.slices.push(this.make());
      if (this.slices.length > WINDOW_SLICES) this.slices.shift();
    }
  }

  record(micros: number): void {
    this.rotate(Date.now());
    this.slices[this.slices.length - 1]!.recordValue(Math.max(1, Math.round(micros)));
  }

  merged(): hdr.Histogram {
    this.rotate(Date.now());
    const out = newWindowHistogram();
    for (const s of this.slices) out.add(s);
    return out;
  }
}

/** An empty histogram with the window's settings (microseconds, 3 significant digits). */
export function newWindowHistogram(): hdr.Histogram {
  return hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120_000_000, numberOfSignificantValueDigits: 3 });
}

/**
 * Merges window histograms exported by several processes (encodeIntoCompressedBase64):
 * percentiles of the merged histogram are the cluster's, which no average of per-process
 * percentiles is. Undecodable inputs are skipped.
 */
export function mergeEncodedWindows(encoded: readonly string[]): { p50_ms: number; p99_ms: number; p999_ms: number; max_ms: number; count: number } {
  const out = newWindowHistogram();
  for (const e of encoded) {
    try {
      out.add(hdr.decodeFromCompressedBase64(e));
    } catch {
      // a torn or foreign file: that process's latencies are left out
    }
  }
  const ms = (v: number) => Math.round(v / 10) / 100;
  return {
    p50_ms: ms(out.getValueAtPercentile(50)),
    p99_ms: ms(out.getValueAtPercentile(99)),
    p999_ms: ms(out.getValueAtPercentile(99.9)),
    max_ms: ms(out.maxValue),
    count: out.totalCount,
  };
}

/** The doors a batch comes in by. */
export type Ingress = 'http' | 'grpc';
export const INGRESSES: readonly Ingress[] = ['http', 'grpc'];

/** Batches answered per ingress since start; failed = refused or failed as a whole (HTTP ≥ 400, gRPC not OK). */
export interface IngressTotals {
  batches_total: number;
  failed_total: number;
}

export interface TelemetrySnapshot {
  events_processed_total: number;
  events_accepted_total: number;
  events_rejected_total: number;
  kafka_writes_total: number;
  dlq_events_total: number;
  requests_total: number;
  spilled_events_total: number;
  replayed_events_total: number;
  possible_duplicates_total: number;
  poison_pills_total: number;
  dedup_duplicates_total: number;
  /** over the histogram window */
  events_in_window: number;
  window_seconds: number;
  latency_count: number;
  latency_sum_ms: number;
  p50_ms: number;
  p99_ms: number;
  p999_ms: number;
  max_ms: number;
  ingress: Record<Ingress, IngressTotals>;
}

export class Telemetry {
  readonly registry = new client.Registry();
  private readonly requests: client.Counter<'route' | 'status'>;
  private readonly events: client.Counter<'outcome'>;
  private readonly kafkaWrites: client.Counter<'kind' | 'topic'>;
  private readonly latency: client.Histogram<'route'>;
  private readonly spillEvents: client.Counter<'direction'>;
  private readonly duplicates: client.Counter;
  private readonly poison: client.Counter;
  private readonly deadLost: client.Counter;
  private readonly corrupt: client.Counter;
  private readonly spillLost: client.Counter;
  private readonly dedupSkipped: client.Counter;
  private readonly foreignGauge: client.Gauge;
  private readonly fullRefusals: client.Counter;
  private readonly circuitGauge: client.Gauge<'state'>;
  private readonly spillGauge: client.Gauge<'what'>;
  private readonly kafkaGauge: client.Gauge;
  private readonly refusals: client.Counter<'reason'>;
  private readonly tenantCounter: client.Counter<'tenant' | 'outcome'>;
  private readonly authRefusals: client.Counter<'reason'>;
  private tenantLabels: ReadonlySet<string> = new Set();
  private readonly ingressBatches: client.Counter<'ingress' | 'method' | 'code'>;
  private readonly ingressLatency: client.Histogram<'ingress'>;
  private readonly streamsGauge: client.Gauge;
  private admissionSource: (() => { limit: number; inFlight: number; stretch?: number }) | undefined;
  private replayWindow: { at: number; n: number }[] = [];
  private readonly window = new SlidingHistogram();
  // Per door, so an operator sees whether gRPC or HTTP is slow or failing: the spec's window mixes both.
  private readonly ingressWindows: Record<Ingress, SlidingHistogram> = { http: new SlidingHistogram(), grpc: new SlidingHistogram() };
  private readonly ingressTotals: Record<Ingress, IngressTotals> = {
    http: { batches_total: 0, failed_total: 0 },
    grpc: { batches_total: 0, failed_total: 0 },
  };
  private readonly eventWindow: { at: number; n: number }[] = [];
  private totals = {
    processed: 0, accepted: 0, rejected: 0, kafka: 0, dlq: 0, requests: 0, latencySumMs: 0, latencyCount: 0,
    spilled: 0, replayed: 0, duplicates: 0, poisoned: 0, dedupSkipped: 0,
  };
  readonly startedAt = Date.now();

  /**
   * `labels`: on every series (the instance). `topics`: [kind, topic name] pairs whose write counters
   * start at 0, so a rate() over them exists before the first write.
   */
  constructor(labels: Record<string, string> = {}, private readonly topics: readonly (readonly ['events' | 'dlq', string])[] = [['events', 'events'], ['dlq', 'events-dlq']]) {
    this.registry.setDefaultLabels(labels);
    client.collectDefaultMetrics({ register: this.registry, prefix: 'collector_process_' });
    this.requests = new client.Counter({
      name: 'collector_http_requests_total',
      help: 'HTTP requests answered, by route and status',
      labelNames: ['route', 'status'],
      registers: [this.registry],
    });
    this.events = new client.Counter({
      name: 'collector_events_total',
      help: 'Events by outcome: accepted (in Kafka), rejected (to the DLQ)',
      labelNames: ['outcome'],
      registers: [this.registry],
    });
    this.kafkaWrites = new client.Counter({
      name: 'collector_kafka_records_written_total',
      help: 'Records acknowledged by Kafka, by kind (events, dlq) and topic name',
      labelNames: ['kind', 'topic'],
      registers: [this.registry],
    });
    this.latency = new client.Histogram({
      name: 'collector_request_duration_seconds',
      help: 'Time from the first body byte to the answer',
      labelNames: ['route'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24],
      registers: [this.registry],
    });
    this.spillEvents = new client.Counter({
      name: 'collector_spill_events_total',
      help: 'Events written to the disk spill log (in) and replayed from it into Kafka (out)',
      labelNames: ['direction'],
      registers: [this.registry],
    });
    this.duplicates = new client.Counter({
      name: 'collector_possible_duplicates_total',
      help: 'Records that may reach Kafka twice (acknowledged late after being spilled, or re-sent by a replay retry)',
      registers: [this.registry],
    });
    this.foreignGauge = new client.Gauge({
      name: 'collector_foreign_listeners',
      help: 'Processes outside this collector group listening on our port (SO_REUSEPORT shares connections with them)',
      registers: [this.registry],
    });
    this.dedupSkipped = new client.Counter({
      name: 'collector_dedup_duplicates_total',
      help: 'Events a client sent again within the dedup window: acknowledged, not written twice',
      registers: [this.registry],
    });
    this.poison = new client.Counter({
      name: 'collector_poison_pills_total',
      help: 'Events Kafka refused for good (or past KAFKA_MAX_RETRIES), quarantined to the DLQ',
      registers: [this.registry],
    });
    this.deadLost = new client.Counter({
      name: 'collector_dead_letters_dropped_total',
      help: 'Dead letters Kafka refused for good even without their original event (logged at error level): lost',
      registers: [this.registry],
    });
    this.spillLost = new client.Counter({
      name: 'collector_spill_acknowledged_records_lost_total',
      help: 'Acknowledged spilled records found damaged at start (below the durable limit): lost, their segment quarantined',
      registers: [this.registry],
    });
    this.corrupt = new client.Counter({
      name: 'collector_spill_corrupt_records_total',
      help: 'Times replay met a spilled record failing its checksum: its segment copied to BUFFER_DIR/<log>/quarantine/, the record skipped',
      registers: [this.registry],
    });
    this.fullRefusals = new client.Counter({
      name: 'collector_spill_full_total',
      help: 'Batches refused with 503 because the spill log was at its cap',
      registers: [this.registry],
    });
    this.circuitGauge = new client.Gauge({
      name: 'collector_circuit_state',
      help: 'Kafka circuit breaker: 1 for the current state',
      labelNames: ['state'],
      registers: [this.registry],
    });
    this.spillGauge = new client.Gauge({
      name: 'collector_spill',
      help: 'Spill log now: batches, events, bytes, fill_ratio',
      labelNames: ['what'],
      registers: [this.registry],
    });
    this.kafkaGauge = new client.Gauge({
      name: 'collector_kafka_connected',
      help: '1 while the Kafka producer is connected and the circuit is not open, else 0',
      registers: [this.registry],
    });
    this.refusals = new client.Counter({
      name: 'collector_admission_refusals_total',
      help: 'Requests refused before their body was read (overloaded: 503, client_*: 429) or cut off (body_timeout: 408)',
      labelNames: ['reason'],
      registers: [this.registry],
    });
    this.tenantCounter = new client.Counter({
      name: 'collector_tenant_events_total',
      help: `Events by tenant and outcome: accepted (in Kafka), rejected (dead-lettered, tenant_forbidden included), throttled (refused 429 by the tenant's quota). Tenants named in the keys and quota files have their own label (at most ${MAX_TENANT_LABELS}); every other tenant is counted under "${OTHER_TENANT}"`,
      labelNames: ['tenant', 'outcome'],
      registers: [this.registry],
    });
    this.authRefusals = new client.Counter({
      name: 'collector_auth_refusals_total',
      help: 'Requests refused 401 by AUTH_MODE=api_key: missing (no key), unknown (wrong or malformed key), revoked',
      labelNames: ['reason'],
      registers: [this.registry],
    });
    for (const reason of ['missing', 'unknown', 'revoked']) this.authRefusals.inc({ reason }, 0);
    for (const outcome of ['accepted', 'rejected', 'throttled']) this.tenantCounter.inc({ tenant: OTHER_TENANT, outcome }, 0);
    // Batches by the door they came in (ingress="http"|"grpc"): HTTP answers are also in
    // collector_http_requests_total; gRPC's only here (per method and gRPC status code name).
    this.ingressBatches = new client.Counter({
      name: 'collector_ingress_batches_total',
      help: 'Batches answered, by ingress (http|grpc), method (collect | Collect | CollectStream) and code (HTTP status or gRPC status name)',
      labelNames: ['ingress', 'method', 'code'],
      registers: [this.registry],
    });
    this.ingressLatency = new client.Histogram({
      name: 'collector_batch_duration_seconds',
      help: 'Time from a batch being in (HTTP: first body byte; gRPC: message received) to its answer, by ingress',
      labelNames: ['ingress'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24],
      registers: [this.registry],
    });
    this.streamsGauge = new client.Gauge({
      name: 'collector_grpc_active_streams',
      help: 'CollectStream calls open in this process',
      registers: [this.registry],
    });
    const admission = () => this.admissionSource?.();
    new client.Gauge({
      name: 'collector_admission_limit',
      help: 'Adaptive limit of batches in flight in this process (shrinks while batches take longer than ADMISSION_TARGET_MS)',
      registers: [this.registry],
      collect() {
        const a = admission();
        if (a) this.set(a.limit);
      },
    });
    new client.Gauge({
      name: 'collector_admission_cpu_stretch',
      help: "The main thread's (run + run-queue wait) / run over admission's last window: service times are divided by it (1 = a core was always free)",
      registers: [this.registry],
      collect() {
        const a = admission();
        if (a?.stretch !== undefined) this.set(a.stretch);
      },
    });
    new client.Gauge({
      name: 'collector_requests_in_flight',
      help: 'Admitted batches not yet done (body being read, decoded or delivered)',
      registers: [this.registry],
      collect() {
        const a = admission();
        if (a) this.set(a.inFlight);
      },
    });
    for (const reason of ['overloaded', 'producer_queue', 'client_in_flight', 'client_rate', 'body_timeout']) this.refusals.inc({ reason }, 0);
    // Every known label value is exported from the start, at 0: rate() and the alert rules
    // (deploy/prometheus) see a series before the first event of its kind.
    for (const outcome of ['accepted', 'rejected']) this.events.inc({ outcome }, 0);
    this.ingressBatches.inc({ ingress: 'http', method: 'collect', code: '200' }, 0);
    for (const method of ['Collect', 'CollectStream']) this.ingressBatches.inc({ ingress: 'grpc', method, code: 'OK' }, 0);
    this.streamsGauge.set(0);
    for (const [kind, topic] of this.topics) this.kafkaWrites.inc({ kind, topic }, 0);
    for (const direction of ['in', 'out']) this.spillEvents.inc({ direction }, 0);
    this.latency.zero({ route: 'collect' });
    for (const what of ['batches', 'events', 'bytes', 'fill_ratio']) this.spillGauge.set({ what }, 0);
    this.kafkaGauge.set(0);
  }

  /** 1 while the producer is connected to Kafka and the circuit is not open. */
  kafkaConnected(up: boolean): void {
    this.kafkaGauge.set(up ? 1 : 0);
  }

  spilled(events: number): void {
    this.spillEvents.inc({ direction: 'in' }, events);
    this.totals.spilled += events;
  }

  replayed(events: number): void {
    this.spillEvents.inc({ direction: 'out' }, events);
    this.totals.replayed += events;
    const now = Date.now();
    this.replayWindow.push({ at: now, n: events });
    this.replayWindow = this.replayWindow.filter((w) => now - w.at <= 10_000);
  }

  /** events/s replayed over the last 10 s */
  replayRate(): number {
    const now = Date.now();
    const n = this.replayWindow.reduce((s, w) => (now - w.at <= 10_000 ? s + w.n : s), 0);
    return n / 10;
  }

  foreignListeners(n: number): void {
    this.foreignGauge.set(n);
  }

  duplicatesSkipped(n: number): void {
    this.dedupSkipped.inc(n);
    this.totals.dedupSkipped += n;
  }

  possibleDuplicates(n: number): void {
    if (n <= 0) return;
    this.duplicates.inc(n);
    this.totals.duplicates += n;
  }

  poisoned(n: number): void {
    this.poison.inc(n);
    this.totals.poisoned += n;
  }

  deadLettersDropped(n: number): void {
    this.deadLost.inc(n);
  }

  spillRecordsLost(n: number): void {
    this.spillLost.inc(n);
  }

  spillCorrupt(n: number): void {
    this.corrupt.inc(n);
  }

  /** The acceptor's admission state, read when metrics are collected. */
  watchAdmission(source: () => { limit: number; inFlight: number; stretch?: number }): void {
    this.admissionSource = source;
  }

  admissionRefused(reason: 'overloaded' | 'producer_queue' | 'client_in_flight' | 'client_rate'): void {
    this.refusals.inc({ reason });
  }

  /**
   * The tenants that get a metric label of their own (from the keys and quota files): the label
   * set stays bounded whatever tenant_id clients send.
   */
  knownTenants(tenants: Iterable<string>): void {
    const known = new Set<string>();
    for (const t of tenants) {
      if (known.size >= MAX_TENANT_LABELS) break;
      known.add(t);
    }
    this.tenantLabels = known;
    for (const tenant of known) for (const outcome of ['accepted', 'rejected', 'throttled']) this.tenantCounter.inc({ tenant, outcome }, 0);
  }

  tenantEvents(counts: ReadonlyMap<string, number>, outcome: 'accepted' | 'rejected' | 'throttled'): void {
    for (const [tenant, n] of counts) {
      if (n > 0) this.tenantCounter.inc({ tenant: this.tenantLabels.has(tenant) ? tenant : OTHER_TENANT, outcome }, n);
    }
  }

  authRefused(reason: 'missing' | 'unknown' | 'revoked'): void {
    this.authRefusals.inc({ reason });
  }

  bodyTimedOut(): void {
    this.refusals.inc({ reason: 'body_timeout' });
  }

  spillFull(): void {
    this.fullRefusals.inc();
  }

  spillState(s: { batches: number; events: number; bytes: number; fillRatio: number }, circuit: string): void {
    this.spillGauge.set({ what: 'batches' }, s.batches);
    this.spillGauge.set({ what: 'events' }, s.events);
    this.spillGauge.set({ what: 'bytes' }, s.bytes);
    this.spillGauge.set({ what: 'fill_ratio' }, s.fillRatio);
    for (const st of ['closed', 'open', 'half_open']) this.circuitGauge.set({ state: st }, st === circuit ? 1 : 0);
  }

  requestAnswered(route: string, status: number, ms: number): void {
    this.requests.inc({ route, status: String(status) });
    this.totals.requests++;
    if (route === 'collect') {
      this.ingressBatches.inc({ ingress: 'http', method: 'collect', code: String(status) });
      this.ingressLatency.observe({ ingress: 'http' }, ms / 1000);
      this.ingressWindows.http.record(ms * 1000);
      this.ingressTotals.http.batches_total++;
      if (status >= 400) this.ingressTotals.http.failed_total++;
      this.latency.observe({ route }, ms / 1000);
      this.window.record(ms * 1000);
      this.totals.latencySumMs += ms;
      this.totals.latencyCount++;
    }
  }

  /** A gRPC batch answered (unary call or one answer on a stream); it counts in the spec's latency window like an HTTP batch. */
  grpcAnswered(method: string, code: string, ms: number): void {
    this.ingressBatches.inc({ ingress: 'grpc', method, code });
    this.ingressLatency.observe({ ingress: 'grpc' }, ms / 1000);
    this.ingressWindows.grpc.record(ms * 1000);
    this.ingressTotals.grpc.batches_total++;
    if (code !== 'OK') this.ingressTotals.grpc.failed_total++;
    this.totals.requests++;
    this.window.record(ms * 1000);
    this.totals.latencySumMs += ms;
    this.totals.latencyCount++;
  }

  grpcStreams(open: number): void {
    this.streamsGauge.set(open);
  }

  batchSettled(accepted: number, rejected: number): void {
    if (accepted) this.events.inc({ outcome: 'accepted' }, accepted);
    if (rejected) this.events.inc({ outcome: 'rejected' }, rejected);
    this.totals.accepted += accepted;
    this.totals.rejected += rejected;
    this.totals.processed += accepted + rejected;
    const now = Date.now();
    this.eventWindow.push({ at: now, n: accepted + rejected });
    while (this.eventWindow.length > 0 && now - this.eventWindow[0]!.at > 60_000) this.eventWindow.shift();
  }

  /** `kind`: the events or the dead-letter topic; `topic`: its name (several with TOPIC_ROUTES). */
  kafkaWritten(kind: 'events' | 'dlq', records: number, topic: string): void {
    if (records === 0) return;
    this.kafkaWrites.inc({ kind, topic }, records);
    if (kind === 'events') this.totals.kafka += records;
    else this.totals.dlq += records;
  }

  /** The latency window (microseconds) as compressed base64, for merging across processes. */
  encodedWindow(): string {
    return hdr.encodeIntoCompressedBase64(this.window.merged());
  }

  /** The per-ingress latency windows, encoded as encodedWindow(). */
  encodedIngressWindows(): Record<Ingress, string> {
    return {
      http: hdr.encodeIntoCompressedBase64(this.ingressWindows.http.merged()),
      grpc: hdr.encodeIntoCompressedBase64(this.ingressWindows.grpc.merged()),
    };
  }

  snapshot(): TelemetrySnapshot {
    const h = this.window.merged();
    const now = Date.now();
    const windowMs = Math.min(60_000, Math.max(1, now - this.startedAt));
    const inWindow = this.eventWindow.reduce((s, w) => (now - w.at <= 60_000 ? s + w.n : s), 0);
    const ms = (v: number) => Math.round(v / 10) / 100;
    return {
      events_processed_total: this.totals.processed,
      events_accepted_total: this.totals.accepted,
      events_rejected_total: this.totals.rejected,
      kafka_writes_total: this.totals.kafka,
      dlq_events_total: this.totals.dlq,
      requests_total: this.totals.requests,
      spilled_events_total: this.totals.spilled,
      replayed_events_total: this.totals.replayed,
      possible_duplicates_total: this.totals.duplicates,
      poison_pills_total: this.totals.poisoned,
      dedup_duplicates_total: this.totals.dedupSkipped,
      events_in_window: inWindow,
      window_seconds: windowMs / 1000,
      latency_count: this.totals.latencyCount,
      latency_sum_ms: this.totals.latencySumMs,
      p50_ms: ms(h.getValueAtPercentile(50)),
      p99_ms: ms(h.getValueAtPercentile(99)),
      p999_ms: ms(h.getValueAtPercentile(99.9)),
      max_ms: ms(h.maxValue),
      ingress: { http: { ...this.ingressTotals.http }, grpc: { ...this.ingressTotals.grpc } },
    };
  }
}
