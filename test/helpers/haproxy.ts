/**
 * HAProxy (the Debian package) running the shipped deploy/haproxy/haproxy.cfg as it is: the test
 * only fills in the addresses the file reads from the environment.
 */
import type { Test } from 'tap';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from './collector.js';
import { waitFor } from './wait.js';

export const HAPROXY_CONFIG = fileURLToPath(new URL('../../../deploy/haproxy/haproxy.cfg', import.meta.url));

/** Starts HAProxy in front of `backends` (host:port, exactly 3) and waits until it answers. */
export async function startHaproxy(t: Test, backends: readonly string[]): Promise<{ url: string; logs: string[] }> {
  if (backends.length !== 3) throw new Error('deploy/haproxy/haproxy.cfg names 3 collector hosts');
  const port = await freePort();
  const logs: string[] = [];
  const proc = spawn('haproxy', ['-db', '-f', HAPROXY_CONFIG], {
    env: { ...process.env, LISTEN_ADDR: `127.0.0.1:${port}`, COLLECTOR_1: backends[0], COLLECTOR_2: backends[1], COLLECTOR_3: backends[2] },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  proc.stdout.on('data', (c: Buffer) => logs.push(c.toString()));
  proc.stderr.on('data', (c: Buffer) => logs.push(c.toString()));
  t.teardown(() => {
    if (proc.exitCode === null) proc.kill('SIGKILL');
    // What HAProxy said (servers marked down and up, and why) when the test failed.
    if (!t.passing()) t.comment(`haproxy:\n${logs.join('')}`);
  });
  const url = `http://127.0.0.1:${port}`;
  await waitFor(() => fetch(`${url}/readyz`).then((r) => r.status, () => 0), (s) => s === 200, 30_000, 100);
  return { url, logs };
}
