// A real single-node Apache Kafka 4.x (KRaft, broker+controller in one JVM) for tests, benches and dev.
// Why not Docker / a mock: no Docker here, and the collector's guarantees (acks, redelivery, broker death)
// are only worth testing against the real thing. Jars come from Maven Central via kafka/pom.xml.
import Kafka from 'node-rdkafka';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, unlink, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { newClusterId } from './cluster-id.js';
import { repoRoot } from './paths.js';

export interface BrokerOptions {
  dataDir?: string;
  port?: number;
  controllerPort?: number;
  heapMb?: number; // default 512: the machine is small and shared
  /** Own process group, output to a file, not tied to this process: the broker outlives it (CLI `up`). */
  detached?: boolean;
  /**
   * Listeners beside PLAINTEXT (which stays the inter-broker and admin listener), e.g. a SASL_SSL or an
   * mTLS one for the secured-Kafka tests, with their own server properties (listener.name.<name>.…).
   */
  listeners?: ExtraListener[];
}

export interface ExtraListener {
  /** upper case, e.g. SECURED */
  name: string;
  protocol: 'SSL' | 'SASL_SSL' | 'SASL_PLAINTEXT';
  port: number;
  /** server.properties lines for it */
  properties: string[];
}

/** What the CLI writes to its state file; enough to re-attach from another process. */
export interface BrokerState {
  bootstrap: string;
  pid: number;
  dataDir: string;
  port: number;
  controllerPort: number;
}

export interface TopicSpec {
  name: string;
  partitions: number;
  config?: Record<string, string>;
}

const READY_TIMEOUT_MS = 90_000;
const STOP_GRACE_MS = 15_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves kafka/pom.xml into kafka/.jars once; the marker holds the pom's hash so a pom edit re-resolves. */
export async function ensureJars(): Promise<string> {
  const root = repoRoot();
  const pom = join(root, 'kafka', 'pom.xml');
  const dir = join(root, 'kafka', '.jars');
  const marker = join(dir, '.resolved');
  const want = createHash('sha256').update(readFileSync(pom)).digest('hex');
  const done = () => existsSync(marker) && readFileSync(marker, 'utf8') === want;
  if (done()) return dir;
  await mkdir(dir, { recursive: true });
  const release = await lockFile(join(dir, '.lock'));
  try {
    if (done()) return dir; // a concurrent caller finished while we waited
    // Drop jars of an older pom so the classpath never mixes versions.
    for (const f of await readdir(dir)) if (f.endsWith('.jar')) await unlink(join(dir, f));
    await run('mvn', ['-B', '-q', '-f', pom, 'dependency:copy-dependencies', '-DincludeScope=runtime',
      `-DoutputDirectory=${dir}`], 15 * 60_000);
    await writeFile(marker, want);
    return dir;
  } finally {
    await release();
  }
}

/** O_EXCL lock file holding our pid; a lock whose holder died is taken over. */
async function lockFile(file: string): Promise<() => Promise<void>> {
  const deadline = Date.now() + 20 * 60_000;
  for (;;) {
    try {
      await writeFile(file, String(process.pid), { flag: 'wx' });
      return () => unlink(file).catch(() => {});
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
      const holder = Number(await readFile(file, 'utf8').catch(() => '')); // '' = being written: wait
      if (holder > 0 && !isAlive(holder)) { await unlink(file).catch(() => {}); continue; }
      if (Date.now() > deadline) throw new Error(`ensureJars: ${file} held by pid ${holder} for 20 min`);
      await sleep(500);
    }
  }
}

/** Runs a command without a shell; rejects with its output on failure. */
/** Runs one of Kafka's own command-line tools (its main class) from the resolved jars; resolves with its output. */
export async function runKafkaTool(mainClass: string, args: string[], timeoutMs = 120_000): Promise<string> {
  const jars = await ensureJars();
  const dir = await mkdtemp(join(os.tmpdir(), 'kafka-tool-'));
  return run('java', [...jvmArgs(jars, dir, 256), '-XX:TieredStopAtLevel=1', mainClass, ...args], timeoutMs);
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], timeout: timeoutMs });
    let out = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (out += d));
    child.on('error', reject);
    child.on('close', (code, sig) => code === 0 ? resolve(out)
      : reject(new Error(`${cmd} ${args.join(' ')} failed (${sig ?? code}):\n${out.slice(-4000)}`)));
  });
}

/**
 * kill(pid, 0) also succeeds for zombies, so an unreaped orphan (containers whose pid 1 does not reap)
 * counts as dead. But a JVM's main thread shows 'Z' while its other threads are still exiting and its
 * sockets are still open, so a zombie is dead only once it has no other task left.
 */
function isAlive(pid: number): boolean {
  try { process.kill(pid, 0); } catch (e) { return (e as NodeJS.ErrnoException).code === 'EPERM'; }
  try {
    if (!/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'))) return true;
    return readdirSync(`/proc/${pid}/task`).length > 1;
  } catch { return true; }
}

async function waitDead(pid: number, ms: number): Promise<boolean> {
  for (const end = Date.now() + ms; Date.now() < end; await sleep(100)) if (!isAlive(pid)) return true;
  return !isAlive(pid);
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port, timeout: 1000 });
    const done = (ok: boolean) => { s.destroy(); resolve(ok); };
    s.once('connect', () => done(true)).once('error', () => done(false)).once('timeout', () => done(false));
  });
}

async function freePort(avoid: number[]): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = net.createServer().once('error', reject);
      srv.listen(0, '127.0.0.1', () => {
        const p = (srv.address() as net.AddressInfo).port;
        srv.close(() => resolve(p));
      });
    });
    if (!avoid.includes(port)) return port;
  }
}

function jvmArgs(jars: string, dataDir: string, heapMb: number): string[] {
  return [
    `-Xmx${heapMb}m`, `-Xms${Math.min(heapMb, 128)}m`, // grow on demand: the box is shared
    // kafka-run-class.sh's G1 flags, with GC threads capped for a 2-core machine.
    '-XX:+UseG1GC', '-XX:MaxGCPauseMillis=20', '-XX:InitiatingHeapOccupancyPercent=35',
    '-XX:+ExplicitGCInvokesConcurrent', '-XX:ParallelGCThreads=2', '-XX:ConcGCThreads=1',
    '-Djava.awt.headless=true',
    `-Dlog4j2.configurationFile=${join(repoRoot(), 'kafka', 'log4j2.properties')}`,
    `-Dkafka.logs.dir=${dataDir}`, // log4j2.properties writes ${kafka.logs.dir}/server.log
    '-cp', join(jars, '*'), // java expands the wildcard itself: no shell involved
  ];
}

/** Literal values only: Kafka does no ${} substitution. Paths are written raw (no '\' on Linux). */
function serverProperties(dataDir: string, port: number, cport: number, extra: ExtraListener[] = []): string {
  const more = (f: (l: ExtraListener) => string) => extra.map((l) => `,${f(l)}`).join('');
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `controller.quorum.voters=1@127.0.0.1:${cport}`, // static voters: format without --standalone
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${cport}${more((l) => `${l.name}://127.0.0.1:${l.port}`)}`,
    // 127.0.0.1, not localhost (may be ::1 first)
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}${more((l) => `${l.name}://127.0.0.1:${l.port}`)}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    `listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT${more((l) => `${l.name}:${l.protocol}`)}`,
    ...extra.flatMap((l) => l.properties),
    `log.dirs=${join(dataDir, 'logs')}`,
    // Internal topics default to RF 3, which one broker can never satisfy; few partitions = fast start.
    'offsets.topic.replication.factor=1',
    'offsets.topic.num.partitions=3',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'transaction.state.log.num.partitions=3',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'share.coordinator.state.topic.num.partitions=3',
    'default.replication.factor=1',
    'min.insync.replicas=1',
    'num.partitions=3',
    'auto.create.topics.enable=false', // a typo'd topic must fail loudly, not appear silently
    'group.initial.rebalance.delay.ms=0', // default 3 s per first join would slow every consumer test
    // After a SIGKILL the restarted broker is refused (DUPLICATE_BROKER_REGISTRATION) until the dead
    // incarnation's session expires: 9 s by default. 4 s still tolerates long GC/CPU stalls.
    'broker.heartbeat.interval.ms=1000',
    'broker.session.timeout.ms=4000',
    'log.cleaner.dedupe.buffer.size=2097152', // default 128 MiB of heap; Kafka's test kit uses 2 MiB
    // message.max.bytes: deliberately the default, so tests see production limits.
    '',
  ].join('\n');
}

// Attached brokers die with this process: 'exit' covers normal exits, the watchdog covers signals.
const attached = new Set<LocalBroker>();
let exitHookInstalled = false;
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('exit', () => { for (const b of attached) try { process.kill(b.pid, 'SIGKILL'); } catch { /* gone */ } });
}
// The watchdog notices its parent's death by being reparented (instant; a dead parent can stay a
// zombie for a while, so kill(ppid, 0) is no signal), then SIGKILLs the broker.
const WATCHDOG = `const [parent, java] = process.argv.slice(1).map(Number);
setInterval(() => {
  if (process.ppid !== parent) { try { process.kill(java, 'SIGKILL'); } catch {} process.exit(0); }
  try { process.kill(java, 0); } catch { process.exit(0); }
}, 500);`;

export class LocalBroker {
  readonly bootstrap: string;
  private _pid = 0;
  private exitCode: number | string | null = null;

  private constructor(
    readonly dataDir: string,
    readonly port: number,
    readonly controllerPort: number,
    private readonly heapMb: number,
    private readonly detached: boolean,
  ) {
    this.bootstrap = `127.0.0.1:${port}`;
  }

  get pid(): number { return this._pid; }
  private get propsFile(): string { return join(this.dataDir, 'server.properties'); }

  /** Formats (first time only) and starts a broker, resolving once its PLAINTEXT port accepts connections. */
  static async start(opts: BrokerOptions = {}): Promise<LocalBroker> {
    const jars = await ensureJars();
    const dataDir = opts.dataDir ?? (await mkdtemp(join(os.tmpdir(), 'kafka-broker-')));
    await mkdir(dataDir, { recursive: true });
    const port = opts.port ?? (await freePort([opts.controllerPort ?? 0]));
    const cport = opts.controllerPort ?? (await freePort([port]));
    const b = new LocalBroker(dataDir, port, cport, opts.heapMb ?? 512, opts.detached ?? false);
    await writeFile(b.propsFile, serverProperties(dataDir, port, cport, opts.listeners));
    if (!existsSync(join(dataDir, 'logs', 'meta.properties'))) {
      const clusterId = newClusterId();
      await run('java', [...jvmArgs(jars, dataDir, 256), '-XX:TieredStopAtLevel=1', // short-lived: skip C2
        'kafka.tools.StorageTool', 'format', `--cluster-id=${clusterId}`, '-c', b.propsFile], 120_000);
    }
    await b.launch(jars);
    return b;
  }

  /** Re-attach to a broker started (detached) by another process, e.g. from the CLI's state file. */
  static attach(state: BrokerState, heapMb = 512): LocalBroker {
    const b = new LocalBroker(state.dataDir, state.port, state.controllerPort, heapMb, true);
    b._pid = state.pid;
    return b;
  }

  state(): BrokerState {
    return { bootstrap: this.bootstrap, pid: this.pid, dataDir: this.dataDir, port: this.port,
      controllerPort: this.controllerPort };
  }

  /** Alive and still our java (guards against pid reuse after a reboot or a stale state file). */
  isRunning(): boolean {
    if (!this._pid || !isAlive(this._pid)) return false;
    try {
      const cmd = readFileSync(`/proc/${this._pid}/cmdline`, 'utf8');
      return cmd.includes('kafka.Kafka') && cmd.includes(this.propsFile);
    } catch { return true; } // no /proc (macOS): trust kill(pid, 0)
  }

  /** Creates missing topics (existing ones are fine) and waits until every partition has a leader. */
  async createTopics(topics: TopicSpec[]): Promise<void> {
    const admin = Kafka.AdminClient.create({ 'metadata.broker.list': this.bootstrap, 'client.id': 'local-broker-admin' });
    try {
      for (const t of topics) {
        await new Promise<void>((resolve, reject) => {
          admin.createTopic({ topic: t.name, num_partitions: t.partitions, replication_factor: 1, config: t.config ?? {} },
            30_000, (err) => {
              // Admin errors keep their codes (36 here); the text match is a fallback for binding changes.
              if (!err || err.code === Kafka.CODES.ERRORS.ERR_TOPIC_ALREADY_EXISTS || /already exists/i.test(err.message)) resolve();
              else reject(new Error(`createTopic ${t.name}: ${err.message} (code ${err.code})`));
            });
        });
      }
    } finally {
      admin.disconnect();
    }
    await this.waitForLeaders(topics);
  }

  /** createTopic returns once the controller accepted it; producers need a leader per partition first,
   *  and a kill() needs the partition's topic-id file on disk. */
  private async waitForLeaders(topics: TopicSpec[]): Promise<void> {
    // The AdminClient binding has no metadata call, so ask through a throwaway producer.
    const p = new Kafka.Producer({ 'metadata.broker.list': this.bootstrap, 'client.id': 'local-broker-meta' });
    await new Promise<void>((resolve, reject) => p.connect({ timeout: 10_000 }, (err) => (err ? reject(err) : resolve())));
    try {
      for (const t of topics) {
        let seen = 'no metadata';
        for (const end = Date.now() + 30_000; ; await sleep(100)) {
          const md = await new Promise<Kafka.Metadata>((resolve, reject) =>
            p.getMetadata({ topic: t.name, timeout: 5_000 }, (err, data) => (err ? reject(err) : resolve(data))));
          const parts = md.topics.find((x) => x.name === t.name)?.partitions ?? [];
          if (parts.length === t.partitions && parts.every((x) => x.leader >= 0)) break;
          seen = `${parts.length} partitions, leaders ${parts.map((x) => x.leader).join(',')}`;
          if (Date.now() > end) throw new Error(`topic ${t.name}: want ${t.partitions} partitions with leaders, saw ${seen}`);
        }
        // A partition dir without its partition.metadata (topic id) is renamed "-stray" on the next start,
        // i.e. its data is dropped. Kafka writes that file a moment after the leader appears, so a
        // kill() right after createTopics would lose the topic. Wait for the files (same host: we can look).
        for (let i = 0; i < t.partitions; i++) {
          const file = join(this.dataDir, 'logs', `${t.name}-${i}`, 'partition.metadata');
          for (const end = Date.now() + 30_000; !(await readFile(file, 'utf8').catch(() => '')).includes('topic_id');) {
            if (Date.now() > end) throw new Error(`topic ${t.name}: ${file} not written after 30 s`);
            await sleep(50);
          }
        }
      }
    } finally {
      await new Promise((r) => p.disconnect(5_000, r));
    }
  }

  /** SIGTERM (clean shutdown), SIGKILL after a grace period; resolves once the process is gone. */
  async stop(graceMs = STOP_GRACE_MS): Promise<void> {
    if (!this.isRunning()) return;
    try { process.kill(this._pid, 'SIGTERM'); } catch { /* exited meanwhile */ }
    if (await waitDead(this._pid, graceMs)) return void attached.delete(this);
    await this.kill();
  }

  /** SIGKILL now (fault tests: no clean shutdown, logs need recovery on restart). */
  async kill(): Promise<void> {
    if (this.isRunning()) try { process.kill(this._pid, 'SIGKILL'); } catch { /* exited meanwhile */ }
    if (!(await waitDead(this._pid, 10_000))) throw new Error(`broker pid ${this._pid} survived SIGKILL`);
    attached.delete(this);
  }

  /** Same ports, same data dir, no reformat. */
  async restart(): Promise<void> {
    await this.stop();
    await this.launch(await ensureJars());
  }

  /** stop() and delete the data dir. */
  async destroy(): Promise<void> {
    await this.stop();
    await rm(this.dataDir, { recursive: true, force: true });
  }

  private async launch(jars: string): Promise<void> {
    // Readiness is "the port accepts connections": anything still listening there (the previous JVM
    // still exiting, a stranger on a reused port) would make a dead broker look ready.
    for (const end = Date.now() + 10_000; await canConnect(this.port); await sleep(200)) {
      if (Date.now() > end) throw new Error(`port ${this.port} is still in use by another process`);
    }
    // Output goes to a file in both modes: a pipe nobody drains would block the JVM, and a
    // detached broker must not hold the parent's stdio open (tap waits for EOF on it).
    const out = openSync(join(this.dataDir, 'stdout.log'), 'a');
    const child = spawn('java', [...jvmArgs(jars, this.dataDir, this.heapMb), 'kafka.Kafka', this.propsFile],
      { detached: this.detached, stdio: ['ignore', out, out] });
    closeSync(out);
    this.exitCode = null;
    child.once('exit', (code, sig) => (this.exitCode = sig ?? code));
    if (child.pid === undefined) {
      throw await new Promise<Error>((r) => child.once('error', (e) => r(new Error(`cannot spawn java: ${e.message}`))));
    }
    this._pid = child.pid;
    if (this.detached) {
      child.unref();
    } else {
      attached.add(this);
      installExitHook();
      spawn(process.execPath, ['-e', WATCHDOG, String(process.pid), String(child.pid)],
        { detached: true, stdio: 'ignore' }).unref();
    }
    await this.waitReady();
  }

  /** The broker binds its PLAINTEXT port only once fully started, so a TCP connect is the ready signal. */
  private async waitReady(): Promise<void> {
    for (const end = Date.now() + READY_TIMEOUT_MS; Date.now() < end; await sleep(200)) {
      if (!isAlive(this._pid)) {
        throw new Error(`Kafka (pid ${this._pid}) exited (${this.exitCode ?? '?'}) before ready; ` +
          `data dir ${this.dataDir}\n${await this.logTail()}`);
      }
      if (await canConnect(this.port)) return;
    }
    const tail = await this.logTail();
    await this.kill();
    throw new Error(`Kafka not ready on ${this.bootstrap} after ${READY_TIMEOUT_MS / 1000}s; killed\n${tail}`);
  }

  /** Last lines of the broker's log4j file and its raw stdout/stderr (JVM errors land there). */
  async logTail(lines = 30): Promise<string> {
    const parts: string[] = [];
    for (const f of ['server.log', 'stdout.log']) {
      const text = await readFile(join(this.dataDir, f), 'utf8').catch(() => '');
      if (text) parts.push(`--- ${f}\n${text.trimEnd().split('\n').slice(-lines).join('\n')}`);
    }
    return parts.join('\n') || '(no log output)';
  }
}

/** Starts a detached broker, creates the topics, writes its state file; destroys it again on failure (CLI `up`). */
export async function startDetached(stateFile: string, topics: TopicSpec[], opts: BrokerOptions = {}): Promise<BrokerState> {
  const broker = await LocalBroker.start({ ...opts, detached: true });
  try {
    if (topics.length) await broker.createTopics(topics);
    await mkdir(dirname(resolve(stateFile)), { recursive: true });
    await writeFile(stateFile, JSON.stringify(broker.state(), null, 2) + '\n');
    return broker.state();
  } catch (e) {
    await broker.destroy();
    throw e;
  }
}

/** Stops the broker of a state file if it still runs, removes its data dir and the state file (CLI `down`). */
export async function stopDetached(stateFile: string): Promise<void> {
  const state = JSON.parse(await readFile(stateFile, 'utf8')) as BrokerState;
  await LocalBroker.attach(state).destroy();
  await rm(stateFile, { force: true });
}
