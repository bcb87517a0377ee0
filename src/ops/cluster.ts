/**
 * Cluster-wide telemetry on one host. PM2 runs N collector processes on one port
 * (SO_REUSEPORT), so whichever process answers GET /api/v1/metrics, /metrics or
 * /api/v1/health must speak for all of them. Each process writes its telemetry every
 * second to RUN_DIR/metrics/<instance>.json (tmp file + rename: a reader never sees a
 * torn file); the answering process reads the others' fresh files (< STALE_MS old),
 * adds its own live numbers and merges:
 *   - counters and rates are summed,
 *   - p99 comes from the merged HDR histograms (a real cluster percentile),
 *   - Prometheus text comes from prom-client's AggregatorRegistry.aggregate (no cluster module needed).
 */
import { mkdirSync, readFileSync, unlinkSync } from 'node:fs';
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import client from 'prom-client';
import { INGRESSES, mergeEncodedWindows, type Ingress, type Telemetry, type TelemetrySnapshot } from '../telemetry/telemetry.js';
import type { HealthBody, MetricsBody } from '../telemetry/reports.js';

/** A process file older than this is a stopped or wedged process: left out of the merge. */
export const STALE_MS = 5000;

export type ClusterHealth = { status: number; body: HealthBody & { processes: ProcessHealth[] } };
export const PUBLISH_EVERY_MS = 1000;

type PromJson = Awaited<ReturnType<client.Registry['getMetricsAsJSON']>>;

/** What one process publishes. */
export interface ProcessReport {
  version: 1;
  instance: string;
  host: string;
  pid: number;
  written_at: number;
  started_at: number;
  metrics: MetricsBody;
  snapshot: TelemetrySnapshot;
  health_status: number;
  health: HealthBody;
  /** the latency window, hdr-histogram-js encodeIntoCompressedBase64 (microseconds) */
  window_hdr: string;
  /** the same per ingress (absent in files of a collector from before it existed, e.g. during a rolling reload) */
  ingress_hdr?: Record<Ingress, string>;
  prometheus: PromJson;
}

export interface ProcessSummary extends MetricsBody {
  instance: string;
  host: string;
  pid: number;
  /** ms since that process wrote its numbers (0 for the answering process) */
  age_ms: number;
  self: boolean;
}

/** One door's batches on the host: totals since start, percentiles over the last 60 s. */
export interface IngressMetrics {
  batches_total: number;
  failed_total: number;
  batches_in_window: number;
  p50_ms: number;
  p99_ms: number;
}

export interface ClusterMetrics extends MetricsBody {
  p50_processing_time_ms: number;
  p999_processing_time_ms: number;
  processes_reporting: number;
  answered_by: string;
  ingress: Record<Ingress, IngressMetrics>;
  per_process: ProcessSummary[];
}

export interface ProcessHealth {
  instance: string;
  host: string;
  pid: number;
  age_ms: number;
  self: boolean;
  status: HealthBody['status'];
  kafka_connected: boolean;
  kafka_problem?: string;
  circuit_state: string;
  buffered_batches: number;
  buffer_fill_percent: number;
  replay_events_per_second: number;
  events_per_second: number;
  uptime_seconds: number;
}

const round = (v: number, digits = 2) => Math.round(v * 10 ** digits) / 10 ** digits;

/** Sums the spec's metrics over the processes; p99 from their merged histograms. Pure. */
export function mergeMetrics(reports: readonly ProcessReport[], self: string, now = Date.now()): ClusterMetrics {
  const sum = (f: (r: ProcessReport) => number) => reports.reduce((n, r) => n + f(r), 0);
  const latencyCount = sum((r) => r.snapshot.latency_count);
  const latencySum = sum((r) => r.snapshot.latency_sum_ms);
  const pct = mergeEncodedWindows(reports.map((r) => r.window_hdr));
  return {
    events_processed_total: sum((r) => r.metrics.events_processed_total),
    events_per_second: round(sum((r) => r.metrics.events_per_second), 1),
    events_accepted_total: sum((r) => r.metrics.events_accepted_total),
    events_rejected_total: sum((r) => r.metrics.events_rejected_total),
    kafka_writes_total: sum((r) => r.metrics.kafka_writes_total),
    dlq_events_total: sum((r) => r.metrics.dlq_events_total),
    buffer_events_count: sum((r) => r.metrics.buffer_events_count),
    avg_processing_time_ms: latencyCount ? round(latencySum / latencyCount) : 0,
    p99_processing_time_ms: pct.p99_ms,
    spilled_events_total: sum((r) => r.metrics.spilled_events_total),
    replayed_events_total: sum((r) => r.metrics.replayed_events_total),
    possible_duplicates_total: sum((r) => r.metrics.possible_duplicates_total),
    poison_pills_total: sum((r) => r.metrics.poison_pills_total),
    p50_processing_time_ms: pct.p50_ms,
    p999_processing_time_ms: pct.p999_ms,
    processes_reporting: reports.length,
    answered_by: self,
    ingress: mergeIngress(reports),
    per_process: reports.map((r) => ({
      instance: r.instance,
      host: r.host,
      pid: r.pid,
      age_ms: Math.max(0, now - r.written_at),
      self: r.instance === self,
      ...r.metrics,
    })),
  };
}

function mergeIngress(reports: readonly ProcessReport[]): Record<Ingress, IngressMetrics> {
  const out = {} as Record<Ingress, IngressMetrics>;
  for (const door of INGRESSES) {
    const pct = mergeEncodedWindows(reports.flatMap((r) => (r.ingress_hdr ? [r.ingress_hdr[door]] : [])));
    out[door] = {
      batches_total: reports.reduce((n, r) => n + (r.snapshot.ingress?.[door].batches_total ?? 0), 0),
      failed_total: reports.reduce((n, r) => n + (r.snapshot.ingress?.[door].failed_total ?? 0), 0),
      batches_in_window: pct.count,
      p50_ms: pct.p50_ms,
      p99_ms: pct.p99_ms,
    };
  }
  return out;
}

export function processHealth(
  reports: readonly Pick<ProcessReport, 'instance' | 'host' | 'pid' | 'written_at' | 'health'>[],
  self: string,
  now = Date.now(),
): ProcessHealth[] {
  return reports.map((r) => ({
    instance: r.instance,
    host: r.host,
    pid: r.pid,
    age_ms: Math.max(0, now - r.written_at),
    self: r.instance === self,
    status: r.health.status,
    kafka_connected: r.health.kafka_connected,
    ...(r.health.kafka_problem ? { kafka_problem: r.health.kafka_problem } : {}),
    circuit_state: r.health.circuit_state,
    buffered_batches: r.health.buffer_status.buffered_batches,
    buffer_fill_percent: r.health.buffer_status.fill_percent,
    replay_events_per_second: r.health.buffer_status.replay_events_per_second,
    events_per_second: r.health.throughput_metrics.events_per_second,
    uptime_seconds: r.health.uptime_seconds,
  }));
}

/** Prometheus text for the whole host: every process's series (each carries its `instance` label). */
export async function mergePrometheus(reports: readonly ProcessReport[]): Promise<{ contentType: string; body: string }> {
  const registry = client.AggregatorRegistry.aggregate(reports.map((r) => r.prometheus));
  return { contentType: registry.contentType, body: await registry.metrics() };
}

export interface ClusterOptions {
  runDir: string;
  instance: string;
  telemetry: Telemetry;
  /** this process's live health (the spec's document) */
  health: () => { status: number; body: HealthBody };
  metrics: () => MetricsBody;
  /** called before each publish (e.g. to refresh gauges) */
  beforePublish?: () => void;
  onError?: (err: Error) => void;
}

/** Publishes this process's report every second and reads the others'. */
export class ClusterView {
  readonly dir: string;
  private readonly file: string;
  private timer: NodeJS.Timeout | undefined;
  private writing = false;
  private readonly host = hostname();
  private readonly cleanup = () => {
    try {
      // Only our own file: during a PM2 reload the next process of this instance may already own it.
      if ((JSON.parse(readFileSync(this.file, 'utf8')) as { pid?: number }).pid === process.pid) unlinkSync(this.file);
    } catch {
      // already gone, or never written
    }
  };

  constructor(private readonly o: ClusterOptions) {
    this.dir = join(o.runDir, 'metrics');
    // An instance id is a file name here: keep it to a safe alphabet.
    this.file = join(this.dir, `${o.instance.replace(/[^\w.-]/g, '_')}.json`);
    try {
      mkdirSync(this.dir, { recursive: true });
    } catch {
      // Not fatal: this process then answers for itself only, and publish() reports why.
    }
  }

  start(): void {
    this.timer = setInterval(() => void this.publish(), PUBLISH_EVERY_MS).unref();
    void this.publish();
    // A stopped process must not be counted: remove its file (a killed one goes stale in STALE_MS).
    process.once('exit', this.cleanup);
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    process.removeListener('exit', this.cleanup);
    this.cleanup();
  }

  /** This process, now (`prometheus` left empty unless asked for: it is the costly part). */
  async local(withPrometheus = true): Promise<ProcessReport> {
    this.o.beforePublish?.();
    const h = this.o.health();
    return {
      version: 1,
      instance: this.o.instance,
      host: this.host,
      pid: process.pid,
      written_at: Date.now(),
      started_at: this.o.telemetry.startedAt,
      metrics: this.o.metrics(),
      snapshot: this.o.telemetry.snapshot(),
      health_status: h.status,
      health: h.body,
      window_hdr: this.o.telemetry.encodedWindow(),
      ingress_hdr: this.o.telemetry.encodedIngressWindows(),
      prometheus: withPrometheus ? await this.o.telemetry.registry.getMetricsAsJSON() : [],
    };
  }

  private async publish(): Promise<void> {
    if (this.writing || !this.timer) return;
    this.writing = true;
    const tmp = `${this.file}.${process.pid}.tmp`;
    try {
      const report = await this.local();
      await writeFile(tmp, JSON.stringify(report));
      await rename(tmp, this.file);
      const now = Date.now();
      this.seen = { at: now, reports: await this.others(now) };
    } catch (err) {
      this.o.onError?.(err as Error);
    } finally {
      this.writing = false;
    }
  }

  private replaySeen = { at: 0, rate: 0, refreshing: false };
  /** the others' reports as the last publish read them */
  private seen: { at: number; reports: ProcessReport[] } | undefined;

  /**
   * Events/s the host replays from its spill logs: this process's own rate plus the others' from their files.
   * One replay leader drains every log of the host, so a process's own rate is 0 while the leader frees its
   * room. Never waits: the others' part is from the last refresh, started here at most once a second.
   */
  hostReplayRate(now = Date.now()): number {
    if (!this.replaySeen.refreshing && now - this.replaySeen.at >= PUBLISH_EVERY_MS) {
      this.replaySeen.refreshing = true;
      void this.others(now)
        .then((rs) => {
          this.replaySeen.rate = rs.reduce((n, r) => n + (r.health?.buffer_status?.replay_events_per_second ?? 0), 0);
        })
        .catch(() => undefined)
        .finally(() => {
          this.replaySeen.at = Date.now();
          this.replaySeen.refreshing = false;
        });
    }
    return this.o.telemetry.replayRate() + this.replaySeen.rate;
  }

  /** The other processes' fresh reports. */
  async others(now = Date.now()): Promise<ProcessReport[]> {
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch {
      return [];
    }
    const out: ProcessReport[] = [];
    await Promise.all(
      names
        .filter((n) => n.endsWith('.json'))
        .map(async (n) => {
          try {
            const r = JSON.parse(await readFile(join(this.dir, n), 'utf8')) as ProcessReport;
            if (r.version !== 1 || r.instance === this.o.instance) return;
            if (now - r.written_at >= STALE_MS) return;
            out.push(r);
          } catch {
            // removed between readdir and read, or not ours
          }
        }),
    );
    return out;
  }

  /** Every live process, this one first with its numbers of this instant, then by instance. */
  async all(withPrometheus = true): Promise<ProcessReport[]> {
    const [self, others] = await Promise.all([this.local(withPrometheus), this.others()]);
    others.sort((a, b) => a.instance.localeCompare(b.instance, 'en', { numeric: true }));
    return [self, ...others];
  }

  async metrics(): Promise<ClusterMetrics> {
    return mergeMetrics(await this.all(false), this.o.instance);
  }

  async prometheus(): Promise<{ contentType: string; body: string }> {
    return mergePrometheus(await this.all());
  }

  /**
   * This process's health document plus `processes`: every live process's summary. Answered at once from the
   * others' reports as the last publish read them (they are written once a second anyway), so the answer can be
   * written while the request is parsed (uWS answers pipelined requests only so); read now when that is stale.
   */
  health(): ClusterHealth | Promise<ClusterHealth> {
    const now = Date.now();
    if (this.seen && now - this.seen.at < 2 * PUBLISH_EVERY_MS) return this.healthWith(this.seen.reports.filter((r) => now - r.written_at < STALE_MS), now);
    return this.others(now).then((others) => this.healthWith(others, Date.now()));
  }

  private healthWith(others: ProcessReport[], now: number): ClusterHealth {
    // Probes and load balancers poll this: only the health documents, no histograms.
    const sorted = [...others].sort((a, b) => a.instance.localeCompare(b.instance, 'en', { numeric: true }));
    const h = this.o.health();
    const self = { instance: this.o.instance, host: this.host, pid: process.pid, written_at: now, health: h.body };
    return { status: h.status, body: { ...h.body, processes: processHealth([self, ...sorted], this.o.instance, now) } };
  }
}
