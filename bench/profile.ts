/**
 * One collector process under load, measured and (optionally) CPU-profiled: the tool behind
 * issue #8's speed work. It starts `dist/src/main.js` directly (no PM2) against a broker that
 * is already running, warms up, drives it with the bench's own load (bench/scenarios.ts: fresh
 * event ids, autocannon without pipelining), and prints events/s, latency, CPU ms per 1k
 * events of the collector (all its threads) and of the broker; with PROFILE=1 the collector runs
 * under `--cpu-prof` and the top self-time functions of each thread are printed.
 *
 *   KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 BROKER_PID=123 node dist/bench/profile.js
 *
 * Env: BATCH (100), CONNECTIONS (16), RATE (req/s; unset = as fast as answers come),
 * DURATION_S (10), WARM_S (3), GZIP=1, PROFILE=1, PROFILE_DIR (a temp dir), TOP (25),
 * BROKER_PID (CPU of the broker), RUNS (1: repeat the measurement, same collector),
 * NODE_ARGS (extra node flags for the collector), plus any collector variable.
 * `node dist/bench/profile.js top <file.cpuprofile>...` prints the top table of saved profiles.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import os from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './lib/cluster.js';
import { cpuSeconds, threadCpu } from './lib/proc.js';
import { Bodies, runLoad, type Scenario } from './scenarios.js';

interface ProfileNode { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }
interface CpuProfile { nodes: ProfileNode[]; startTime: number; endTime: number; samples: number[]; timeDeltas: number[] }

/** Self time per function (name + file + line), in ms, sorted; plus the profile's total. */
export function selfTimes(p: CpuProfile): { totalMs: number; rows: { fn: string; ms: number }[] } {
  const byId = new Map<number, ProfileNode>(p.nodes.map((n) => [n.id, n]));
  const ms = new Map<string, number>();
  let total = 0;
  // timeDeltas[i] is the time before sample i; attribute it to the sampled node.
  for (let i = 0; i < p.samples.length; i++) {
    const n = byId.get(p.samples[i]!)!;
    const dt = (p.timeDeltas[i + 1] ?? 0) / 1000;
    const f = n.callFrame;
    const file = f.url ? basename(f.url.replace(/^file:\/\//, '')) : '';
    const key = `${f.functionName || '(anonymous)'} ${file}${file ? `:${f.lineNumber + 1}` : ''}`;
    ms.set(key, (ms.get(key) ?? 0) + dt);
    if (f.functionName !== '(idle)') total += dt;
  }
  return { totalMs: total, rows: [...ms].map(([fn, v]) => ({ fn, ms: v })).sort((a, b) => b.ms - a.ms) };
}

function printTop(file: string, top: number, events: number): void {
  const { totalMs, rows } = selfTimes(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile);
  console.log(`\n${basename(file)}: ${Math.round(totalMs)} ms busy (idle excluded)${events ? `, ${(totalMs / (events / 1000)).toFixed(2)} ms per 1k events` : ''}`);
  for (const r of rows.slice(0, top)) {
    const per1k = events ? `${(r.ms / (events / 1000)).toFixed(2).padStart(7)} ms/1k` : '';
    console.log(`  ${r.ms.toFixed(0).padStart(7)} ms ${((r.ms / totalMs) * 100).toFixed(1).padStart(5)}% ${per1k}  ${r.fn}`);
  }
}

/**
 * main = the JS main thread, rdk = librdkafka's threads, worker(s) = the busiest others (the decode
 * workers), reports = native/producer's delivery-report thread, rest = V8/libuv helpers (GC, …).
 */
function perThread(pid: number, t0: Map<number, { name: string; s: number }>, t1: Map<number, { name: string; s: number }>, events: number): string {
  const sum: Record<string, number> = { main: 0, rdk: 0, 'worker(s)': 0, reports: 0, rest: 0 };
  const others: number[] = [];
  for (const [tid, b] of t1) {
    const d = b.s - (t0.get(tid)?.s ?? 0);
    if (tid === pid) sum.main! += d;
    else if (b.name.startsWith('rdk:')) sum.rdk! += d;
    else if (b.name === 'kafka:reports') sum.reports! += d;
    else others.push(d);
  }
  // Decode workers are the busiest non-main JS threads; one per WORKER_THREADS.
  others.sort((a, b) => b - a);
  const nWorkers = Number(process.env.WORKER_THREADS ?? 1);
  others.forEach((d, i) => {
    if (i < nWorkers) sum['worker(s)']! += d;
    else sum.rest! += d;
  });
  return Object.entries(sum).map(([k, v]) => `${k} ${((v * 1e6) / events).toFixed(1)}`).join(', ');
}

async function waitHealthy(url: string, ms: number): Promise<void> {
  for (const end = Date.now() + ms; Date.now() < end; await new Promise((r) => setTimeout(r, 200))) {
    const h = await fetch(`${url}/api/v1/health`).then((r) => r.json() as Promise<{ kafka_connected?: boolean; circuit_state?: string }>).catch(() => undefined);
    if (h && h.kafka_connected !== false && (h.circuit_state ?? 'closed') === 'closed') return;
  }
  throw new Error(`collector at ${url} not healthy after ${ms} ms`);
}

async function main(): Promise<void> {
  const env = process.env;
  if (!env.KAFKA_BOOTSTRAP_SERVERS) throw new Error('set KAFKA_BOOTSTRAP_SERVERS (a running broker with topics events and events-dlq)');
  const profile = env.PROFILE === '1';
  const dir = env.PROFILE_DIR || mkdtempSync(join(os.tmpdir(), 'collector-prof-'));
  const port = await freePort();
  const home = mkdtempSync(join(os.tmpdir(), 'collector-run-'));
  const nodeArgs = [...(env.NODE_ARGS?.split(' ').filter(Boolean) ?? []), ...(profile ? ['--cpu-prof', `--cpu-prof-dir=${dir}`] : [])];
  const main = fileURLToPath(new URL('../src/main.js', import.meta.url));
  const child = spawn(process.execPath, [...nodeArgs, main], {
    env: { ...env, PORT: String(port), HOST: '127.0.0.1', BUFFER_DIR: join(home, 'buffer'), DEDUP_PATH: join(home, 'dedup.table'),
      RUN_DIR: join(home, 'run'), LOG_LEVEL: env.LOG_LEVEL ?? 'warn', INSTANCE_ID: '0' },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const url = `http://127.0.0.1:${port}`;
  try {
    await waitHealthy(url, 60_000);
    const batch = Number(env.BATCH ?? 100);
    const s: Scenario = { name: 'profile', what: '', batch, gzip: env.GZIP === '1', connections: Number(env.CONNECTIONS ?? 16),
      ...(env.RATE ? { rate: Number(env.RATE) } : {}) };
    const warm = Number(env.WARM_S ?? 3);
    if (warm > 0) await runLoad(url, { ...s, rate: undefined as never }, warm, new Bodies(batch, s.gzip ?? false));
    const brokerPid = Number(env.BROKER_PID ?? 0);
    let events = 0;
    for (let run = 0; run < Number(env.RUNS ?? 1); run++) {
      const bodies = new Bodies(batch, s.gzip ?? false);
      const t0 = threadCpu(child.pid!);
      const c0 = cpuSeconds(child.pid!);
      const b0 = brokerPid ? cpuSeconds(brokerPid) : NaN;
      const load = await runLoad(url, s, Number(env.DURATION_S ?? 10), bodies);
      const c1 = cpuSeconds(child.pid!);
      const t1 = threadCpu(child.pid!);
      const b1 = brokerPid ? cpuSeconds(brokerPid) : NaN;
      const ev = load.eventsPerS * load.seconds;
      events += ev;
      console.log(JSON.stringify({
        batch, connections: s.connections, rate: s.rate ?? null, gzip: !!s.gzip, eventsPerS: load.eventsPerS, reqPerS: load.reqPerS,
        p50Ms: load.p50Ms, p99Ms: load.p99Ms, p999Ms: load.p999Ms, non2xx: load.non2xx, byStatus: load.byStatus, errors: load.errors, spilled: load.spilled,
        collectorCpuMsPer1k: +((c1 - c0) * 1e6 / ev).toFixed(2), brokerCpuMsPer1k: +((b1 - b0) * 1e6 / ev).toFixed(2),
        collectorCores: +((c1 - c0) / load.seconds).toFixed(2), loadavg: os.loadavg()[0]!.toFixed(2),
      }));
      console.log(`  CPU ms per 1k events by thread: ${perThread(child.pid!, t0, t1, ev)}`);
    }
    child.kill('SIGTERM');
    await exited;
    if (profile) {
      const files = readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).map((f) => join(dir, f));
      console.log(`profiles in ${dir} (they include warm-up and shutdown)`);
      for (const f of files) printTop(f, Number(env.TOP ?? 25), events);
    }
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
  }
}

if (process.argv[2] === 'top') {
  for (const f of process.argv.slice(3)) printTop(f, Number(process.env.TOP ?? 40), Number(process.env.EVENTS ?? 0));
} else {
  main().catch((e: unknown) => { console.error(e); process.exit(1); });
}
