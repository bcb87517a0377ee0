/**
 * `npm run bench`: issue #8's end-to-end benchmark. One run measures, on the same
 * machine and broker, (1) the raw producer limit for the collector's own records, producer
 * and settings (and, for reference, node-rdkafka one record per call), then (2) the collector under PM2 through every scenario, and
 * reports each scenario as a ratio to (1) plus CPU, RSS and GC per process. (1) is
 * measured again at the end; the better pass is the limit, and their gap shows the noise.
 *
 * Env: BENCH_DURATION_S (10), BENCH_QUICK=1 (smoke: ~1.5 s each, tiny load),
 * BENCH_RESULTS_DIR (bench/results), BENCH_ONLY (comma-separated scenario names), COLLECTOR_INSTANCES (2), WORKER_THREADS (1),
 * KAFKA_BOOTSTRAP_SERVERS (set = use that cluster and its existing topics; unset = local
 * broker), BENCH_BROKER_PID (CPU/RSS of an external broker on this host), and any
 * collector variable (src/config/schema.ts): it reaches the collectors and the raw producer alike.
 * BENCH_AUTH=1: a second collector cluster with AUTH_MODE=api_key and a per-tenant quota (high enough never to
 * throttle: the cost of the checks is measured, not the throttling) runs `max-100-auth` right after each `max-100`,
 * BENCH_AUTH_ROUNDS (1) pairs, back to back in the same run.
 * BENCH_REDIS=1: a redis-server (Debian package, on PATH) and two more collector clusters, identical but for
 * REDIS_URL: both with a tenant quota far above the load and the same payload schemas; `-quota` judges with the
 * host's tables alone, `-redis` makes every batch's dedup and quota calls to the store. After each of `max-100`,
 * `single-event` and `steady-2k` they run as BENCH_REDIS_ROUNDS (1) pairs back to back: the price of the shared
 * store, same run, same broker. After each paced `-redis` scenario the same claim calls are sent from the bench's
 * own process at the same pace with the collectors idle: the floor, one bare round trip on this box.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import os from 'node:os';
import { LocalBroker } from '../kafka/broker.js';
import { repoRoot } from '../kafka/paths.js';
import { describeConfig, loadConfig } from '../src/config/load.js';
import { Cluster, freePort } from './lib/cluster.js';
import { runGrpcLoad } from './grpc-load.js';
import { childrenOf, round, Sampler, type Proc } from './lib/proc.js';
import { derive, gitSha, issueGoals, machine, printGoals, printTables, type RawRow, type ScenarioReport } from './lib/report.js';
import { rawLimit, type RawClient } from './raw-producer.js';
import { Bodies, codecScenarios, runLoad, scenarios, stopLoad, type Scenario } from './scenarios.js';
import { digestOf, newKey, newKeyId } from '../src/auth/secret.js';
import { writeKeysFile } from '../src/auth/keys-file.js';
import { BenchSchemas } from './lib/schemas.js';
import { kcatLimit, kcatVersion } from './kcat.js';
import { rssMb, rssParts } from './lib/proc.js';
import { describeStoreCalls, describeStoreCost, rawClaimRoundTrips, scrapeStoreCalls, storeCallQuantiles, storeCost } from './lib/store-latency.js';

const quick = process.env.BENCH_QUICK === '1';
const durationS = Number(process.env.BENCH_DURATION_S ?? (quick ? 1.5 : 10));
const instances = Number(process.env.COLLECTOR_INSTANCES ?? 2);
const root = repoRoot();
const t0 = Date.now();
const stamp = new Date(t0).toISOString().replace(/:/g, '-').replace(/\.\d+Z$/, 'Z'); // no ':' in file names
const resultsDir = process.env.BENCH_RESULTS_DIR || join(root, 'bench', 'results');
const log = (msg: string) => console.log(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`);

// Cleanup runs once, in reverse order of setup, on success, error and signals alike.
const cleanups: (() => Promise<void>)[] = [];
let cleaning: Promise<void> | undefined;
function cleanup(): Promise<void> {
  cleaning ??= (async () => {
    stopLoad();
    for (const fn of cleanups.reverse()) await fn().catch((e: unknown) => console.error(`cleanup: ${(e as Error).message}`));
  })();
  return cleaning;
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    if (cleaning) process.exit(130); // second Ctrl-C: exit hooks SIGKILL the collectors and the broker
    log(`${sig}: stopping the load, the collectors and the broker…`);
    void cleanup().then(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  const loadAtStart = loadAvg();
  if (!(durationS > 0)) throw new Error(`BENCH_DURATION_S=${process.env.BENCH_DURATION_S}: want seconds > 0`);
  loadConfig(); // a bad collector variable fails here, before a broker is started for nothing
  const localBroker = !process.env.KAFKA_BOOTSTRAP_SERVERS;
  let brokerPid = Number(process.env.BENCH_BROKER_PID ?? 0);
  let ownBroker: LocalBroker | undefined;
  if (localBroker) {
    log('starting a local Kafka broker (512 MB heap)…');
    const broker = await LocalBroker.start({ heapMb: 512 });
    ownBroker = broker;
    cleanups.push(() => broker.destroy());
    await broker.createTopics([
      { name: process.env.KAFKA_TOPIC || 'events', partitions: 3 },
      { name: process.env.DLQ_TOPIC || 'events-dlq', partitions: 1 },
    ]);
    process.env.KAFKA_BOOTSTRAP_SERVERS = broker.bootstrap;
    brokerPid = broker.pid;
    log(`broker ${broker.bootstrap} pid ${broker.pid}`);
  } else {
    log(`using KAFKA_BOOTSTRAP_SERVERS=${process.env.KAFKA_BOOTSTRAP_SERVERS}${brokerPid ? ` (broker pid ${brokerPid})` : ''}`);
  }
  const config = loadConfig(); // the collectors read this same environment: same producer settings
  const brokerProcs: Proc[] = brokerPid ? [{ role: 'broker', pid: brokerPid }] : [];
  const self: Proc = { role: 'loadgen', pid: process.pid };

  // 1. Raw producer limit, before the collectors compete for the cores. The first (discarded)
  //    pass warms the broker's JIT, otherwise the limit is understated and every ratio flattered.
  //    One producer process per collector instance: the same number of librdkafka producers.
  const rawS = quick ? 1 : Math.max(3, Math.min(10, durationS));
  if (!quick) { // a smoke test has no use for a warm broker, and it must stay fast
    log('raw-producer warm-up: 3 s');
    await rawLimit(instances, 3, []);
  }
  const raw = await measureRaw('raw-producer', rawS, brokerProcs);
  // The same records through kcat -P -K (librdkafka's own CLI producer), sized to last about as
  // long as the C producer's pass: the limit is the faster of the two, so a slow producer of ours
  // cannot lower the bar. Absent kcat, the row says so and the limit is the C producer's alone.
  const kcat = kcatVersion();
  const kcatRecords = Math.round(quick ? 20_000 : (raw.eventsPerS / instances) * Math.min(rawS, 6));
  const rawKcat = kcat ? await measureKcat('raw kcat -P -K', config, kcatRecords, brokerProcs) : undefined;
  if (!kcat) log('kcat not installed (Debian package kcat): no kcat row; the raw limit is the C producer\'s alone');
  // For reference (not the limit): one node-rdkafka produce() and one report event per record, as the
  // collector produced before its batch producer; ratios of earlier reports divide by this.
  const rawNode = quick ? undefined : await measureRaw('raw node-rdkafka (per record)', rawS, brokerProcs, 'node-rdkafka');

  // 2. The collector under PM2.
  log(`starting ${instances} collector instance(s) under pm2-runtime…`);
  const grpcPort = await freePort();
  // Payload schemas from a folder the bench owns: the shipped examples (on), unless a scenario turns them off.
  const schemaSwitch = new BenchSchemas(join(resultsDir, 'tmp', `${stamp}-schemas`), join(root, 'schemas'));
  const cluster = await Cluster.start({ KAFKA_BOOTSTRAP_SERVERS: config.KAFKA_BOOTSTRAP_SERVERS, SCHEMA_DIR: schemaSwitch.dir, SCHEMA_RELOAD_MS: '500', GRPC_PORT: String(grpcPort) }, instances, root,
    join(resultsDir, 'tmp', `${stamp}-collector.log`)); // bench/results/tmp/ is git-ignored
  cleanups.push(() => cluster.stop());
  log(`collectors healthy at ${cluster.url}: ${cluster.collectors.map((c) => `${c.role}=${c.pid}`).join(' ')} (logs ${cluster.logFile})`);
  await schemaSwitch.set(true, cluster.url);

  const warm = quick ? 1 : 3;
  log(`warm-up: ${warm} s of 100-event batches`);
  await runLoad(cluster.url, { name: 'warm-up', what: '', batch: 100, connections: 8 }, warm);

  // BENCH_AUTH=1: the same collector with API keys and a tenant quota on, as a second cluster on its own port.
  let authCluster: Cluster | undefined;
  let authHeaders: Record<string, string> = {};
  if (process.env.BENCH_AUTH === '1') {
    const dir = mkdtempSync(join(os.tmpdir(), 'bench-auth-'));
    const keysFile = join(dir, 'api-keys.json');
    const id = newKeyId();
    const key = newKey(id);
    writeKeysFile(keysFile, {
      version: 1,
      keys: [{ id, tenants: ['tenant_alpha'], sha256: digestOf(key).toString('hex'), created_at: new Date().toISOString() }],
      // The synthetic events' tenant, with a quota far above what this box can do: every batch takes from the shared buckets.
      quotas: { tenant_alpha: { events_per_second: 10_000_000, bytes_per_second: 10_000_000_000 } },
    });
    authHeaders = { authorization: `Bearer ${key}` };
    log(`starting ${instances} collector instance(s) with AUTH_MODE=api_key and a tenant quota…`);
    const c = await Cluster.start({ KAFKA_BOOTSTRAP_SERVERS: config.KAFKA_BOOTSTRAP_SERVERS, AUTH_MODE: 'api_key', API_KEYS_FILE: keysFile, QUOTA_PATH: join(dir, 'quota.table') },
      instances, root, join(resultsDir, 'tmp', `${stamp}-collector-auth.log`));
    authCluster = c;
    cleanups.push(() => c.stop());
    await runLoad(c.url, { name: 'warm-up', what: '', batch: 100, connections: 8, headers: authHeaders }, warm);
  }
  // BENCH_REDIS=1: two clusters that differ only by REDIS_URL, so a pair measures the store and nothing else.
  let redisCluster: Cluster | undefined;
  let quotaCluster: Cluster | undefined;
  let redisUrl = '';
  if (process.env.BENCH_REDIS === '1') {
    const dir = mkdtempSync(join(os.tmpdir(), 'bench-redis-'));
    const port = await freePort();
    const server = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    cleanups.push(async () => { server.kill('SIGKILL'); });
    const quotaFile = join(dir, 'quotas.json');
    writeFileSync(quotaFile, JSON.stringify({ quotas: { tenant_alpha: { events_per_second: 10_000_000, bytes_per_second: 10_000_000_000 } } }));
    redisUrl = `redis://127.0.0.1:${port}`;
    const twin = (name: string, env: Record<string, string>) => {
      log(`starting ${instances} collector instance(s) with a tenant quota${env.REDIS_URL ? ` and REDIS_URL (redis-server on ${port})` : ', host tables only'}…`);
      return Cluster.start({ KAFKA_BOOTSTRAP_SERVERS: config.KAFKA_BOOTSTRAP_SERVERS, SCHEMA_DIR: schemaSwitch.dir, SCHEMA_RELOAD_MS: '500', TENANT_QUOTAS_FILE: quotaFile,
        QUOTA_PATH: join(dir, `${name}-quota.table`), HOST_NAMESPACE: `bench-${name}`, ...env }, instances, root, join(resultsDir, 'tmp', `${stamp}-collector-${name}.log`));
    };
    for (const [name, env] of [['quota', {}], ['redis', { REDIS_URL: redisUrl }]] as const) {
      const c = await twin(name, env);
      if (name === 'redis') redisCluster = c;
      else quotaCluster = c;
      cleanups.push(() => c.stop());
      await runLoad(c.url, { name: 'warm-up', what: '', batch: 100, connections: 8 }, warm);
    }
  }
  const withRedis = (list: Scenario[]): Scenario[] => {
    if (!redisCluster) return list;
    const rounds = Number(process.env.BENCH_REDIS_ROUNDS ?? 1);
    return list.flatMap((s) => {
      if (!['max-100', 'single-event', 'steady-2k'].includes(s.name)) return [s];
      const pair: Scenario[] = [
        { ...s, name: `${s.name}-quota`, what: `${s.what}, tenant quota, host tables only (the -redis scenario without REDIS_URL)`, target: 'quota' },
        { ...s, name: `${s.name}-redis`, what: `${s.what}, tenant quota, with REDIS_URL (shared dedup and quota)`, target: 'redis' },
      ];
      return [s, ...Array.from({ length: rounds }, () => pair).flat()];
    });
  };
  const withAuth = (list: Scenario[]): Scenario[] => {
    if (!authCluster) return list;
    const rounds = Number(process.env.BENCH_AUTH_ROUNDS ?? 1);
    return list.flatMap((s) => {
      if (s.name !== 'max-100') return [s];
      const pair: Scenario[] = [s, { ...s, name: 'max-100-auth', what: 'max-100 with AUTH_MODE=api_key and a tenant quota', headers: authHeaders, target: 'auth' }];
      return Array.from({ length: rounds }, () => pair).flat();
    });
  };

  // BENCH_CODECS=1: one cluster per compression codec, started when its scenario comes and stopped after it,
  // so the codecs are compared back to back on the same broker and only one extra cluster runs at a time.
  let codecCluster: { codec: string; cluster: Cluster } | undefined;
  const clusterFor = async (codec: NonNullable<Scenario['codec']>): Promise<Cluster> => {
    if (codecCluster?.codec === codec) return codecCluster.cluster;
    if (codecCluster) await codecCluster.cluster.stop();
    log(`starting ${instances} collector instance(s) with KAFKA_COMPRESSION_TYPE=${codec}…`);
    const c = await Cluster.start({ KAFKA_BOOTSTRAP_SERVERS: config.KAFKA_BOOTSTRAP_SERVERS, KAFKA_COMPRESSION_TYPE: codec, SCHEMA_DIR: schemaSwitch.dir },
      instances, root, join(resultsDir, 'tmp', `${stamp}-collector-${codec}.log`));
    cleanups.push(() => c.stop());
    await runLoad(c.url, { name: 'warm-up', what: '', batch: 100, connections: 8 }, warm);
    codecCluster = { codec, cluster: c };
    return c;
  };

  const reports: ScenarioReport[] = [];
  const floors = new Map<string, number[]>();
  const only = process.env.BENCH_ONLY?.split(',').map((x) => x.trim()).filter(Boolean);
  const all = [...scenarios(quick), ...(process.env.BENCH_CODECS === '1' ? codecScenarios(quick) : [])];
  for (const s of withRedis(withAuth(all.filter((x) => !only?.length || only.includes(x.name))))) {
    if (cleaning) return; // interrupted: cleanup() owns the exit
    const byTarget = { auth: authCluster, redis: redisCluster, quota: quotaCluster };
    const target = s.codec ? await clusterFor(s.codec) : (s.target && byTarget[s.target]) || cluster;
    if (s.outage) {
      if (!ownBroker) {
        reports.push({ name: s.name, what: s.what, status: 'not-implemented', note: 'needs the bench\'s own broker (KAFKA_BOOTSTRAP_SERVERS unset)' });
        continue;
      }
      await settle(cluster);
      log(`▶ ${s.name}: SIGKILL the broker, ${s.rate} req/s of ${s.batch}-event batches for ${durationS} s, then restart it and time the replay`);
      await ownBroker.kill();
      const load = await runLoad(cluster.url, s, durationS, new Bodies(s.batch, false));
      const spilledEvents = load.spilled * s.batch;
      const replayedBefore = await replayedTotal(cluster.url);
      const tRestart = Date.now();
      await ownBroker.restart();
      const restartS = (Date.now() - tRestart) / 1000;
      // A new JVM: later scenarios and the end's raw passes sample the broker that runs now.
      for (const p of brokerProcs) p.pid = ownBroker.pid;
      // The drain starts when the first spilled batch is acknowledged (after the circuit's probe), not when the port opens.
      let t1 = Date.now();
      for (const end = Date.now() + 60_000; Date.now() < end; await new Promise((r) => setTimeout(r, 20))) {
        if ((await replayedTotal(cluster.url)) > replayedBefore) { t1 = Date.now(); break; }
      }
      const detectS = (t1 - tRestart) / 1000 - restartS;
      const drained = await cluster.settle(180_000);
      const replayS = (Date.now() - t1) / 1000;
      const replayEventsPerS = replayS > 0 ? Math.round(spilledEvents / replayS) : 0;
      log(`✓ ${s.name}: ${load.eventsPerS.toLocaleString('en-US')} events/s answered while Kafka was down (${load.spilled} buffered answers), ` +
        `p50 ${load.p50Ms} p99 ${load.p99Ms} ms; broker back in ${restartS.toFixed(1)} s, replay started ${detectS.toFixed(1)} s later; replayed ${spilledEvents} events in ${replayS.toFixed(1)} s ` +
        `(${replayEventsPerS.toLocaleString('en-US')} events/s, ingest-rate ratio ${(replayEventsPerS / Math.max(1, load.eventsPerS)).toFixed(1)}×)${drained.settled ? '' : ' — NOT fully drained'}`);
      reports.push({ name: s.name, what: s.what, status: 'ok', load, loadAvg: loadAvg(),
        note: `replay ${replayEventsPerS} events/s (${spilledEvents} events in ${replayS.toFixed(1)} s from the first replayed batch; broker back in ${restartS.toFixed(1)} s, replay started ${detectS.toFixed(1)} s after that; settle polls every 250 ms)${drained.settled ? '' : '; not fully drained'}` });
      continue;
    }
    if (s.todo) {
      log(`${s.name}: not yet implemented (${s.todo})`);
      reports.push({ name: s.name, what: s.what, status: 'not-implemented', note: s.todo });
      continue;
    }
    if (s.schemas !== undefined) await schemaSwitch.set(s.schemas, target.url);
    await settle(target);
    const seconds = quick ? durationS : Math.max(durationS, s.minDurationS ?? 0);
    log(`▶ ${s.name}: ${s.what}, ${s.connections} connections${s.rate ? `, ${s.rate} req/s paced` : ''}, ${seconds} s`);
    const bodies = new Bodies(s.batch, s.gzip ?? false);
    const gc0 = await target.gc();
    const storeBefore = target === redisCluster ? await scrapeStoreCalls(target.url) : undefined;
    const sampler = new Sampler([...target.collectors, ...brokerProcs, { role: 'pm2', pid: target.pm2Pid }, self]);
    sampler.start();
    const load = s.grpc
      ? await runGrpcLoad(grpcPort, s, seconds, { streams: s.connections, inFlight: s.grpc.inFlight })
      : await runLoad(target.url, s, seconds, bodies);
    const usage = sampler.stop();
    const incidents = checkCollectors(target);
    const rep = derive({ ...s, headers: undefined }, seconds, load, usage, gc0, await target.gc(), incidents); // never the key in a report
    rep.loadAvg = loadAvg();
    if (storeBefore) {
      let calls = describeStoreCalls(storeCallQuantiles(storeBefore, await scrapeStoreCalls(target.url)));
      // Paced scenarios: the same claim calls from the bench's own process at the same pace, the collectors idle (not
      // beside the load: paced alike, its calls reached the store in the same milliseconds as the collectors' and queued them).
      if (s.rate) {
        const f = await rawClaimRoundTrips(redisUrl, s.rate, seconds, s.batch);
        const base = s.name.slice(0, -'-redis'.length);
        floors.set(base, [...(floors.get(base) ?? []), ...f.tookUs]);
        calls += `; the same claim from the bench process alone, same pace (the floor): ${f.calls} calls, p50 ${f.p50Ms} ms, p99 ${f.p99Ms} ms`;
      }
      rep.note = rep.note ? `${rep.note}; store calls: ${calls}` : `store calls: ${calls}`;
      log(`  store calls: ${calls}`);
    }
    reports.push(rep);
    const codes = Object.entries(load.byStatus).map(([k, v]) => `${k}:${v}`).join(' ');
    log(`✓ ${s.name}: ${load.eventsPerS.toLocaleString('en-US')} events/s, ${load.reqPerS} req/s, p50 ${load.p50Ms} p99 ${load.p99Ms} ` +
      `p999 ${load.p999Ms} ms${load.serverP99Ms !== undefined ? ` (in the collector: p50 ${load.serverP50Ms} p99 ${load.serverP99Ms} ms)` : ''}, statuses ${codes || 'none'}, errors ${load.errors}${load.errors ? ` ${JSON.stringify(load.errorKinds)}` : ''}, timeouts ${load.timeouts}`);
    for (const i of incidents) log(`!! ${i}`);
    for (const w of rep.warnings ?? []) log(`⚠ ${s.name}: ${w}`);
    log(`  load average ${rep.loadAvg!.join(' ')}`);
  }

  if (codecCluster) await codecCluster.cluster.stop();
  // The collectors sit idle now (once any spill is replayed); a second raw pass shows how much the box drifted.
  await settle(cluster);
  // The limit is the better of the two: noise only ever slows a run down, and a low limit would flatter every ratio.
  const rawEnd = await measureRaw('raw-producer (end)', rawS, brokerProcs);
  const rawKcatEnd = kcat ? await measureKcat('raw kcat -P -K (end)', config, kcatRecords, brokerProcs) : undefined;
  // RSS of every process once every scenario (1000-event, gzip, overload, outage) has run: the memory goal.
  const rssAfter: Record<string, number> = {};
  for (const p of [...cluster.collectors, ...brokerProcs, { role: 'pm2', pid: cluster.pm2Pid }]) rssAfter[p.role] = round(rssMb(p.pid), 1);
  const rssAfterParts: Record<string, ReturnType<typeof rssParts>> = {};
  for (const p of cluster.collectors) rssAfterParts[p.role] = rssParts(p.pid);
  log(`RSS after the whole bench (MB): ${Object.entries(rssAfter).map(([k, v]) => `${k} ${v}`).join(', ')}; collectors by kind: ${JSON.stringify(rssAfterParts)}`);
  // The limit is the fastest raw pass, whichever client: a low limit would flatter every ratio.
  const limiting = [raw, rawEnd, ...(rawKcat ? [rawKcat] : []), ...(rawKcatEnd ? [rawKcatEnd] : [])];
  const best = limiting.reduce((a, b) => (b.eventsPerS > a.eventsPerS ? b : a));
  const limit = best.eventsPerS;
  for (const r of [...limiting, ...(rawNode ? [rawNode] : [])]) r.ratio = round(r.eventsPerS / limit, 3);
  for (const r of reports) {
    if (!r.load || !r.usage) continue;
    r.ratioToRaw = round(r.load.eventsPerS / limit, 3);
    if (rawNode) r.ratioToNodeRdkafka = round(r.load.eventsPerS / rawNode.eventsPerS, 3);
    // Broker CPU per event against the raw pass that set the limit (the goal: within 1.5×).
    if (r.cpu) r.cpu.brokerVsRaw = round(r.cpu.brokerMsPer1kEvents / best.brokerMsPer1k, 2);
  }
  const rows = [raw, rawKcat, rawNode, rawEnd, rawKcatEnd].filter((r): r is NonNullable<typeof r> => r !== undefined);
  console.log(`\n${printTables(rows, reports, { limitName: best.name, brokerMsPer1k: best.brokerMsPer1k, rssAfter,
    kcat: kcat ?? 'not installed (apt-get install kcat): no kcat row' })}\n`);
  const goals = issueGoals(reports, rssAfter);
  console.log(`${printGoals(goals)}\n`);
  // BENCH_REDIS: what the shared store adds, every round of each pair pooled.
  const costs = storeCost(reports, floors);
  for (const c of costs) log(`store cost: ${describeStoreCost(c)}`);
  for (const r of reports) delete r.load?.samples;

  const git = gitSha(root);
  mkdirSync(resultsDir, { recursive: true });
  const file = join(resultsDir, `${stamp}-${git.sha}.json`);
  writeFileSync(file, JSON.stringify({
    startedAt: new Date(t0).toISOString(),
    git,
    quick,
    machine: { ...machine(root, localBroker), loadAvgAtStart: loadAtStart },
    bench: { durationS, instances, warmUpS: warm, rawProducerS: rawS, loadgen: 'autocannon 8 (as fast as answers come) or undici paced (fixed rate), in-process, no pipelining',
      latency: 'client-side, 2xx answers only, HDR histogram in µs; fixed-rate scenarios paced evenly (bench/paced-load.ts) and timed from each request\'s due time, the others autocannon\'s closed loop without coordinated-omission correction' },
    config: describeConfig(loadConfig({ ...process.env, ...cluster.env })),
    goals,
    rawLimitEventsPerS: limit, // the fastest raw pass (C producer or kcat, start or end); every ratioToRaw divides by it
    rawLimitPass: best.name,
    rawProducer: raw,
    rawProducerEnd: rawEnd,
    ...(rawKcat ? { rawKcat, rawKcatEnd } : { rawKcat: { status: 'not-run', note: 'kcat not installed (Debian package kcat)' } }),
    ...(costs.length ? { storeCost: costs } : {}),
    rssAfterBenchMb: rssAfter,
    rssAfterBenchPartsMb: rssAfterParts, // anon / file / shmem (the dedup table is shmem, shared by every process)
    loadAvgAtEnd: loadAvg(),
    ...(rawNode ? { rawNodeRdkafka: rawNode } : {}),
    scenarios: reports,
  }, null, 2) + '\n');
  log(`report written to ${file}`);
}

/** Events replayed from the spill so far, over every process (the cluster-wide /api/v1/metrics). */
async function replayedTotal(url: string): Promise<number> {
  try {
    const m = (await (await fetch(`${url}/api/v1/metrics`)).json()) as { replayed_events_total?: number };
    return m.replayed_events_total ?? 0;
  } catch {
    return 0;
  }
}

async function measureRaw(name: string, seconds: number, procs: Proc[], client: RawClient = 'collector'): Promise<RawRow & Record<string, unknown>> {
  log(`▶ ${name}: ${instances} producer process(es), ${seconds} s of 100-event batches straight into ${client === 'collector' ? 'the collector\'s producer' : 'node-rdkafka'}`);
  const r = await rawLimit(instances, seconds, procs, client);
  log(`✓ ${name}: ${r.eventsPerS.toLocaleString('en-US')} events/s (${r.perProducer.join(' + ')}; ${r.events} events, ${r.failed} failed)`);
  return { name, ...r, ratio: 1, brokerMsPer1k: round(((r.usage.cpu.broker ?? NaN) * 1000) / (r.events / 1000), 2), loadAvg: loadAvg() };
}

async function measureKcat(name: string, config: ReturnType<typeof loadConfig>, perProducer: number, procs: Proc[]): Promise<RawRow & Record<string, unknown>> {
  log(`▶ ${name}: ${instances} kcat process(es), ${perProducer.toLocaleString('en-US')} records each from a file, the collector's producer settings`);
  const r = await kcatLimit(config, instances, perProducer, procs);
  log(`✓ ${name}: ${r.eventsPerS.toLocaleString('en-US')} events/s (${r.perProducer.join(' + ')}; ${r.events} events in ${r.seconds} s after ${r.startupS} s start-up; ${r.kcatVersion})`);
  return { name, ...r, ratio: 1, brokerMsPer1k: round(((r.usage.cpu.broker ?? NaN) * 1000) / (r.events / 1000), 2), loadAvg: loadAvg() };
}

/** uptime's load averages (1, 5, 15 min), recorded with every figure: the box is shared. */
function loadAvg(): number[] { return os.loadavg().map((l) => round(l, 2)); }

/** Before a measurement: let the collectors replay what an earlier scenario spilled to disk. */
async function settle(cluster: Cluster): Promise<void> {
  const r = await cluster.settle(quick ? 15_000 : 60_000);
  if (!r.settled) log(`⚠ collectors still not settled after ${r.waitedS} s: ${JSON.stringify(r.last)}; measuring anyway`);
  else if (r.waitedS >= 1) log(`waited ${r.waitedS} s for the collectors to replay their spill and close their circuits`);
}

/** A collector that died (crash, or PM2's max_memory_restart) is reported, never hidden. */
function checkCollectors(cluster: Cluster): string[] {
  const now = childrenOf(cluster.pm2Pid, 'dist/src/main.js');
  const out: string[] = [];
  for (const c of cluster.collectors) {
    if (!now.includes(c.pid)) out.push(`${c.role} (pid ${c.pid}) is gone: crashed or restarted by PM2; see ${cluster.logFile}`);
  }
  if (out.length) {
    out.push(`collector pids now: ${now.join(', ') || 'none'}`);
    cluster.collectors = now.map((pid) => ({ role: cluster.collectors.find((c) => c.pid === pid)?.role ?? `collector@${pid}`, pid }));
  }
  return out;
}

main().then(
  () => cleanup(),
  async (err: unknown) => {
    console.error(`bench failed: ${err instanceof Error ? err.stack ?? err.message : String(err)}`);
    await cleanup();
    process.exitCode = 1;
  },
).finally(() => log(`done in ${Math.round((Date.now() - t0) / 1000)} s`));
