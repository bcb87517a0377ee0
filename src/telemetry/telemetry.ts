/**
 * Every metric the process emits goes through the named functions here: counters and
 * histograms in a prom-client registry (GET /metrics), plus an HDR histogram over a
 * sliding window for the spec's p99 (a real percentile, not an average of averages).
 * Called once per batch or request, never per event in a hot loop; labels are bounded.
 */
import client from 'prom-client';
import * as hdr from 'hdr-histogram-js';
import { admissionSeries, deadLetterSeries, deliverySeries, duplicateSeries, ingressSeries, MAX_TENANT_LABELS, OTHER_TENANT, spillSeries, tenantSeries } from './collector-series.js';

export { MAX_TENANT_LABELS, OTHER_TENANT } from './collector-series.js';

const WINDOW_SLICES = 6;
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
  private readonly ingress: ReturnType<typeof ingressSeries>;
  private readonly admission: ReturnType<typeof admissionSeries>;
  private readonly delivery: ReturnType<typeof deliverySeries>;
  private readonly duplicates: ReturnType<typeof duplicateSeries>;
  private readonly deadLetters: ReturnType<typeof deadLetterSeries>;
  private readonly spill: ReturnType<typeof spillSeries>;
  private readonly tenants: ReturnType<typeof tenantSeries>;
  private tenantLabels: ReadonlySet<string> = new Set();
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
    this.ingress = ingressSeries(this.registry);
    this.admission = admissionSeries(this.registry, () => this.admissionSource?.());
    this.delivery = deliverySeries(this.registry, this.topics);
    this.duplicates = duplicateSeries(this.registry);
    this.deadLetters = deadLetterSeries(this.registry);
    this.spill = spillSeries(this.registry);
    this.tenants = tenantSeries(this.registry);
  }

  /** 1 while the producer is connected to Kafka and the circuit is not open. */
  kafkaConnected(up: boolean): void {
    this.delivery.kafkaConnected.set(up ? 1 : 0);
  }

  spilled(events: number): void {
    this.spill.events.inc({ direction: 'in' }, events);
    this.totals.spilled += events;
  }

  replayed(events: number): void {
    this.spill.events.inc({ direction: 'out' }, events);
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
    this.ingress.foreignListeners.set(n);
  }

  duplicatesSkipped(n: number): void {
    this.duplicates.skipped.inc(n);
    this.totals.dedupSkipped += n;
  }

  possibleDuplicates(n: number): void {
    if (n <= 0) return;
    this.duplicates.possible.inc(n);
    this.totals.duplicates += n;
  }

  poisoned(n: number): void {
    this.deadLetters.poisoned.inc(n);
    this.totals.poisoned += n;
  }

  deadLettersDropped(n: number): void {
    this.deadLetters.dropped.inc(n);
  }

  spillRecordsLost(n: number): void {
    this.spill.lost.inc(n);
  }

  spillCorrupt(n: number): void {
    this.spill.corrupt.inc(n);
  }

  /** The acceptor's admission state, read when metrics are collected. */
  watchAdmission(source: () => { limit: number; inFlight: number; stretch?: number }): void {
    this.admissionSource = source;
  }

  admissionRefused(reason: 'overloaded' | 'producer_queue' | 'client_in_flight' | 'client_rate'): void {
    this.admission.refusals.inc({ reason });
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
    for (const tenant of known) for (const outcome of ['accepted', 'rejected', 'throttled']) this.tenants.events.inc({ tenant, outcome }, 0);
  }

  tenantEvents(counts: ReadonlyMap<string, number>, outcome: 'accepted' | 'rejected' | 'throttled'): void {
    for (const [tenant, n] of counts) {
      if (n > 0) this.tenants.events.inc({ tenant: this.tenantLabels.has(tenant) ? tenant : OTHER_TENANT, outcome }, n);
    }
  }

  authRefused(reason: 'missing' | 'unknown' | 'revoked'): void {
    this.admission.authRefusals.inc({ reason });
  }

  bodyTimedOut(): void {
    this.admission.refusals.inc({ reason: 'body_timeout' });
  }

  spillFull(): void {
    this.spill.full.inc();
  }

  spillState(s: { batches: number; events: number; bytes: number; fillRatio: number }, circuit: string): void {
    this.spill.state.set({ what: 'batches' }, s.batches);
    this.spill.state.set({ what: 'events' }, s.events);
    this.spill.state.set({ what: 'bytes' }, s.bytes);
    this.spill.state.set({ what: 'fill_ratio' }, s.fillRatio);
    for (const st of ['closed', 'open', 'half_open']) this.delivery.circuit.set({ state: st }, st === circuit ? 1 : 0);
  }

  requestAnswered(route: string, status: number, ms: number): void {
    this.ingress.requests.inc({ route, status: String(status) });
    this.totals.requests++;
    if (route === 'collect') {
      this.ingress.batches.inc({ ingress: 'http', method: 'collect', code: String(status) });
      this.ingress.batchLatency.observe({ ingress: 'http' }, ms / 1000);
      this.ingressWindows.http.record(ms * 1000);
      this.ingressTotals.http.batches_total++;
      if (status >= 400) this.ingressTotals.http.failed_total++;
      this.ingress.latency.observe({ route }, ms / 1000);
      this.window.record(ms * 1000);
      this.totals.latencySumMs += ms;
      this.totals.latencyCount++;
    }
  }

  /** A gRPC batch answered (unary call or one answer on a stream); it counts in the spec's latency window like an HTTP batch. */
  grpcAnswered(method: string, code: string, ms: number): void {
    this.ingress.batches.inc({ ingress: 'grpc', method, code });
    this.ingress.batchLatency.observe({ ingress: 'grpc' }, ms / 1000);
    this.ingressWindows.grpc.record(ms * 1000);
    this.ingressTotals.grpc.batches_total++;
    if (code !== 'OK') this.ingressTotals.grpc.failed_total++;
    this.totals.requests++;
    this.window.record(ms * 1000);
    this.totals.latencySumMs += ms;
    this.totals.latencyCount++;
  }

  grpcStreams(open: number): void {
    this.ingress.grpcStreams.set(open);
  }

  batchSettled(accepted: number, rejected: number): void {
    if (accepted) this.delivery.events.inc({ outcome: 'accepted' }, accepted);
    if (rejected) this.delivery.events.inc({ outcome: 'rejected' }, rejected);
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
    this.delivery.kafkaWrites.inc({ kind, topic }, records);
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
