/**
 * The collector as users run it (`npm start` does the same): pm2-runtime on
 * ecosystem.config.js, in the foreground, with a private PM2_HOME so the user's own
 * pm2 daemon and process list are never touched. pm2-runtime keeps PM2's God in its
 * own process, so the collectors are its direct children: that is how we find their
 * pids without talking to PM2.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync } from 'node:fs';
import http from 'node:http';
import { createRequire } from 'node:module';
import net from 'node:net';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { childrenOf, envOf, type Proc } from './proc.js';

const require = createRequire(import.meta.url);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface GcStats { seconds: number; count: number; over10ms: number }

export class Cluster {
  private exited = false;
  collectors: Proc[] = [];

  private constructor(
    readonly url: string,
    readonly instances: number,
    readonly logFile: string,
    /** what the collectors got on top of our environment (for the report's config) */
    readonly env: Record<string, string>,
    private readonly home: string,
    private readonly child: ChildProcess,
  ) {
    child.once('exit', () => (this.exited = true));
    // Last resort if we die without stop(): no collector may outlive the bench.
    process.once('exit', () => this.killNow());
  }

  get pm2Pid(): number { return this.child.pid ?? 0; }

  /** `logFile` outlives the run (the PM2 home does not): it is where a crash under load is explained. */
  static async start(env: Record<string, string>, instances: number, root: string, logFile: string): Promise<Cluster> {
    const home = mkdtempSync(join(os.tmpdir(), 'bench-pm2-'));
    const port = await freePort();
    mkdirSync(dirname(logFile), { recursive: true });
    const out = openSync(logFile, 'a');
    const runtime = join(require.resolve('pm2/package.json'), '..', 'bin', 'pm2-runtime');
    const ours = { ...env, COLLECTOR_INSTANCES: String(instances), PORT: String(port), HOST: '127.0.0.1', BUFFER_DIR: join(home, 'buffer'),
      // The run's own dedup table (default size), removed with the run's home.
      DEDUP_PATH: env.DEDUP_PATH ?? join(home, 'dedup.table') };
    const child = spawn(process.execPath, [runtime, 'start', join(root, 'ecosystem.config.js')], {
      cwd: root,
      stdio: ['ignore', out, out],
      env: { ...process.env, ...ours, PM2_HOME: join(home, 'pm2') },
    });
    closeSync(out);
    const c = new Cluster(`http://127.0.0.1:${port}`, instances, logFile, ours, home, child);
    try {
      await c.waitHealthy(90_000);
    } catch (e) {
      await c.stop();
      throw e;
    }
    return c;
  }

  /** Every instance must answer health 200 with Kafka connected; SO_REUSEPORT spreads new connections over them. */
  private async waitHealthy(timeoutMs: number): Promise<void> {
    const healthy = new Set<string>();
    for (const end = Date.now() + timeoutMs; healthy.size < this.instances; await sleep(100)) {
      if (this.exited) throw new Error(`pm2-runtime exited before the collectors were healthy; see ${this.logFile}`);
      // PM2 would restart a collector that cannot boot (bad config) forever: fail fast with its reason.
      const boot = /collector failed to start: .*/.exec(readFileSync(this.logFile, 'utf8'));
      if (boot) throw new Error(`${boot[0]} (see ${this.logFile})`);
      if (Date.now() > end) throw new Error(`only ${healthy.size}/${this.instances} instances healthy; see ${this.logFile}`);
      const probe = await probeInstance(this.url).catch(() => undefined);
      // 200 alone is not enough: a collector whose Kafka circuit is still open answers 200 (degraded) and spills.
      const h = probe?.health;
      if (probe?.healthy && h?.kafka_connected !== false && (h?.circuit_state ?? 'closed') === 'closed') healthy.add(probe.instance);
    }
    const pids = childrenOf(this.pm2Pid, 'dist/src/main.js');
    if (pids.length !== this.instances) throw new Error(`expected ${this.instances} collector pids under pm2-runtime, found ${pids.length}`);
    this.collectors = pids
      .map((pid) => ({ role: `collector#${envOf(pid, 'NODE_APP_INSTANCE') ?? pid}`, pid }))
      .sort((a, b) => a.role.localeCompare(b.role));
  }

  /**
   * Waits until no instance holds spilled batches and every Kafka circuit is closed: a replay
   * running in the background would compete with the next measurement. Returns seconds waited.
   */
  async settle(timeoutMs: number): Promise<{ waitedS: number; settled: boolean; last: Record<string, string> }> {
    const t0 = Date.now();
    const last: Record<string, string> = {};
    const calm = new Set<string>();
    while (calm.size < this.instances && Date.now() - t0 < timeoutMs) {
      const p = await probeInstance(this.url).catch(() => undefined);
      if (!p) { await sleep(100); continue; }
      const batches = p.health.buffer_status?.buffered_batches ?? 0;
      const circuit = p.health.circuit_state ?? 'closed';
      last[p.instance] = `${batches} spilled batches, circuit ${circuit}`;
      if (batches === 0 && circuit === 'closed') calm.add(p.instance);
      else { calm.delete(p.instance); await sleep(250); }
    }
    return { waitedS: Math.round((Date.now() - t0) / 100) / 10, settled: calm.size >= this.instances, last };
  }

  /** GC totals per instance from each process's own /metrics (each answers only for itself). */
  async gc(): Promise<Record<string, GcStats>> {
    const seen: Record<string, GcStats> = {};
    for (let i = 0; i < 30 * this.instances && Object.keys(seen).length < this.instances; i++) {
      const text = await get(new http.Agent({ keepAlive: false }), `${this.url}/metrics`).catch(() => undefined);
      const inst = text && /instance="([^"]*)"/.exec(text.body)?.[1];
      if (text && inst !== undefined && !seen[inst]) seen[inst] = parseGc(text.body);
    }
    return seen;
  }

  /** SIGINT lets PM2 drain each collector (kill_timeout 25 s); SIGKILL whatever is left after that. */
  async stop(): Promise<void> {
    // Known pids for the SIGKILL fallback, even when we failed before discovering them.
    if (!this.exited) for (const pid of childrenOf(this.pm2Pid, 'dist/src/main.js')) {
      if (!this.collectors.some((c) => c.pid === pid)) this.collectors.push({ role: `collector@${pid}`, pid });
    }
    if (!this.exited) {
      this.child.kill('SIGINT');
      for (const end = Date.now() + 35_000; !this.exited && Date.now() < end;) await sleep(100);
    }
    this.killNow();
    rmSync(this.home, { recursive: true, force: true });
  }

  private killNow(): void {
    const pids = [...this.collectors.map((p) => p.pid), ...(this.exited ? [] : [this.pm2Pid])];
    for (const pid of pids) try { process.kill(pid, 'SIGKILL'); } catch { /* already gone */ }
  }
}

/** One connection, two requests on it: /metrics names the instance, /api/v1/health is its health. */
async function probeInstance(url: string): Promise<{ instance: string; healthy: boolean; health: Health }> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const m = await get(agent, `${url}/metrics`);
    const instance = /instance="([^"]*)"/.exec(m.body)?.[1];
    if (instance === undefined) throw new Error('no instance label');
    const h = await get(agent, `${url}/api/v1/health`);
    return { instance, healthy: h.status === 200, health: JSON.parse(h.body) as Health };
  } finally {
    agent.destroy();
  }
}

interface Health { kafka_connected?: boolean; buffer_status?: { buffered_batches?: number }; circuit_state?: string }

function get(agent: http.Agent, url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { agent, timeout: 5000 }, (res) => {
      let body = '';
      res.setEncoding('utf8').on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** Sums prom-client's nodejs_gc_duration_seconds over GC kinds; over10ms from the le="0.01" bucket. */
export function parseGc(text: string): GcStats {
  const s: GcStats = { seconds: 0, count: 0, over10ms: 0 };
  for (const line of text.split('\n')) {
    if (!line.startsWith('collector_process_nodejs_gc_duration_seconds')) continue;
    const v = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (line.includes('_sum{')) s.seconds += v;
    else if (line.includes('_count{')) { s.count += v; s.over10ms += v; }
    else if (line.includes('le="0.01"')) s.over10ms -= v;
  }
  return s;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer().once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as net.AddressInfo;
      s.close(() => resolve(port));
    });
  });
}
