/**
 * Cluster-wide metrics: two real collector processes on ONE port (SO_REUSEPORT, as PM2
 * runs them) sharing a RUN_DIR. Requests on fresh connections reach both; whichever
 * process answers GET /api/v1/metrics must report the totals of both, with a per-process
 * breakdown that adds up; /metrics and /api/v1/health speak for both too.
 */
import t from 'tap';
import http from 'node:http';
import { mkdtempSync, readdirSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { sharedBroker } from '../../helpers/broker.js';
import { createTopics } from '../../helpers/topics.js';
import { freePort, startCollector, type RunningCollector } from '../../helpers/collector.js';
import { syntheticBatch } from '../../../src/pipeline/synthetic.js';

const { bootstrap } = sharedBroker();
const suffix = randomUUID().slice(0, 8);
const TOPIC = `events-ops-${suffix}`;
const DLQ = `events-dlq-ops-${suffix}`;
const REQUESTS = 40;
const PER_REQUEST = 25;

interface Metrics {
  events_processed_total: number;
  events_accepted_total: number;
  events_rejected_total: number;
  kafka_writes_total: number;
  dlq_events_total: number;
  events_per_second: number;
  p99_processing_time_ms: number;
  processes_reporting: number;
  answered_by: string;
  per_process: { instance: string; events_processed_total: number; kafka_writes_total: number; pid: number }[];
}

/** One request on a connection of its own (agent: false), so the kernel picks a process each time. */
function request(port: number, method: string, path: string, body?: string): Promise<{ status: number; text: string; headers: http.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      { host: '127.0.0.1', port, method, path, agent: false, headers: body ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } : {} },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString(), headers: res.headers }));
      },
    );
    req.on('error', reject);
    req.setTimeout(15_000, () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
let port = 0;
let runDir = '';
const collectors: RunningCollector[] = [];

t.before(async () => {
  await createTopics([
    { name: TOPIC, partitions: 3 },
    { name: DLQ, partitions: 1 },
  ]);
  port = await freePort();
  runDir = mkdtempSync(join(os.tmpdir(), 'collector-run-'));
  const bufferDir = mkdtempSync(join(os.tmpdir(), 'collector-buffer-'));
  for (const instance of ['0', '1']) {
    collectors.push(
      await startCollector({
        KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ,
        PORT: String(port), INSTANCE_ID: instance, RUN_DIR: runDir, BUFFER_DIR: bufferDir,
      }),
    );
  }
  // Both processes connected to Kafka, as seen by whichever answers.
  const deadline = Date.now() + 60_000;
  for (;;) {
    const h = await request(port, 'GET', '/api/v1/health').catch(() => null);
    if (h?.status === 200) {
      const body = JSON.parse(h.text) as { processes: { instance: string; kafka_connected: boolean }[] };
      if (body.processes.length === 2 && body.processes.every((p) => p.kafka_connected)) break;
    }
    if (Date.now() > deadline) throw new Error(`both collectors never connected: ${h?.text}`);
    await sleep(250);
  }
});

t.teardown(async () => {
  await Promise.all(collectors.map((c) => c.stop()));
});

t.test('totals and per-process breakdown cover both processes, whichever answers', async (t) => {
  // One invalid event in every 5th request, so the DLQ count is part of the check.
  let sent = 0;
  let rejected = 0;
  for (let i = 0; i < REQUESTS; i++) {
    const events: Record<string, unknown>[] = syntheticBatch(PER_REQUEST, {}, i * PER_REQUEST);
    if (i % 5 === 0) {
      events[0] = { ...events[0], event_type: 'teleport' };
      rejected++;
    }
    const r = await request(port, 'POST', '/api/v1/collect', JSON.stringify(events));
    t.ok(r.status === 200 || r.status === 207, `request ${i}: ${r.status} ${r.text.slice(0, 200)}`);
    sent += events.length;
  }

  // Other processes' numbers are up to one publish (1 s) old: poll until both processes,
  // answering, report the full totals.
  let m: Metrics | undefined;
  const answeredBy = new Set<string>();
  const deadline = Date.now() + 20_000;
  for (;;) {
    const r = await request(port, 'GET', '/api/v1/metrics');
    t.equal(r.status, 200);
    m = JSON.parse(r.text) as Metrics;
    if (m.events_processed_total === sent && m.dlq_events_total === rejected && m.per_process.length === 2) answeredBy.add(m.answered_by);
    if (answeredBy.size === 2) break;
    if (Date.now() > deadline) break;
    await sleep(100);
  }
  t.equal(m.events_processed_total, sent, 'processed = every event sent');
  t.equal(m.events_accepted_total, sent - rejected);
  t.equal(m.events_rejected_total, rejected);
  t.equal(m.kafka_writes_total, sent - rejected, 'accepted events acknowledged by Kafka');
  t.equal(m.dlq_events_total, rejected, 'rejected events in the DLQ');
  t.equal(m.processes_reporting, 2);
  t.same(m.per_process.map((p) => p.instance).sort(), ['0', '1'], 'per_process has both');
  t.equal(m.per_process.reduce((s, p) => s + p.events_processed_total, 0), m.events_processed_total, 'per_process sums to the total');
  t.equal(m.per_process.reduce((s, p) => s + p.kafka_writes_total, 0), m.kafka_writes_total);
  t.ok(m.per_process.every((p) => p.events_processed_total > 0), `both processes took traffic: ${m.per_process.map((p) => p.events_processed_total).join(' + ')}`);
  t.ok(answeredBy.size === 2, `both processes answered /api/v1/metrics with the cluster totals (${[...answeredBy].join(', ')})`);
  t.ok(m.p99_processing_time_ms > 0, `p99 from the merged histograms: ${m.p99_processing_time_ms} ms`);
  t.ok(m.events_per_second > 0);

  // Every answer, from either process, reports the same totals now that traffic stopped
  // (after one more publish interval, so neither side holds a file from before the last batch).
  await sleep(1200);
  for (let i = 0; i < 10; i++) {
    const again = JSON.parse((await request(port, 'GET', '/api/v1/metrics')).text) as Metrics;
    t.equal(again.events_processed_total, sent, `answer ${i} (by ${again.answered_by}) has the cluster total`);
  }
});

t.test('Prometheus text holds both processes\' series', async (t) => {
  const r = await request(port, 'GET', '/metrics');
  t.equal(r.status, 200);
  t.match(r.headers['content-type'], /text\/plain/);
  const accepted = [...r.text.matchAll(/^collector_events_total\{([^}]*)\} (\d+)/gm)].filter((x) => x[1]!.includes('outcome="accepted"'));
  const instances = accepted.map((x) => /instance="([^"]+)"/.exec(x[1]!)?.[1]).sort();
  t.same(instances, ['0', '1'], 'one accepted-events series per process');
  const total = accepted.reduce((s, x) => s + Number(x[2]), 0);
  t.equal(total, (REQUESTS * PER_REQUEST) - REQUESTS / 5, 'their sum is the cluster\'s accepted events');
  t.match(r.text, /^collector_kafka_connected\{instance="0"\} 1$/m);
  t.match(r.text, /^collector_kafka_connected\{instance="1"\} 1$/m);
});

t.test('health keeps its per-process fields and lists every process', async (t) => {
  const r = await request(port, 'GET', '/api/v1/health');
  t.equal(r.status, 200);
  const h = JSON.parse(r.text) as Record<string, unknown> & { processes: { instance: string; self: boolean; status: string }[] };
  for (const k of ['status', 'kafka_connected', 'buffer_status', 'throughput_metrics', 'uptime_seconds']) t.ok(k in h, `has ${k}`);
  t.ok('buffered_batches' in (h.buffer_status as object) && 'buffer_size_mb' in (h.buffer_status as object));
  t.ok('events_per_second' in (h.throughput_metrics as object) && 'avg_processing_time_ms' in (h.throughput_metrics as object));
  t.same(h.processes.map((p) => p.instance).sort(), ['0', '1']);
  t.equal(h.processes.filter((p) => p.self).length, 1, 'exactly one is the answering process');
});

t.test('probes', async (t) => {
  const live = await request(port, 'GET', '/livez');
  t.equal(live.status, 200);
  t.equal((JSON.parse(live.text) as { status: string }).status, 'ok');
  const ready = await request(port, 'GET', '/readyz');
  t.equal(ready.status, 200);
  t.match(JSON.parse(ready.text), { status: 'ok', kafka_connected: true, circuit_state: 'closed' });
  const wrong = await request(port, 'POST', '/livez', '{}');
  t.equal(wrong.status, 405);
});

t.test('a stopped process leaves the cluster view', async (t) => {
  const files = () => readdirSync(join(runDir, 'metrics')).filter((f) => f.endsWith('.json')).sort();
  t.same(files(), ['0.json', '1.json']);
  await collectors[1]!.stop();
  t.same(files(), ['0.json'], 'its file is removed on exit');
  const m = JSON.parse((await request(port, 'GET', '/api/v1/metrics')).text) as Metrics;
  t.equal(m.processes_reporting, 1);
  t.same(m.per_process.map((p) => p.instance), ['0']);
});
