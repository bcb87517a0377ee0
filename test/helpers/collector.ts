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
  logs: string[];
  stop(): Promise<number | null>;
  kill(): Promise<void>;
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
  const exited = new Promise<number | null>((resolve) => proc.once('exit', (code) => resolve(code)));
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
    proc.stderr!.on('data', (c: Buffer) => logs.push(c.toString()));
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
    async stop() {
      if (proc.exitCode !== null) return proc.exitCode;
      proc.kill('SIGTERM');
      return exited;
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
      const r = await fetch(`${url}/api/v1/health`);
      if (r.status === 200) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error('collector never became healthy');
    await new Promise((r) => setTimeout(r, 200));
  }
}
