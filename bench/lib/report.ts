/**
 * Derived numbers, the stdout tables and the machine description of the JSON report.
 * Ratios to the raw-producer limit measured in the same run are the headline: on a
 * shared 2-core box absolute numbers drift from run to run, ratios much less.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import Kafka from 'node-rdkafka';
import type { Scenario, LoadResult } from '../scenarios.js';
import type { GcStats } from './cluster.js';
import { round, type Usage } from './proc.js';

export interface ScenarioReport {
  name: string;
  what: string;
  status: 'ok' | 'not-implemented';
  note?: string;
  params?: Omit<Scenario, 'name' | 'what' | 'todo'> & { durationS: number };
  load?: LoadResult;
  ratioToRaw?: number;
  /** events/s over the node-rdkafka per-record pass (the limit of reports before the batch producer) */
  ratioToNodeRdkafka?: number;
  usage?: Usage;
  cpu?: { collectorMsPer1kEvents: number; brokerMsPer1kEvents: number; brokerShare: number; loadgenShare: number;
    /** broker CPU per event over the raw pass that set the limit (goal ≤ 1.5) */ brokerVsRaw?: number;
    /** our processes' CPU / (wall × cores) */ ourUtilisation: number; /** everything else on the box, same unit: noise */ otherUtilisation: number };
  gc?: Record<string, { ms: number; count: number; over10ms: number }>;
  incidents?: string[];
  /** os.loadavg() (1, 5, 15 min) right after the scenario: how busy the shared box was */
  loadAvg?: number[];
  /** the load did not do what the scenario asked (e.g. a fixed rate not reached): read its numbers with care */
  warnings?: string[];
}

/** Turns raw load + /proc + /metrics deltas into the per-scenario report entry. */
export function derive(s: Scenario, durationS: number, load: LoadResult, usage: Usage,
  gc0: Record<string, GcStats>, gc1: Record<string, GcStats>, incidents: string[]): ScenarioReport {
  const { name, what, todo: _t, ...params } = s;
  const events = load.eventsPerS * load.seconds;
  const collectorCpu = Object.entries(usage.cpu).filter(([r]) => r.startsWith('collector')).reduce((a, [, v]) => a + v, 0);
  const broker = usage.cpu.broker ?? NaN;
  const loadgen = usage.cpu.loadgen ?? NaN;
  const total = collectorCpu + (Number.isNaN(broker) ? 0 : broker) + loadgen + (usage.cpu.pm2 ?? 0);
  const gc: ScenarioReport['gc'] = {};
  for (const [inst, after] of Object.entries(gc1)) {
    const before = gc0[inst];
    if (!before) continue;
    gc[`collector#${inst}`] = { ms: round((after.seconds - before.seconds) * 1000, 1), count: after.count - before.count,
      over10ms: after.over10ms - before.over10ms };
  }
  return {
    name, what, status: 'ok', params: { ...params, durationS }, load,
    ratioToRaw: NaN, // set once the raw limit is final (after its second measurement)
    usage,
    cpu: {
      collectorMsPer1kEvents: round((collectorCpu * 1000) / (events / 1000), 2),
      brokerMsPer1kEvents: round((broker * 1000) / (events / 1000), 2),
      brokerShare: round(broker / (broker + collectorCpu), 3),
      loadgenShare: round(loadgen / total, 3),
      ourUtilisation: round(total / (usage.wallS * os.cpus().length), 3),
      otherUtilisation: round(Math.max(0, usage.machineBusyS - total) / (usage.wallS * os.cpus().length), 3),
    },
    gc,
    ...(incidents.length ? { incidents } : {}),
    ...warn(s, load),
  };
}

function warn(s: Scenario, load: LoadResult): { warnings?: string[] } {
  const w: string[] = [];
  if (s.rate && load.reqPerS < 0.95 * s.rate) {
    w.push(`target ${s.rate} req/s not reached: ${load.reqPerS} req/s (${s.connections} connections, each one request at a time, p50 ${load.p50Ms} ms)`);
  }
  if (load.duplicates > 0) {
    w.push(`${load.duplicates} events were duplicates of earlier requests (repeated bodies) and not written again; events/s excludes them`);
  }
  if (load.spilled > 0) {
    w.push(`${load.spilled} of ${load.ok} 2xx answers were buffered to the disk spill (Kafka circuit open), not in Kafka: events/s overstates Kafka throughput`);
  }
  return w.length ? { warnings: w } : {};
}

function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map((c) => (typeof c === 'number' ? fmt(c) : c)))];
  const w = head.map((_, i) => Math.max(...cells.map((r) => String(r[i] ?? '').length)));
  const line = (r: (string | number)[]) => r.map((c, i) => (i === 0 ? String(c).padEnd(w[i]!) : String(c).padStart(w[i]!))).join('  ');
  return [line(cells[0]!), w.map((n) => '-'.repeat(n)).join('  '), ...cells.slice(1).map(line)].join('\n');
}

function fmt(n: number): string {
  if (Number.isNaN(n)) return '-';
  return Math.abs(n) >= 1000 ? Math.round(n).toLocaleString('en-US') : String(n);
}

export interface RawRow { name: string; eventsPerS: number; brokerMsPer1k: number; producerCpuMsPer1k: number; ratio: number }

export interface Summary {
  /** the raw pass whose events/s is the limit, and its broker CPU per 1k events */
  limitName: string;
  brokerMsPer1k: number;
  /** RSS per process (MB) after every scenario */
  rssAfter: Record<string, number>;
  /** kcat's version, or why there is no kcat row */
  kcat: string;
}

export function printTables(raws: (RawRow & { loadAvg?: number[] })[], reps: ScenarioReport[], sum?: Summary): string {
  const ratio = (x: number | undefined) => (x === undefined ? '—' : x.toFixed(3));
  const la = (l: number[] | undefined) => (l ? l[0]!.toFixed(1) : '');
  const main = reps.map((r) => r.status !== 'ok' || !r.load
    ? [r.name, 'not yet implemented', '', '', '', '', '', '', '', '', la(r.loadAvg)]
    : [r.name, r.load.eventsPerS, r.load.reqPerS, r.load.p50Ms, r.load.p99Ms, r.load.p999Ms,
      r.load.non2xx + r.load.errors + r.load.timeouts, r.load.spilled, ratio(r.ratioToRaw), ratio(r.ratioToNodeRdkafka), la(r.loadAvg)]);
  main.unshift(...raws.map((r) => [r.name, r.eventsPerS, '', '', '', '', 0, '', r.ratio.toFixed(3), '', la(r.loadAvg)]));
  const res = reps.filter((r) => r.status === 'ok' && r.usage).map((r) => {
    const rss = Object.entries(r.usage!.peakRssMb);
    const coll = rss.filter(([k]) => k.startsWith('collector')).map(([, v]) => v);
    const gcs = Object.values(r.gc ?? {});
    return [r.name, r.cpu!.collectorMsPer1kEvents, r.cpu!.brokerMsPer1kEvents, r.cpu!.brokerVsRaw ?? NaN, `${(r.cpu!.brokerShare * 100).toFixed(0)}%`,
      `${(r.cpu!.loadgenShare * 100).toFixed(0)}%`, `${(r.cpu!.ourUtilisation * 100).toFixed(0)}%`, `${(r.cpu!.otherUtilisation * 100).toFixed(0)}%`,
      Math.max(...coll), r.usage!.peakRssMb.broker ?? NaN,
      gcs.length ? round(gcs.reduce((a, g) => a + g.ms, 0), 1) : NaN, gcs.reduce((a, g) => a + g.over10ms, 0)];
  });
  res.unshift(...raws.map((r) => [r.name, r.producerCpuMsPer1k, r.brokerMsPer1k,
    sum ? round(r.brokerMsPer1k / sum.brokerMsPer1k, 2) : NaN, '', '', '', '', NaN, NaN, NaN, NaN]));
  const rss = sum ? Object.entries(sum.rssAfter).map(([k, v]) => `${k} ${v} MB${k.startsWith('collector') ? ` (${(v / 256).toFixed(2)} of 256)` : ''}`).join(', ') : '';
  return [
    table(['scenario', 'events/s', 'req/s', 'p50 ms', 'p99 ms', 'p999 ms', 'non-2xx', '2xx spilled', 'x raw', 'x node-rdkafka', 'load 1m'], main),
    '',
    table(['scenario', 'coll CPU ms/1k ev', 'broker CPU ms/1k ev', 'broker x raw', 'broker share', 'loadgen share', 'ours/box', 'others/box',
      'coll peak RSS MB', 'broker peak RSS MB', 'GC ms', 'GC >10ms'], res),
    ...(sum ? [`raw limit: ${sum.limitName}; kcat: ${sum.kcat}`, `RSS after the whole bench: ${rss}`] : []),
    '(raw rows: "coll CPU" is the producer processes\'. broker x raw = broker CPU per event / the limit pass\'s. non-2xx includes connection errors and timeouts;',
    ' 2xx spilled = answers with buffered:true (on the collector\'s disk, not yet in Kafka), included in events/s.',
    ' broker share = broker / (broker + collectors) CPU; ours/box and others/box = CPU used / (wall x cores), others = noise;',
    ' the raw limit behind every "x raw" is the fastest raw pass: the collector\'s own batch producer or kcat -P -K,',
    ' at the start or the end; the node-rdkafka row, one produce() per record, is for reference only; load 1m = uptime\'s)',
  ].join('\n');
}

export interface Goal {
  goal: string;
  /** the figure this run measured, as printed (absent: its scenario did not run) */
  figure?: string;
  met?: boolean;
}

/**
 * Issue #15's goals, judged on this run's figures: each with its number, or "not run" when
 * BENCH_ONLY left its scenario out. Not a verdict on the code alone: a busy box fails them too.
 */
export function issueGoals(reps: ScenarioReport[], rssAfter: Record<string, number>): Goal[] {
  const ok = (name: string) => reps.find((r) => r.name === name && r.status === 'ok' && r.load);
  const goal = (text: string, name: string, value: (r: ScenarioReport) => number | undefined, show: (v: number) => string, met: (v: number) => boolean): Goal => {
    const r = ok(name);
    const v = r ? value(r) : undefined;
    return v === undefined || !Number.isFinite(v) ? { goal: text } : { goal: text, figure: show(v), met: met(v) };
  };
  const collectors = Object.entries(rssAfter).filter(([k]) => k.startsWith('collector')).map(([, v]) => v);
  return [
    goal('max-100 events/s ≥ 0.60 of the raw limit', 'max-100', (r) => r.ratioToRaw, (v) => v.toFixed(3), (v) => v >= 0.6),
    goal('1-event requests ≥ 50,000 req/s', 'single-event', (r) => r.load!.reqPerS, (v) => `${Math.round(v).toLocaleString('en-US')} req/s`, (v) => v >= 50_000),
    goal('p99 ≤ 10 ms at 2,000 events/s (steady-2k, paced)', 'steady-2k', (r) => r.load!.p99Ms, (v) => `${v} ms`, (v) => v <= 10),
    collectors.length === 0
      ? { goal: 'RSS ≤ 256 MB per collector after the whole bench' }
      : { goal: 'RSS ≤ 256 MB per collector after the whole bench', figure: collectors.map((v) => `${v} MB`).join(' / '), met: collectors.every((v) => v <= 256) },
    goal('broker CPU per event ≤ 1.5 × the raw pass\'s (max-100)', 'max-100', (r) => r.cpu?.brokerVsRaw, (v) => `${v.toFixed(2)} ×`, (v) => v <= 1.5),
  ];
}

export function printGoals(goals: Goal[]): string {
  return ['issue #15 goals, this run:', ...goals.map((g) =>
    `  ${g.goal}: ${g.figure === undefined ? 'not run' : `${g.figure} — ${g.met ? 'met' : 'NOT met'}`}`)].join('\n');
}

function sh(cmd: string, args: string[], cwd: string): string {
  try { return execFileSync(cmd, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim(); } catch { return ''; }
}

export function gitSha(root: string): { sha: string; dirty: boolean } {
  return { sha: sha(root), dirty: sh('git', ['status', '--porcelain'], root) !== '' };
}
function sha(root: string): string { return sh('git', ['rev-parse', '--short', 'HEAD'], root) || 'nogit'; }

export function machine(root: string, localBroker: boolean): Record<string, unknown> {
  const pom = readFileSync(join(root, 'kafka', 'pom.xml'), 'utf8');
  const kafka = /<kafka\.version>([^<]+)</.exec(pom)?.[1] ?? 'unknown';
  return {
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    cores: os.cpus().length,
    memGb: round(os.totalmem() / 2 ** 30, 1),
    loadAvgAtStart: os.loadavg().map((l) => round(l, 2)),
    kernel: os.release(),
    node: process.version,
    librdkafka: Kafka.librdkafkaVersion,
    kafka: localBroker ? `${kafka} (local single-node KRaft, 512 MB heap)` : 'external cluster (version not probed)',
  };
}
