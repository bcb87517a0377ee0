/**
 * Per-process resource accounting straight from /proc (Linux only): CPU seconds from
 * /proc/<pid>/stat (utime+stime cover every thread, so decode workers, librdkafka's
 * threads and the JVM's GC threads all count) and RSS from /proc/<pid>/status.
 * Reading /proc costs microseconds, so a 250 ms sampler does not disturb the run.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';

export interface Proc {
  /** e.g. collector#0, broker, pm2, loadgen */
  role: string;
  pid: number;
}

let ticks = 0;
/** USER_HZ: 100 on every Linux we know, but ask once instead of assuming. */
export function clockTicks(): number {
  if (!ticks) {
    try { ticks = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100; } catch { ticks = 100; }
  }
  return ticks;
}

/** CPU seconds (user + system) consumed so far; NaN when the process is gone. */
export function cpuSeconds(pid: number): number {
  if (pid === process.pid) {
    const u = process.cpuUsage();
    return (u.user + u.system) / 1e6;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // comm (field 2) may contain spaces and parens: count fields from the last ')'.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(f[11]) + Number(f[12])) / clockTicks(); // fields 14 and 15 of the full line
  } catch {
    return NaN;
  }
}

/** CPU seconds of each thread of a process (tid → comm name, seconds); threads that exited are absent. */
export function threadCpu(pid: number): Map<number, { name: string; s: number }> {
  const out = new Map<number, { name: string; s: number }>();
  let tids: string[] = [];
  try { tids = readdirSync(`/proc/${pid}/task`); } catch { return out; }
  for (const t of tids) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${t}/stat`, 'utf8');
      const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      out.set(Number(t), { name, s: (Number(f[11]) + Number(f[12])) / clockTicks() });
    } catch { /* exited */ }
  }
  return out;
}

/** Resident set in MiB; NaN when the process is gone. */
export function rssMb(pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) / 1024 : NaN;
  } catch {
    return NaN;
  }
}

/** RSS split by kind (MiB): anon (heaps, malloc), file (mapped code), shmem (the shared dedup table and slab pages touched). */
export function rssParts(pid: number): { anon: number; file: number; shmem: number } | undefined {
  try {
    const st = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (k: string) => Number(new RegExp(`${k}:\\s+(\\d+) kB`).exec(st)?.[1] ?? NaN) / 1024;
    return { anon: round(kb('RssAnon'), 1), file: round(kb('RssFile'), 1), shmem: round(kb('RssShmem'), 1) };
  } catch {
    return undefined;
  }
}

/** Direct children of `ppid` whose command line contains `match`. */
export function childrenOf(ppid: number, match: string): number[] {
  const out: number[] = [];
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = readFileSync(`/proc/${d}/stat`, 'utf8');
      const parent = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (parent === ppid && readFileSync(`/proc/${d}/cmdline`, 'utf8').includes(match)) out.push(Number(d));
    } catch { /* exited while we looked */ }
  }
  return out;
}

/** An environment variable of another process of ours (PM2's NODE_APP_INSTANCE names the collector). */
export function envOf(pid: number, name: string): string | undefined {
  try {
    for (const kv of readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0')) {
      if (kv.startsWith(`${name}=`)) return kv.slice(name.length + 1);
    }
  } catch { /* gone */ }
  return undefined;
}

/** CPU seconds the whole machine spent busy so far (all processes, ours or not): from /proc/stat. */
export function machineBusySeconds(): number {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal ...: busy = all but idle and iowait (guest is inside user)
    const total = f.slice(0, 8).reduce((a, b) => a + b, 0);
    return (total - f[3]! - f[4]!) / clockTicks();
  } catch {
    return NaN;
  }
}

export interface Usage {
  /** wall-clock seconds between start() and stop() */
  wallS: number;
  /** CPU seconds the whole machine was busy (includes processes that are not ours: noise) */
  machineBusyS: number;
  /** CPU seconds used during the window, per role */
  cpu: Record<string, number>;
  /** peak RSS (MiB) seen during the window, per role */
  peakRssMb: Record<string, number>;
}

/** Samples RSS every `everyMs` and CPU at start/stop, for a fixed set of processes. */
export class Sampler {
  private readonly cpu0 = new Map<string, number>();
  private readonly peak = new Map<string, number>();
  private timer: NodeJS.Timeout | undefined;
  private t0 = 0;
  private busy0 = 0;

  constructor(private readonly procs: Proc[], private readonly everyMs = 250) {}

  start(): void {
    for (const p of this.procs) this.cpu0.set(p.role, cpuSeconds(p.pid));
    this.t0 = performance.now();
    this.busy0 = machineBusySeconds();
    this.sample();
    this.timer = setInterval(() => this.sample(), this.everyMs);
  }

  private sample(): void {
    for (const p of this.procs) {
      const r = rssMb(p.pid);
      if (!Number.isNaN(r)) this.peak.set(p.role, Math.max(this.peak.get(p.role) ?? 0, r));
    }
  }

  stop(): Usage {
    clearInterval(this.timer);
    this.sample();
    const cpu: Record<string, number> = {};
    const peakRssMb: Record<string, number> = {};
    for (const p of this.procs) {
      cpu[p.role] = round(cpuSeconds(p.pid) - (this.cpu0.get(p.role) ?? NaN), 3);
      peakRssMb[p.role] = round(this.peak.get(p.role) ?? NaN, 1);
    }
    return { wallS: round((performance.now() - this.t0) / 1000, 3), machineBusyS: round(machineBusySeconds() - this.busy0, 2), cpu, peakRssMb };
  }
}

export function round(x: number, digits = 2): number {
  const k = 10 ** digits;
  return Math.round(x * k) / k;
}
