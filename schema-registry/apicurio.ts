/**
 * A real Confluent-compatible Schema Registry for the registry source's tests and the README
 * walk-through: Apicurio Registry from Maven Central (no Docker, no download but Maven's).
 *
 * io.apicurio:apicurio-registry-app:<version>:tar.gz:all is the published Quarkus app
 * (quarkus-run.jar + lib/); Maven unpacks it into schema-registry/.apicurio/<version>/ once
 * (gitignored). 3.x needs Java 21+: APICURIO_JAVA, else a JDK ≥ 21 under /usr/lib/jvm (the
 * machine's Temurin 25), else `java` on PATH when it is ≥ 21. Storage is Apicurio's default,
 * in memory: every start is an empty registry. The Confluent API is under /apis/ccompat/v7.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync, mkdirSync, openSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const APICURIO_VERSION = '3.3.3';
const MIN_JAVA = 21;

function repoRoot(): string {
  // dist/schema-registry/apicurio.js or schema-registry/apicurio.ts → the repository
  const here = fileURLToPath(new URL('.', import.meta.url));
  return here.includes('/dist/') ? join(here, '..', '..') : join(here, '..');
}

export function apicurioDir(version = APICURIO_VERSION): string {
  return join(repoRoot(), 'schema-registry', '.apicurio', version);
}

/** Unpacks the app from Maven Central (via mvn) unless it is there; returns its folder. */
export function ensureApicurio(version = APICURIO_VERSION): string {
  const dir = apicurioDir(version);
  if (existsSync(join(dir, 'quarkus-run.jar'))) return dir;
  // Unpacked beside and renamed into place: a fetch killed half way leaves no folder that looks complete.
  const staging = `${dir}.partial-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  const download = join(staging, '.download');
  mkdirSync(download, { recursive: true });
  // dependency:copy, then tar: dependency:unpack keeps "already unpacked" markers under
  // ${project.basedir} of the stub project (the working directory), so a second checkout on the
  // same machine was told the app was unpacked and got an empty folder.
  const file = `apicurio-registry-app-${version}-all.tar.gz`;
  const r = spawnSync(
    'mvn',
    ['-B', '-q', 'org.apache.maven.plugins:maven-dependency-plugin:3.8.1:copy',
      `-Dartifact=io.apicurio:apicurio-registry-app:${version}:tar.gz:all`, `-DoutputDirectory=${download}`, '-Dmdep.overWriteReleases=true'],
    { encoding: 'utf8', timeout: 15 * 60_000 },
  );
  const x = r.status === 0 ? spawnSync('tar', ['-xzf', join(download, file), '-C', staging], { encoding: 'utf8' }) : r;
  if (r.status !== 0 || x.status !== 0 || !existsSync(join(staging, 'quarkus-run.jar'))) {
    rmSync(staging, { recursive: true, force: true });
    throw new Error(`fetching Apicurio Registry ${version} with mvn failed (${r.status ?? r.signal}):\n${(r.stdout + r.stderr + (x === r ? '' : x.stderr)).slice(-4000)}`);
  }
  rmSync(download, { recursive: true, force: true });
  rmSync(dir, { recursive: true, force: true });
  renameSync(staging, dir);
  return dir;
}

function javaMajor(java: string): number {
  const r = spawnSync(java, ['-version'], { encoding: 'utf8' });
  const m = /version "(\d+)/.exec(r.stderr ?? '');
  return m ? Number(m[1]) : 0;
}

/** A java binary of version ≥ 21, or null with the reason. */
export function findJava(): { java: string } | { java: null; why: string } {
  const tried: string[] = [];
  const candidates = [
    ...(process.env.APICURIO_JAVA ? [process.env.APICURIO_JAVA] : []),
    ...(existsSync('/usr/lib/jvm') ? readdirSync('/usr/lib/jvm').sort().reverse().map((d) => join('/usr/lib/jvm', d, 'bin', 'java')) : []),
    'java',
  ];
  for (const java of candidates) {
    if (java !== 'java' && !existsSync(java)) continue;
    const major = javaMajor(java);
    tried.push(`${java}: ${major || 'not runnable'}`);
    if (major >= MIN_JAVA) return { java };
  }
  return { java: null, why: `Apicurio Registry ${APICURIO_VERSION} needs Java ${MIN_JAVA}+; found ${tried.join(', ') || 'none'}` };
}

export interface RunningRegistry {
  /** base URL of the Confluent-compatible API */
  url: string;
  version: string;
  java: string;
  child: ChildProcess;
  stop(): Promise<void>;
}

/**
 * Starts one registry on 127.0.0.1 (HTTP and management ports chosen by the OS, so runs in
 * parallel do not collide) and waits until it answers the Confluent API.
 */
export async function startApicurio(opts: { logFile?: string; port?: number; startTimeoutMs?: number } = {}): Promise<RunningRegistry> {
  const found = findJava();
  if (found.java === null) throw new Error(found.why);
  const dir = ensureApicurio();
  const out = opts.logFile ? openSync(opts.logFile, 'a') : 'ignore';
  const child = spawn(found.java, ['-Xmx384m', '-XX:+UseSerialGC', '-jar', join(dir, 'quarkus-run.jar')], {
    cwd: dir,
    env: {
      ...process.env,
      QUARKUS_HTTP_HOST: '127.0.0.1',
      QUARKUS_HTTP_PORT: String(opts.port ?? 0),
      QUARKUS_MANAGEMENT_HOST: '127.0.0.1',
      QUARKUS_MANAGEMENT_PORT: '0',
      // Plain text lines, so the chosen port can be read from stdout.
      QUARKUS_LOG_CONSOLE_JSON: 'false',
    },
    stdio: ['ignore', 'pipe', out],
  });
  let log = '';
  const listening = new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Apicurio did not start within ${opts.startTimeoutMs ?? 180_000} ms:\n${log.slice(-3000)}`)), opts.startTimeoutMs ?? 180_000);
    child.stdout!.on('data', (d: Buffer) => {
      log += d.toString();
      if (opts.logFile) writeFileSync(opts.logFile, d, { flag: 'a' });
      const m = /Listening on: http:\/\/127\.0\.0\.1:(\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    });
    child.on('exit', (code, sig) => {
      clearTimeout(timer);
      reject(new Error(`Apicurio exited (${sig ?? code}) before listening:\n${log.slice(-3000)}`));
    });
  });
  let port: number;
  try {
    port = await listening;
  } catch (err) {
    child.kill('SIGKILL');
    throw err;
  }
  child.stdout!.resume();
  const url = `http://127.0.0.1:${port}/apis/ccompat/v7`;
  // Listening comes a moment before the API answers.
  const deadline = Date.now() + 120_000;
  for (;;) {
    try {
      const r = await fetch(`${url}/subjects`);
      if (r.ok) break;
    } catch {
      /* not yet */
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`Apicurio at ${url} never answered GET /subjects`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  return {
    url,
    version: APICURIO_VERSION,
    java: found.java,
    child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 20_000).unref();
      }),
  };
}
