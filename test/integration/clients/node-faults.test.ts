/**
 * The Node client (clients/js) against the real collector and broker, through faults: the
 * collector SIGKILLed and restarted while the client sends (and the client process itself
 * "restarted": a new client on the same queue file), a storm of 503s from admission, and a
 * tenant over its quota (429). Every event is read back from Kafka: none lost, none twice, in
 * order per learner; and no retry came sooner than the Retry-After its answer asked for.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Collector, NodeCollectorOptions } from '../../../clients/js/dist/node.js';
import { nodeClient } from '../../clients/package.js';
import { sharedBroker } from '../../helpers/broker.js';
import { createTopics } from '../../helpers/topics.js';
import { freePort, startCollector, waitHealthy, type RunningCollector } from '../../helpers/collector.js';
import { readUntilIds } from '../../helpers/consumer.js';
import { sleep } from '../../helpers/load.js';
import { syntheticBatch } from '../../../src/pipeline/synthetic.js';
import { deliveryReport } from '../../clients/delivery.js';

const { bootstrap } = sharedBroker();
const suffix = randomUUID().slice(0, 8);
const TOPIC = `events-client-${suffix}`;
const DLQ = `events-dlq-client-${suffix}`;
const LEARNERS = 25;
const { createCollector } = nodeClient;

const running: RunningCollector[] = [];
t.before(() => createTopics([{ name: TOPIC, partitions: 3 }, { name: DLQ, partitions: 1 }]));
t.teardown(async () => {
  await Promise.all(running.map((c) => c.stop().catch(() => {})));
});

async function collector(env: Record<string, string>): Promise<RunningCollector> {
  const c = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ, ...env });
  running.push(c);
  await waitHealthy(c.url);
  return c;
}

/** Request start times and answers, to check the spacing of retries. */
function recordingFetch() {
  const log: { at: number; status: number | null; retryAfterMs: number | null; doneAt: number }[] = [];
  const f: typeof fetch = async (input, init) => {
    const at = Date.now();
    try {
      const r = await fetch(input, init);
      const ra = r.headers.get('retry-after');
      log.push({ at, status: r.status, retryAfterMs: ra === null ? null : Number(ra) * 1000, doneAt: Date.now() });
      return r;
    } catch (err) {
      log.push({ at, status: null, retryAfterMs: null, doneAt: Date.now() });
      throw err;
    }
  };
  return { log, fetch: f };
}

/** Every answer that asked for a Retry-After was followed by a request no sooner than that. */
function earlyRetries(log: ReturnType<typeof recordingFetch>['log']): string[] {
  const bad: string[] = [];
  const byStart = [...log].sort((a, b) => a.at - b.at);
  for (let i = 0; i + 1 < byStart.length; i++) {
    const a = byStart[i]!;
    if (a.retryAfterMs === null || a.status === null || a.status < 400) continue;
    const gap = byStart[i + 1]!.at - a.doneAt;
    if (gap < a.retryAfterMs - 5) bad.push(`${a.status} asked ${a.retryAfterMs} ms, next request after ${gap} ms`);
  }
  return bad;
}

function options(endpoint: string, extra: Partial<NodeCollectorOptions> = {}): NodeCollectorOptions {
  return {
    endpoint, tenantId: 'tenant-client', sourceService: 'node-client-test', maxBatchEvents: 100, flushIntervalMs: 100,
    retry: { baseMs: 50, maxMs: 1000 }, ...extra,
  };
}

/** Tracks n events over `learners`, metadata.seq in track order; returns their ids. */
function trackMany(client: Collector, n: number, start = 0, tenant?: string): string[] {
  const ids: string[] = [];
  for (let i = start; i < start + n; i++) {
    const e = client.track({
      learner_id: `learner-${i % LEARNERS}`, event_type: 'progress', event_data: { lesson: 'fractions', percent: i % 101 },
      metadata: { seq: i }, ...(tenant ? { tenant_id: tenant } : {}),
    });
    ids.push(e.event_id);
  }
  return ids;
}

/**
 * `maxDuplicates`: 0, except through a SIGKILL: a batch Kafka acknowledged just before the kill, whose claim was
 * never recorded as done, is written again by the client's retry once the claim's lease lapses (at most the one
 * 100-event batch in flight).
 */
async function judge(t: Test, ids: string[], maxDuplicates = 0) {
  const records = await readUntilIds(bootstrap, TOPIC, ids, 90_000);
  const r = deliveryReport(records, ids);
  t.same(r.missing, [], `0 of ${ids.length} lost`);
  if (maxDuplicates === 0) t.same(r.duplicates, [], '0 written twice');
  else t.ok(r.duplicates.length <= maxDuplicates, `at most the batch in flight at the SIGKILL written twice (${r.duplicates.length})`);
  t.same(r.orderViolations, [], 'in track order per learner');
}

t.test('collector SIGKILLed and restarted, client restarted on its queue file: 0 lost, at most the batch in flight twice', async (t) => {
  const port = await freePort();
  const home = mkdtempSync(join(os.tmpdir(), 'client-kill-'));
  const env = { PORT: String(port), BUFFER_DIR: join(home, 'buffer'), RUN_DIR: join(home, 'run') };
  let c = await collector(env);
  const queueFile = join(home, 'queue.jsonl');
  const first = createCollector(options(c.url, { queueFile }));
  const ids: string[] = [];
  let rejected = 0;
  for (let i = 0; i < 20; i++) {
    ids.push(...trackMany(first, 100, i * 100));
    await sleep(20);
    if (i === 10) await c.kill(); // mid-flush: batches in flight, more queued
  }
  t.ok(first.stats().queued > 0, `events wait while the collector is down (${first.stats().queued} queued)`);
  // The client process goes away too: what it had not delivered is in its file.
  await first.close(0);
  c = await collector(env);
  const second = createCollector(options(c.url, { queueFile, onRejected: () => rejected++ }));
  ids.push(...trackMany(second, 500, 2000));
  await second.flush(90_000);
  t.equal(second.stats().queued, 0, 'the queue drained');
  t.equal(rejected, 0, 'nothing refused');
  await second.close();
  await judge(t, ids, 100);
});

t.test('a 503 storm from admission: retried per Retry-After, 0 lost, 0 duplicates', async (t) => {
  const c = await collector({ RING_SLOTS: '2', ADMISSION_MIN_IN_FLIGHT: '1' });
  const rec = recordingFetch();
  const client = createCollector(options(c.url, { fetch: rec.fetch }));
  // Others flood the same collector for as long as the client sends.
  let flooding = true;
  const flood = Promise.all(Array.from({ length: 8 }, async () => {
    while (flooding) {
      await fetch(`${c.url}/api/v1/collect`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(syntheticBatch(200)) })
        .then((r) => r.arrayBuffer()).catch(() => {});
    }
  }));
  const ids: string[] = [];
  for (let i = 0; i < 10; i++) {
    ids.push(...trackMany(client, 100, i * 100));
    await sleep(25);
  }
  await client.flush(120_000);
  flooding = false;
  await flood;
  t.equal(client.stats().queued, 0, 'the queue drained');
  await client.close();
  const refused = rec.log.filter((l) => l.status === 503);
  t.ok(refused.length > 0, `the client met the storm: ${refused.length} × 503 of ${rec.log.length} requests`);
  t.ok(refused.every((l) => l.retryAfterMs !== null), 'every 503 said Retry-After');
  t.same(earlyRetries(rec.log), [], 'no retry before its Retry-After');
  await judge(t, ids);
});

t.test('a tenant over its quota (429): retried per Retry-After, 0 lost, 0 duplicates', async (t) => {
  const home = mkdtempSync(join(os.tmpdir(), 'client-quota-'));
  const quotas = join(home, 'quotas.json');
  // 100 events/s with a one-second burst: the client's second 100-event batch is over it however slow the box is.
  writeFileSync(quotas, JSON.stringify({ quotas: { 'tenant-q': { events_per_second: 100, bytes_per_second: 0, burst_seconds: 1 } } }));
  const c = await collector({ TENANT_QUOTAS_FILE: quotas, QUOTA_PATH: join(home, 'quota.table') });
  const rec = recordingFetch();
  const client = createCollector(options(c.url, { fetch: rec.fetch }));
  const ids = trackMany(client, 800, 0, 'tenant-q');
  await client.flush(120_000);
  t.equal(client.stats().queued, 0, 'the queue drained');
  await client.close();
  const throttled = rec.log.filter((l) => l.status === 429);
  t.ok(throttled.length > 0, `over quota: ${throttled.length} × 429 of ${rec.log.length} requests`);
  t.ok(throttled.every((l) => (l.retryAfterMs ?? 0) >= 1000), '429 with Retry-After ≥ 1 s');
  t.same(earlyRetries(rec.log), [], 'no retry before its Retry-After');
  await judge(t, ids);
});
