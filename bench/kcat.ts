/**
 * A second raw limit, from outside this code base: `kcat -P -K` (librdkafka's own command-line
 * producer) writing the collector's keyed records from a file, with the collector's producer
 * settings (producerSettings(loadConfig()) turned into -X flags). If our C batch producer were
 * slow, this row would show it: the raw limit every ratio divides by is the faster of the two.
 *
 * What differs from the collector's records, and why it does not flatter kcat: kcat sets the
 * same four headers on every record (-H takes fixed values), where the collector's tenant_id and
 * event_type vary per record — same names, same value lengths, so the same bytes on the wire.
 * kcat links its own librdkafka (Debian's kcat 1.7.1: 2.0.2), not node-rdkafka's.
 *
 * Timing: N kcat processes (one per collector instance, as for the C producer) read one file
 * each from stdin (page cache: the file is written and read once before the clock) and exit once
 * every record is acknowledged (kcat flushes). Their wall time includes start-up — connect,
 * metadata, the idempotent producer id — which the C producer's pass excludes, so the time of a
 * one-record kcat run measured just before is subtracted. A kcat that reports a delivery failure
 * or exits non-zero fails the pass, so a number is never made of lost records.
 */
import { spawn, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Config } from '../src/config/schema.js';
import type { RawResult } from './raw-producer.js';
import { producerSettings } from '../src/producer/settings.js';
import { syntheticBatch } from '../src/pipeline/synthetic.js';
import { clockTicks, round, Sampler, type Proc, type Usage } from './lib/proc.js';

/** Same fields as the C producer's pass (RawResult), plus kcat's own. */
export interface KcatLimit extends RawResult {
  client: 'kcat';
  producers: number;
  perProducer: number[];
  /** start-up time subtracted from every kcat's wall time (one-record run), s */
  startupS: number;
  kcatVersion: string;
  usage: Usage;
}

/** `kcat -V`'s version line, or undefined when kcat is not installed. */
export function kcatVersion(): string | undefined {
  const r = spawnSync('kcat', ['-V'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return undefined;
  return /Version (.*)/.exec(r.stdout)?.[1]?.trim() ?? 'unknown';
}

/** The collector's librdkafka settings as kcat -X flags (global and topic properties alike: librdkafka takes both). */
export function kcatFlags(config: Readonly<Config>, clientSuffix: string): string[] {
  const { global, topic } = producerSettings({ ...config, INSTANCE_ID: `bench-kcat-${clientSuffix}` });
  const out: string[] = [];
  for (const [k, v] of Object.entries({ ...global, ...topic })) {
    // kcat installs its own delivery-report callback; bootstrap goes in -b.
    if (k === 'dr_cb' || k === 'dr_msg_cb' || k === 'bootstrap.servers' || v === undefined) continue;
    out.push('-X', `${k}=${String(v)}`);
  }
  return out;
}

/** Writes `count` records as `key\tvalue\n` lines (event JSON has no raw tab or newline). */
function writeRecords(file: string, count: number): { avgValueBytes: number; headers: string[] } {
  const pool = syntheticBatch(1000);
  const lines = pool.map((e) => `${e.learner_id as string}\t${JSON.stringify(e)}\n`);
  const avgValueBytes = pool.reduce((a, e) => a + JSON.stringify(e).length, 0) / pool.length;
  const chunk = Buffer.from(lines.join(''));
  const fd = openSync(file, 'w');
  try {
    let left = count;
    for (; left >= pool.length; left -= pool.length) writeSync(fd, chunk);
    if (left > 0) writeSync(fd, Buffer.from(lines.slice(0, left).join('')));
  } finally {
    closeSync(fd);
  }
  const e = pool[0]!;
  const headers = [`tenant_id=${e.tenant_id as string}`, `event_type=${e.event_type as string}`, `batch_id=${randomUUID()}`,
    `received_at=${new Date().toISOString()}`];
  return { avgValueBytes, headers };
}

interface Run { wallS: number; stderr: string; code: number | null; pid: number }

function runKcat(args: string[], file: string, onSpawn?: (pid: number) => void): Promise<Run> {
  const fd = openSync(file, 'r');
  const t0 = performance.now();
  const child = spawn('kcat', args, { stdio: [fd, 'ignore', 'pipe'] });
  closeSync(fd); // the child has its own copy
  onSpawn?.(child.pid ?? 0);
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { if (stderr.length < 20_000) stderr += d.toString(); });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code) => resolve({ wallS: (performance.now() - t0) / 1000, stderr, code, pid: child.pid ?? 0 }));
  });
}

/**
 * `n` kcat processes at once, each producing `perProducer` records to the collector's topic.
 * `extra` (the broker) is sampled for CPU/RSS while they run.
 */
export async function kcatLimit(config: Readonly<Config>, n: number, perProducer: number, extra: Proc[]): Promise<KcatLimit> {
  const version = kcatVersion();
  if (!version) throw new Error('kcat is not installed');
  const dir = mkdtempSync(join(os.tmpdir(), 'bench-kcat-'));
  try {
    const file = join(dir, 'records.tsv');
    const { avgValueBytes, headers } = writeRecords(file, perProducer);
    const one = join(dir, 'one.tsv');
    writeRecords(one, 1);
    spawnSync('cat', [file], { stdio: ['ignore', 'ignore', 'ignore'] }); // into the page cache before the clock
    const args = (i: number) => ['-P', '-b', config.KAFKA_BOOTSTRAP_SERVERS, '-t', config.KAFKA_TOPIC, '-K', '\t',
      ...headers.flatMap((h) => ['-H', h]), ...kcatFlags(config, String(i))];
    const check = (r: Run, what: string) => {
      // kcat prints "% Delivery failed for message: …" per failed record and exits non-zero.
      const failed = (r.stderr.match(/Delivery failed/g) ?? []).length;
      if (r.code !== 0 || failed > 0) throw new Error(`${what}: exit ${r.code}, ${failed} delivery failures: ${r.stderr.slice(0, 500)}`);
    };
    const startup = await runKcat(args(0), one);
    check(startup, 'kcat start-up run');

    const childCpu0 = childCpuSeconds();
    const procs: Proc[] = [];
    const pending: Promise<Run>[] = [];
    for (let i = 0; i < n; i++) pending.push(runKcat(args(i), file, (pid) => procs.push({ role: `kcat#${i}`, pid })));
    // Sampled from the spawn on: the kcat processes' own CPU is read from /proc while they live.
    const sampler = new Sampler([...extra, ...procs]);
    sampler.start();
    const runs = await Promise.all(pending);
    const usage = sampler.stop();
    runs.forEach((r, i) => { check(r, `kcat#${i}`); });
    const secs = runs.map((r) => Math.max(0.001, r.wallS - startup.wallS));
    const perProducerRate = secs.map((s) => Math.round(perProducer / s));
    const events = perProducer * n;
    // A process that exited cannot be read any more: its CPU comes from the children's rusage instead.
    const kcatCpu = childCpuSeconds() - childCpu0;
    return {
      client: 'kcat',
      producers: n,
      perProducer: perProducerRate,
      events,
      failed: 0,
      seconds: round(Math.max(...secs), 3),
      eventsPerS: Math.round(events / Math.max(...secs)),
      producerCpuMsPer1k: round((kcatCpu * 1000) / (events / 1000), 3),
      avgValueBytes: Math.round(avgValueBytes),
      startupS: round(startup.wallS, 3),
      kcatVersion: version,
      usage,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** CPU seconds of this process's reaped children (cutime + cstime of /proc/self/stat): kcat's CPU once it has exited. */
function childCpuSeconds(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(f[13]) + Number(f[14])) / clockTicks(); // fields 16 and 17 of the full line
}
