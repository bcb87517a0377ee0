/**
 * The load side: the scenario list and one autocannon run per scenario. No pipelining
 * (real clients send one batch per connection at a time). Latency is our own HDR
 * histogram in microseconds over 2xx answers only — autocannon's own has 1 ms
 * resolution, which hides everything interesting at these latencies.
 */
import autocannon, { type Instance, type Options, type Result } from 'autocannon';
import * as hdr from 'hdr-histogram-js';
import { gzipSync } from 'node:zlib';
import { syntheticBatch } from '../src/pipeline/synthetic.js';
import { round } from './lib/proc.js';
import { runPacedLoad, stopPacedLoad } from './paced-load.js';

export interface Scenario {
  name: string;
  what: string;
  /** events per request */
  batch: number;
  gzip?: boolean;
  connections: number;
  /** fixed overall request rate (req/s); absent = as fast as the collector answers */
  rate?: number;
  /** run at least this long (s) unless quick: a p99 needs enough requests (30 s at 20 req/s: the 6th worst of 600) */
  minDurationS?: number;
  /** not implemented yet: printed as such, no numbers */
  todo?: string;
  /** the broker is SIGKILLed for the load, then restarted and the replay timed */
  outage?: boolean;
  /** extra request headers (an API key) */
  headers?: Record<string, string>;
  /** 'auth': run against the second cluster, the one with AUTH_MODE=api_key and quotas (BENCH_AUTH=1) */
  target?: 'auth' | 'redis' | 'quota';
  /** payload schemas for all five types on or off (a live reload) before the load; absent: as left (on) */
  schemas?: boolean;
  /** over gRPC (bench/grpc-load.ts): `connections` CollectStream calls, `inFlight` batches outstanding on each */
  grpc?: { inFlight: number };
  /** run against a cluster of its own started with this KAFKA_COMPRESSION_TYPE (BENCH_CODECS=1) */
  codec?: 'gzip' | 'lz4' | 'zstd';
}

/** BENCH_CODECS=1: max-100 once per Kafka compression codec, each on a cluster of its own, back to back. */
export function codecScenarios(quick: boolean): Scenario[] {
  return (['gzip', 'lz4', 'zstd'] as const).map((codec) => ({
    name: `max-100-${codec}`, what: `max sustained, 100-event batches, KAFKA_COMPRESSION_TYPE=${codec}`, batch: 100, connections: quick ? 4 : 32, codec,
  }));
}

export function scenarios(quick: boolean): Scenario[] {
  const q = (full: number, small: number) => (quick ? small : full);
  return [
    { name: 'steady-2k', what: '2,000 events/s in 100-event batches', batch: 100, connections: 4, rate: q(20, 5), minDurationS: 30 },
    { name: 'max-100', what: 'max sustained, 100-event batches', batch: 100, connections: q(32, 4) },
    // Issue #13's A/B, back to back twice on the same processes: payload schemas off, on, off, on (once when quick).
    ...(quick ? [1] : [1, 2]).flatMap((round) => [false, true].map((on) => ({
      name: `max-100-schemas-${on ? 'on' : 'off'}-${round}`,
      what: `max sustained, 100-event batches, payload schemas ${on ? 'on for all five types' : 'off'} (round ${round})`,
      batch: 100, connections: q(32, 4), schemas: on,
    }))),
    // gRPC beside max-100 and steady-2k: 100-event batches over 8 streams, 4 batches outstanding on each.
    { name: 'grpc-stream-100', what: 'max sustained over gRPC, 100-event batches, 8 streams', batch: 100, connections: 8, grpc: { inFlight: 4 } },
    { name: 'grpc-steady-2k', what: '2,000 events/s over gRPC in 100-event batches, 8 streams', batch: 100, connections: 8, rate: q(20, 5), minDurationS: 30, grpc: { inFlight: 1 } },
    { name: 'max-1000', what: 'max sustained, 1000-event batches', batch: 1000, connections: q(8, 2) },
    { name: 'max-gzip-100', what: 'max sustained, gzip 100-event batches', batch: 100, gzip: true, connections: q(32, 4) },
    // Issue #15's small-request figure: requests/s of 1-event batches over 64 connections.
    { name: 'single-event', what: 'max sustained, 1-event batches (requests/s)', batch: 1, connections: q(64, 4) },
    // Enough connections that the target is reachable at up to ~200 ms latency (autocannon is closed-loop per connection).
    { name: 'fixed-50k', what: '50,000 events/s in 100-event batches', batch: 100, connections: q(100, 4), rate: q(500, 20) },
    { name: 'overload', what: 'far past capacity, 100-event batches', batch: 100, connections: q(256, 32) },
    // The spec's 2,000 events/s while Kafka is down (answered from the disk spill), then the replay rate.
    { name: 'kafka-outage-replay', what: 'broker down → spill to disk → replay', batch: 100, connections: 8, rate: q(20, 5), outage: true },
  ];
}

/**
 * ~200 distinct bodies per scenario, rotated. Every request gets the last 12 hex digits of
 * every event_id overwritten with a run-wide counter, so no two requests carry the same
 * event_id (the collector dedupes by event_id); gzip bodies are compressed after that.
 */
export class Bodies {
  private readonly bodies: Buffer[] = [];
  private readonly idTails: number[][] = [];
  private next = 0;
  private static seq = 0;

  /** Built before a scenario's clock and CPU sampling start: 200 × 1000 events would cost the loadgen seconds. */
  constructor(readonly batch: number, readonly gzip: boolean, count = Math.min(200, Math.max(20, Math.ceil(20_000 / batch)))) {
    for (let k = 0; k < count; k++) {
      const events = syntheticBatch(batch, {}, k * batch);
      const text = Buffer.from(JSON.stringify(events));
      this.bodies.push(text);
      // event_id is the first field of each event: its tail is the 12 hex digits before the closing quote.
      const tails: number[] = [];
      for (let at = text.indexOf('"event_id":"'); at >= 0; at = text.indexOf('"event_id":"', at + 1)) tails.push(at + 12 + 24);
      this.idTails.push(tails);
    }
  }

  take(): Buffer {
    const i = this.next++ % this.bodies.length;
    const body = this.bodies[i]!;
    // autocannon copies the body into its request buffer right after setupRequest returns.
    for (const at of this.idTails[i]!) body.write((Bodies.seq++ % 2 ** 48).toString(16).padStart(12, '0'), at, 'latin1');
    // Gzip per request (level 1, ~0.2 ms for 100 events, on the load generator's CPU): repeated
    // bodies would be duplicates to the collector's dedup and never reach Kafka.
    return this.gzip ? gzipSync(body, { level: 1 }) : body;
  }
}

export interface LoadResult {
  seconds: number;
  ok: number;
  /** 2xx answers saying `buffered: true`: fsynced to the collector's disk spill, not (yet) in Kafka */
  spilled: number;
  /** events the collector acknowledged as duplicates (not written again); excluded from eventsPerS */
  duplicates: number;
  non2xx: number;
  byStatus: Record<string, number>;
  errors: number;
  /** connection-level errors by message (resets, refusals): the collector never answered these */
  errorKinds: Record<string, number>;
  timeouts: number;
  eventsPerS: number;
  reqPerS: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  /** paced loads: the collector's own processing_time_ms (body complete → answer), p50 and p99 */
  serverP50Ms?: number;
  serverP99Ms?: number;
  /** paced loads: every 2xx answer's latency (client, µs) and processing_time_ms (server, µs), for pooling rounds; not written to the report */
  samples?: { clientUs: number[]; serverUs: number[] };
}

let current: Instance | undefined;
/** Stops a running load (Ctrl-C). */
export function stopLoad(): void { current?.stop(); stopPacedLoad(); }

/** The rate and latency figures of a load, from its 2xx count and latency histogram (µs). */
export function loadFigures(hist: hdr.Histogram, batch: number, ok: number, duplicates: number, seconds: number):
  Pick<LoadResult, 'eventsPerS' | 'reqPerS' | 'p50Ms' | 'p99Ms' | 'p999Ms' | 'maxMs'> {
  const pct = (p: number) => round(hist.getValueAtPercentile(p) / 1000, 2);
  return {
    eventsPerS: Math.round((ok * batch - duplicates) / seconds),
    reqPerS: round(ok / seconds, 1),
    p50Ms: pct(50),
    p99Ms: pct(99),
    p999Ms: pct(99.9),
    maxMs: round(hist.maxValue / 1000, 2),
  };
}

/** A fixed rate is paced evenly (bench/paced-load.ts); "as fast as answers come" is autocannon's closed loop. */
export async function runLoad(url: string, s: Scenario, durationS: number, bodies = new Bodies(s.batch, s.gzip ?? false)): Promise<LoadResult> {
  if (s.rate) return runPacedLoad(url, s, durationS, bodies);
  const headers: Record<string, string> = { 'content-type': 'application/json', ...s.headers };
  if (s.gzip) headers['content-encoding'] = 'gzip';
  const errorKinds: Record<string, number> = {};
  let spilled = 0;
  let duplicates = 0;
  const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120e6, numberOfSignificantValueDigits: 3 });
  const result = await new Promise<Result>((resolve, reject) => {
    const opts: Options = {
      url: `${url}/api/v1/collect`,
      method: 'POST',
      connections: s.connections,
      pipelining: 1,
      duration: durationS,
      timeout: 20, // s; beyond the collector's own 10 s request deadline, so its answer is what we see
      headers,
      requests: [{
        method: 'POST', path: '/api/v1/collect', headers,
        setupRequest: (req) => ({ ...req, body: bodies.take() }),
        // A 2xx may mean "on disk" when the collector's Kafka circuit is open: count those apart.
        onResponse: (status, body) => {
          if (status >= 300) return;
          if (body.includes('"buffered":true')) spilled++;
          // Gzip bodies repeat (they cannot be patched with fresh ids): the collector's dedup then skips
          // those events, and they must not count as written.
          const dup = /"duplicate_count":(\d+)/.exec(body);
          if (dup) duplicates += Number(dup[1]);
        },
      }],
    };
    const inst = autocannon(opts, (err, r) => (err ? reject(err) : resolve(r)));
    inst.on('response', (_c, status, _b, ms) => { if (status >= 200 && status < 300) hist.recordValue(Math.max(1, Math.round(ms * 1000))); });
    inst.on('reqError', (e) => { const k = (e as NodeJS.ErrnoException).code ?? e.message; errorKinds[k] = (errorKinds[k] ?? 0) + 1; });
    current = inst;
  }).finally(() => (current = undefined));

  const byStatus: Record<string, number> = {};
  for (const [code, { count }] of Object.entries(result.statusCodeStats)) byStatus[code] = count;
  const ok = result['2xx'];
  const out: LoadResult = {
    seconds: result.duration,
    ok,
    spilled,
    duplicates,
    non2xx: result.non2xx,
    byStatus,
    errors: result.errors,
    errorKinds,
    timeouts: result.timeouts,
    ...loadFigures(hist, s.batch, ok, duplicates, result.duration),
  };
  hist.destroy();
  return out;
}
