/**
 * A real redis-server (the Debian package) for the shared-store tests: its own port, no persistence
 * (a SIGKILL loses what it held, as a store without AOF would), killed when the test ends.
 */
import type { Test } from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import { freePort } from './collector.js';
import { waitFor } from './wait.js';
import net from 'node:net';

export interface RunningRedis {
  url: string;
  port: number;
  /** SIGKILL the server (what it held is gone) */
  kill(): Promise<void>;
  /** start it again on the same port */
  restart(): Promise<void>;
}

function listening(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(port, '127.0.0.1');
    s.once('connect', () => { s.destroy(); resolve(true); });
    s.once('error', () => resolve(false));
  });
}

export async function startRedis(t: Test, args: string[] = []): Promise<RunningRedis> {
  const port = await freePort();
  let proc: ChildProcess | null = null;
  const start = async () => {
    const p = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', ...args], { stdio: 'ignore' });
    proc = p;
    await waitFor(() => listening(port), (up) => up, 10_000);
  };
  const kill = async () => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise((r) => p.once('exit', r));
    p.kill('SIGKILL');
    await gone;
  };
  t.teardown(kill);
  await start();
  return { url: `redis://127.0.0.1:${port}`, port, kill, restart: start };
}
