/**
 * Per-tenant quotas across two collector processes on one port (SO_REUSEPORT, shared
 * quota table in shared memory), against the real broker: a tenant offered well over its
 * quota gets 429 COLLECTOR_ERR_TENANT_QUOTA with a Retry-After while another tenant on the
 * same processes is served; the throttled tenant's admitted rate over a long window is its
 * quota ± 10 % although both processes admit its batches; every admitted event is in Kafka.
 */
import t from 'tap';
import http from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { sharedBroker } from '../helpers/broker.js';
import { createTopics } from '../helpers/topics.js';
import { freePort, startCollector, type RunningCollector } from '../helpers/collector.js';
import { readUntilIds, eventIds } from '../helpers/consumer.js';
import { syntheticBatch } from '../../src/pipeline/synthetic.js';

const { bootstrap } = sharedBroker();
const TOPIC = `events-quota-${randomUUID().slice(0, 8)}`;
const DLQ = `${TOPIC}-dlq`;
const QUOTA = 300; // events/s of tenant-q
const BATCH = 25;
const WARMUP_MS = 3000; // the first second's burst is not the steady rate
const WINDOW_MS = 20_000;

function request(port: number, path: string, body?: string): Promise<{ status: number; text: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method: body ? 'POST' : 'GET', path, agent: false, headers: body ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString(), headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

t.test('a tenant over its quota is throttled to it across both processes; another tenant is served', async (t) => {
  await createTopics([{ name: TOPIC, partitions: 3 }, { name: DLQ, partitions: 1 }]);
  const home = mkdtempSync(join(os.tmpdir(), 'collector-quota-'));
  const quotas = join(home, 'quotas.json');
  writeFileSync(quotas, JSON.stringify({ quotas: { 'tenant-q': { events_per_second: QUOTA, bytes_per_second: 0, burst_seconds: 1 } } }));
  const port = await freePort();
  const collectors: RunningCollector[] = [];
  t.teardown(async () => {
    for (const c of collectors) await c.stop();
  });
  for (const instance of ['0', '1']) {
    collectors.push(await startCollector({
      KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ, PORT: String(port), INSTANCE_ID: instance,
      RUN_DIR: join(home, 'run'), BUFFER_DIR: join(home, 'buffer'), TENANT_QUOTAS_FILE: quotas, QUOTA_PATH: join(home, 'quota.table'),
    }));
  }
  const deadline = Date.now() + 60_000;
  while ((await request(port, '/api/v1/health').catch(() => null))?.status !== 200) {
    if (Date.now() > deadline) throw new Error('collectors never healthy');
    await sleep(200);
  }

  let stop = false;
  const t0 = Date.now();
  const admitted: { at: number; ids: string[] }[] = [];
  let offered = 0;
  const throttled: { retryAfter: string | undefined; code: string }[] = [];
  const other = new Map<number, number>();
  let otherEvents = 0;
  // Six clients of tenant-q, back to back on fresh connections (so the kernel spreads them over both processes).
  const greedy = async () => {
    while (!stop) {
      const events = syntheticBatch(BATCH, { tenant: 'tenant-q' });
      offered += BATCH;
      const r = await request(port, '/api/v1/collect', JSON.stringify(events)).catch(() => null);
      if (!r) continue;
      if (r.status === 200) admitted.push({ at: Date.now(), ids: events.map((e) => e.event_id as string) });
      else if (r.status === 429) {
        throttled.push({ retryAfter: r.headers['retry-after'] as string | undefined, code: (JSON.parse(r.text) as { error: { code: string } }).error.code });
        // Not the Retry-After a polite client waits (that would offer less than the quota), but not a
        // busy loop on a shared 2-core box either: 6 × 25 events per ~20 ms stays far above 300/s.
        await sleep(20);
      } else t.fail(`tenant-q: unexpected ${r.status} ${r.text}`);
    }
  };
  // One well-behaved client of another tenant, without a quota.
  const polite = async () => {
    while (!stop) {
      const r = await request(port, '/api/v1/collect', JSON.stringify(syntheticBatch(BATCH, { tenant: 'tenant-free' }))).catch(() => null);
      if (!r) continue;
      other.set(r.status, (other.get(r.status) ?? 0) + 1);
      if (r.status === 200) otherEvents += BATCH;
    }
  };
  const loops = [...Array.from({ length: 6 }, greedy), polite()];
  await sleep(WARMUP_MS + WINDOW_MS);
  stop = true;
  await Promise.all(loops);
  const elapsedS = (Date.now() - t0) / 1000;

  const inWindow = admitted.filter((a) => a.at >= t0 + WARMUP_MS && a.at < t0 + WARMUP_MS + WINDOW_MS).length * BATCH;
  const rate = inWindow / (WINDOW_MS / 1000);
  const total = admitted.length * BATCH;
  t.ok(offered >= 2 * QUOTA * elapsedS, `offered ${offered} events in ${elapsedS.toFixed(1)} s (${Math.round(offered / elapsedS)}/s): well over the quota of ${QUOTA}/s`);
  t.ok(throttled.length > 0, `${throttled.length} batches refused`);
  t.ok(throttled.every((x) => x.code === 'COLLECTOR_ERR_TENANT_QUOTA' && Number(x.retryAfter) >= 1), '429 COLLECTOR_ERR_TENANT_QUOTA with Retry-After');
  t.ok(Math.abs(rate - QUOTA) <= QUOTA * 0.1, `tenant-q admitted ${rate.toFixed(1)} events/s over ${WINDOW_MS / 1000} s after warm-up (quota ${QUOTA} ± 10 %)`);
  t.ok(total <= QUOTA * (elapsedS + 1) + BATCH, `${total} admitted in all ≤ quota × time + one burst`);
  t.same([...other.keys()], [200], `tenant-free: only 200s (${JSON.stringify([...other])}), ${Math.round(otherEvents / elapsedS)} events/s`);
  t.ok(otherEvents > QUOTA * elapsedS, 'tenant-free was served beyond tenant-q\'s quota');

  // Both processes admitted and throttled tenant-q (per-process series of the host-wide /metrics).
  const per = new Map<string, number>();
  const end = Date.now() + 30_000;
  for (;;) {
    const m = await request(port, '/metrics');
    per.clear();
    for (const line of m.text.split('\n')) {
      const hit = /^collector_tenant_events_total\{(.*)\} (\d+)/.exec(line);
      if (!hit || !hit[1]!.includes('tenant="tenant-q"')) continue;
      const inst = /instance="([^"]+)"/.exec(hit[1]!)?.[1];
      const outcome = /outcome="([^"]+)"/.exec(hit[1]!)?.[1];
      per.set(`${inst}/${outcome}`, Number(hit[2]));
    }
    const sum = (per.get('0/accepted') ?? 0) + (per.get('1/accepted') ?? 0);
    if (sum === total || Date.now() > end) break;
    await sleep(500);
  }
  t.equal((per.get('0/accepted') ?? 0) + (per.get('1/accepted') ?? 0), total, `per-process accepted counters add up: ${JSON.stringify([...per])}`);
  for (const inst of ['0', '1']) {
    t.ok((per.get(`${inst}/accepted`) ?? 0) > 0 && (per.get(`${inst}/throttled`) ?? 0) > 0, `process ${inst} admitted and throttled tenant-q`);
  }
  const ids = admitted.flatMap((a) => a.ids);
  const found = eventIds(await readUntilIds(bootstrap, TOPIC, ids, 60_000));
  t.same(ids.filter((id) => !found.has(id)), [], `all ${ids.length} admitted tenant-q events are in Kafka`);
});

t.test('invalid events are charged as valid ones: a tenant over its quota gets 429 however it fills its batches', async (t) => {
  const topic = `${TOPIC}-inv`;
  await createTopics([{ name: topic, partitions: 1 }, { name: `${topic}-dlq`, partitions: 1 }]);
  const home = mkdtempSync(join(os.tmpdir(), 'collector-quota-inv-'));
  const quotas = join(home, 'quotas.json');
  writeFileSync(quotas, JSON.stringify({ quotas: { 'tenant-i': { events_per_second: 100, bytes_per_second: 0, burst_seconds: 1 } } }));
  const c = await startCollector({
    KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: topic, DLQ_TOPIC: `${topic}-dlq`, TENANT_QUOTAS_FILE: quotas,
    QUOTA_PATH: join(home, 'quota.table'), RUN_DIR: join(home, 'run'), BUFFER_DIR: join(home, 'buffer'),
  });
  t.teardown(() => c.stop());
  const port = Number(new URL(c.url).port);
  const deadline = Date.now() + 60_000;
  while ((await request(port, '/api/v1/health').catch(() => null))?.status !== 200) {
    if (Date.now() > deadline) throw new Error('collector never healthy');
    await sleep(200);
  }
  // 100 events each, every one invalid (no such event type): each would be a dead letter.
  const invalid = () => syntheticBatch(100, { tenant: 'tenant-i' }).map((e) => ({ ...e, event_type: 'no-such-type' }));
  const statuses: number[] = [];
  for (let i = 0; i < 5; i++) {
    const r = await request(port, '/api/v1/collect', JSON.stringify(invalid()));
    statuses.push(r.status);
    if (r.status === 429) t.equal((JSON.parse(r.text) as { error: { code: string } }).error.code, 'COLLECTOR_ERR_TENANT_QUOTA');
  }
  t.equal(statuses[0], 422, 'the first batch fits the burst: dead-lettered, 422');
  t.ok(statuses.slice(1).filter((s) => s === 429).length >= 3, `the next ones are over the quota: ${statuses.join(' ')}`);
  const valid = JSON.stringify(syntheticBatch(100, { tenant: 'tenant-i' }));
  t.equal((await request(port, '/api/v1/collect', valid)).status, 429, 'and so is a valid batch right after');
  // The refused batch left no dedup claim behind: sent again once the bucket refilled, it is written, not a duplicate.
  await sleep(1200);
  const again = await request(port, '/api/v1/collect', valid);
  t.equal(again.status, 200, `the same batch once the quota allows it: ${again.text.slice(0, 200)}`);
  t.match(JSON.parse(again.text), { accepted_count: 100, duplicate_count: 0 });
});
