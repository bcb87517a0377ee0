/**
 * Runs the real collector (dist/src/main.js) as a child process against a real broker,
 * the way PM2 would run one instance, and tells when it is listening.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MAIN = fileURLToPath(new URL('../../src/main.js', import.meta.url));

export interface RunningCollector {
  url: string;
  port: number;
  bufferDir: string;
  proc: ChildProcess;
  /** stdout and stderr, interleaved as they came */
  logs: string[];
  /** stderr alone: the collector logs to stdout, so anything here is noise or a crash */
  stderr: string[];
  /** SIGTERM; throws (after a SIGKILL) if the process has not exited within timeoutMs. */
  stop(timeoutMs?: number): Promise<number | null>;
  kill(): Promise<void>;
}

/** The collector's own drain bound is 20 s (lifecycle/shutdown.ts); this leaves room for a loaded box. */
const STOP_TIMEOUT_MS = 45_000;

/** The last lines of a collector's output. */
export function logTail(logs: string[], lines = 40): string {
  return logs.join('').split('\n').slice(-lines).join('\n');
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

export async function startCollector(env: Record<string, string>, timeoutMs = 60_000): Promise<RunningCollector> {
  const port = env.PORT ? Number(env.PORT) : await freePort();
  const bufferDir = env.BUFFER_DIR ?? mkdtempSync(join(os.tmpdir(), 'collector-buffer-'));
  const proc = spawn(process.execPath, [MAIN], {
    env: {
      ...process.env,
      HOST: '127.0.0.1',
      PORT: String(port),
      LOG_LEVEL: 'info',
      // A small dedup table per collector, inside its buffer dir, so tests leave nothing in /dev/shm.
      DEDUP_PATH: join(bufferDir, 'dedup.table'),
      DEDUP_CAPACITY: '65536',
      // Tests send event_data of every shape: payload schemas only where a test asks for them.
      SCHEMA_DIR: 'off',
      // A loaded CI box can take longer than the default 2 s to get an acknowledgement; that would open the circuit
      // and answer from the spill log in tests that are not about outages. Outage tests set their own value.
      SPILL_AFTER_MS: '30000',
      // gRPC off unless a test asks for it: GRPC_PORT's default (50051) is shared through SO_REUSEPORT, so
      // collectors of parallel tests (and worktrees) would silently serve each other's calls.
      GRPC_PORT: '0',
      ...env,
      BUFFER_DIR: bufferDir,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: string[] = [];
  const stderr: string[] = [];
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
  // A collector that dies of a crash signal on the way out (SIGSEGV, SIGABRT, SIGBUS) fails whichever test
  // stopped it: a shutdown that crashes now and then is found by the whole suite, not by one test.
  const crashed = () => (proc.signalCode && proc.signalCode !== 'SIGTERM' && proc.signalCode !== 'SIGKILL' ? proc.signalCode : null);
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`collector not listening after ${timeoutMs} ms:\n${logs.join('')}`)), timeoutMs);
    const onLine = (chunk: Buffer) => {
      const text = chunk.toString();
      logs.push(text);
      if (text.includes('collector listening')) {
        clearTimeout(timer);
        resolve();
      }
    };
    proc.stdout!.on('data', onLine);
    proc.stderr!.on('data', (c: Buffer) => {
      logs.push(c.toString());
      stderr.push(c.toString());
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`collector exited with ${code} before listening:\n${logs.join('')}`));
    });
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    bufferDir,
    proc,
    logs,
    stderr,
    async stop(timeoutMs = STOP_TIMEOUT_MS) {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      // The collector bounds its own drain (SHUTDOWN_GRACE_MS, then exit 1): a process still here well after
      // that is a defect to report with its log, not a reason for the test to hang until tap's file timeout.
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((r) => (timer = setTimeout(() => r('late'), timeoutMs)));
      const code = await Promise.race([exited, late]);
      clearTimeout(timer);
      if (code !== 'late') {
        const signal = crashed();
        if (signal) throw new Error(`collector pid ${proc.pid} died of ${signal} while stopping; its log ends:\n${logTail(logs)}`);
        return code;
      }
      proc.kill('SIGKILL');
      await exited;
      throw new Error(`collector pid ${proc.pid} still running ${timeoutMs} ms after SIGTERM (SIGKILLed); its log ends:\n${logTail(logs)}`);
    },
    async kill() {
      if (proc.exitCode === null) proc.kill('SIGKILL');
      await exited;
    },
  };
}

/** Waits until the collector says its Kafka producer is connected (health 200). */
export async function waitHealthy(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const r = await fetch(`${url}/api/v1/health`, { signal: AbortSignal.timeout(5_000) });
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('collector never became healthy');
    await new Promise((r) => setTimeout(r, 200));
  }
}
