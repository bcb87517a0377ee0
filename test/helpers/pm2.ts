/**
 * The collector cluster exactly as users run it: ecosystem.config.js under PM2 (fork mode, the processes
 * on one port), with a private PM2_HOME so a test never touches a user's PM2 daemon, and its own ports.
 */
import type { Test } from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { freePort, waitHealthy } from './collector.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../../../', import.meta.url));
const pm2Bin = join(dirname(createRequire(import.meta.url).resolve('pm2/package.json')), 'bin', 'pm2');

export interface Pm2Process {
  pid: number;
  pm2_env: { status: string; restart_time: number; NODE_APP_INSTANCE?: number };
}

export interface Pm2Cluster {
  url: string;
  /** the private PM2_HOME, which also holds BUFFER_DIR (`<home>/buffer`) and the dedup table */
  home: string;
  bufferDir: string;
  /** runs `pm2 <args>` against this cluster's daemon */
  pm(...args: string[]): Promise<{ stdout: string; stderr: string }>;
  /** the same, with `env` added to the cluster's environment (start it again with other settings) */
  pmWith(env: Record<string, string>, ...args: string[]): Promise<{ stdout: string; stderr: string }>;
  /** the processes PM2 lists as online, with a pid */
  online(): Promise<Pm2Process[]>;
}

/**
 * Starts the cluster on a fresh port against `bootstrap` and waits until it answers health; `env` adds to or
 * overrides the defaults (a variable set to undefined is removed, e.g. COLLECTOR_INSTANCES for the default
 * cluster). PM2 is killed and the home removed when `t` ends.
 */
export async function startPm2Cluster(t: Test, bootstrap: string, topic: string, env: Record<string, string | undefined> = {}): Promise<Pm2Cluster> {
  const port = await freePort();
  const home = mkdtempSync(join(os.tmpdir(), 'pm2-home-'));
  const bufferDir = join(home, 'buffer');
  const full: Record<string, string | undefined> = {
    ...process.env, PM2_HOME: home, KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: topic, DLQ_TOPIC: `${topic}-dlq`,
    PORT: String(port), HOST: '127.0.0.1', BUFFER_DIR: bufferDir, RUN_DIR: join(home, 'run'), LOG_LEVEL: 'warn',
    DEDUP_PATH: join(home, 'dedup.table'), DEDUP_CAPACITY: '65536',
    // Test loads send event_data of their own shape, not the shipped example schemas'.
    SCHEMA_DIR: 'off',
    // Its own gRPC port: the default 50051 is shared through SO_REUSEPORT with anything else on the host.
    GRPC_PORT: String(await freePort()),
    ...env,
  };
  for (const [k, v] of Object.entries(full)) if (v === undefined) delete full[k];
  const pmWith = (more: Record<string, string>, ...args: string[]) =>
    run(process.execPath, [pm2Bin, ...args], { env: { ...full, ...more } as NodeJS.ProcessEnv, cwd: root, timeout: 120_000 });
  const pm = (...args: string[]) => pmWith({}, ...args);
  t.teardown(async () => {
    await pm('kill').catch(() => undefined);
    rmSync(home, { recursive: true, force: true });
  });
  await pm('start', 'ecosystem.config.js');
  const url = `http://127.0.0.1:${port}`;
  await waitHealthy(url);
  const online = async () => (JSON.parse((await pm('jlist')).stdout) as Pm2Process[]).filter((p) => p.pm2_env.status === 'online' && p.pid > 0);
  return { url, home, bufferDir, pm, pmWith, online };
}
