/**
 * Merging per-process telemetry: percentiles from merged HDR histograms (not averages of
 * percentiles), counters summed, and the probes' rules.
 */
import t from 'tap';
import * as hdr from 'hdr-histogram-js';
import { mergeEncodedWindows, newWindowHistogram, Telemetry } from '../../src/telemetry/telemetry.js';
import { mergeMetrics, type ProcessReport } from '../../src/ops/cluster.js';
import { LagMonitor, livez, readyz } from '../../src/ops/probes.js';

const encoded = (values: number[]) => {
  const h = newWindowHistogram();
  for (const v of values) h.recordValue(v);
  return hdr.encodeIntoCompressedBase64(h);
};

t.test('p99 of merged histograms is the percentile of all the values', async (t) => {
  // Process A: 990 fast requests (1 ms). Process B: 10 slow ones (100 ms).
  // Over all 1000, p99 is 1 ms (the 990th value) and p99.9 is 100 ms; averaging A's and B's p99 would say ~50 ms.
  const a = encoded(Array.from({ length: 990 }, () => 1000));
  const b = encoded(Array.from({ length: 10 }, () => 100_000));
  const m = mergeEncodedWindows([a, b]);
  t.equal(m.count, 1000);
  t.equal(m.p99_ms, 1);
  // HDR reports the highest value equivalent to the recorded one (3 significant digits).
  const near = (v: number, want: number) => Math.abs(v - want) <= want * 0.001;
  t.ok(near(m.p999_ms, 100), `p99.9 ${m.p999_ms}`);
  t.ok(near(m.max_ms, 100), `max ${m.max_ms}`);
  // 20 slow of 1000: p99 now lands on the slow ones.
  const m2 = mergeEncodedWindows([encoded(Array.from({ length: 980 }, () => 1000)), encoded(Array.from({ length: 20 }, () => 100_000))]);
  t.ok(near(m2.p99_ms, 100), `p99 ${m2.p99_ms}`);
  t.equal(mergeEncodedWindows(['not base64 at all', a]).count, 990, 'a broken input is skipped');
  t.equal(mergeEncodedWindows([]).p99_ms, 0);
});

t.test('a telemetry window survives encoding', async (t) => {
  const tel = new Telemetry({ instance: 'x' });
  for (let i = 1; i <= 100; i++) tel.requestAnswered('collect', 200, i);
  const m = mergeEncodedWindows([tel.encodedWindow()]);
  t.equal(m.count, 100);
  t.equal(m.p99_ms, tel.snapshot().p99_ms);
});

const report = (instance: string, processed: number, latencies: number[], eps: number, grpc: [string, number][] = []): ProcessReport => {
  const tel = new Telemetry({ instance });
  for (const ms of latencies) tel.requestAnswered('collect', 200, ms);
  for (const [code, ms] of grpc) tel.grpcAnswered('CollectStream', code, ms);
  const snap = tel.snapshot();
  return {
    version: 1, instance, host: 'h', pid: 1, written_at: 1000, started_at: 0,
    metrics: {
      events_processed_total: processed, events_per_second: eps, events_accepted_total: processed - 1, events_rejected_total: 1,
      kafka_writes_total: processed - 1, dlq_events_total: 1, buffer_events_count: 2, avg_processing_time_ms: 0,
      p99_processing_time_ms: snap.p99_ms, spilled_events_total: 3, replayed_events_total: 3, possible_duplicates_total: 0, poison_pills_total: 0,
    },
    snapshot: snap,
    health_status: 200,
    health: {} as ProcessReport['health'],
    window_hdr: tel.encodedWindow(),
    ingress_hdr: tel.encodedIngressWindows(),
    prometheus: [],
  };
};

t.test('cluster metrics: sums, merged percentiles, per-process breakdown', async (t) => {
  const a = report('0', 100, Array.from({ length: 99 }, () => 2), 10.5);
  const b = report('1', 50, [2000], 4.25);
  const m = mergeMetrics([a, b], '0', 1500);
  t.equal(m.events_processed_total, 150);
  t.equal(m.events_accepted_total, 148);
  t.equal(m.kafka_writes_total, 148);
  t.equal(m.dlq_events_total, 2);
  t.equal(m.buffer_events_count, 4);
  t.equal(m.events_per_second, 14.8);
  t.equal(m.avg_processing_time_ms, Math.round(((99 * 2 + 2000) / 100) * 100) / 100, 'mean over all requests, not of the means');
  t.equal(m.p99_processing_time_ms, 2, 'the 99th of 100 requests is a fast one');
  t.equal(m.processes_reporting, 2);
  t.same(m.per_process.map((p) => [p.instance, p.self, p.age_ms, p.events_processed_total]), [['0', true, 500, 100], ['1', false, 500, 50]]);
});

t.test('cluster metrics by ingress: each door its own totals and percentiles; an old report without them counts as none', async (t) => {
  const a = report('0', 100, [1, 1, 1, 400], 1, [['OK', 30], ['RESOURCE_EXHAUSTED', 30]]);
  const b = report('1', 50, [1], 1, [['OK', 50]]);
  const old = report('2', 10, [1], 1, [['OK', 9000]]);
  delete old.ingress_hdr;
  delete (old.snapshot as Partial<typeof old.snapshot>).ingress;
  const m = mergeMetrics([a, b, old], '0', 1500);
  // HDR keeps 3 significant digits: a percentile is the value to within 0.1 %.
  const near = (v: number, want: number, what: string) => t.ok(Math.abs(v - want) <= want * 0.001 + 0.01, `${what}: ${v} ≈ ${want}`);
  t.same([m.ingress.http.batches_total, m.ingress.http.failed_total, m.ingress.http.batches_in_window], [5, 0, 5]);
  near(m.ingress.http.p50_ms, 1, 'HTTP p50');
  near(m.ingress.http.p99_ms, 400, 'HTTP p99');
  t.equal(m.ingress.grpc.batches_total, 3);
  t.equal(m.ingress.grpc.failed_total, 1, 'a gRPC status other than OK is a failed batch');
  t.equal(m.ingress.grpc.batches_in_window, 3);
  near(m.ingress.grpc.p50_ms, 30, 'gRPC p50');
  near(m.ingress.grpc.p99_ms, 50, 'gRPC p99: the old process\'s 9 s answer is not in the merge');
  near(m.p99_processing_time_ms, 9000, 'the spec\'s window mixes both doors and every process');

  const tel = new Telemetry();
  tel.requestAnswered('collect', 207, 1);
  tel.requestAnswered('collect', 400, 1);
  tel.requestAnswered('collect', 503, 1);
  tel.requestAnswered('health', 503, 1);
  t.same(tel.snapshot().ingress.http, { batches_total: 3, failed_total: 2 }, '207 is answered, 4xx and 5xx failed; other routes are not batches');
});

t.test('readyz: Kafka reachable or spill headroom, and not stopping', async (t) => {
  const base = { stopping: false, producerConnected: true, circuit: 'closed' as const, spillFill: 0 };
  t.equal(readyz(base).status, 200);
  t.equal(readyz({ ...base, producerConnected: false, spillFill: 0.5 }).status, 200, 'Kafka down but room on disk');
  t.equal(readyz({ ...base, circuit: 'open', spillFill: 0.96 }).status, 503, 'Kafka down and disk full');
  t.equal(readyz({ ...base, spillFill: 0.99 }).status, 200, 'full disk but Kafka up: it drains');
  t.equal(readyz({ ...base, stopping: true }).status, 503);
  t.equal(readyz({ ...base, producerConnected: false, spillFill: 0.5, othersReachKafka: true }).status, 503, 'Kafka down here while other replicas reach it: routed around');
  t.equal(readyz({ ...base, othersReachKafka: true }).status, 200, 'Kafka up here');
});

t.test('livez: event loop lag', async (t) => {
  const lag = new LagMonitor().start();
  await new Promise((r) => setTimeout(r, 250));
  t.equal(livez(lag).status, 200);
  const until = Date.now() + 1200;
  while (Date.now() < until) {
    // wedge the loop for 1.2 s
  }
  await new Promise((r) => setTimeout(r, 150));
  const after = livez(lag);
  t.equal(after.status, 503, `lag reported: ${JSON.stringify(after.body)}`);
  lag.stop();
});
