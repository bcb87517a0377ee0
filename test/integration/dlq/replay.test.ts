/**
 * Dead-letter recovery on the real broker: events refused because their schema version was missing
 * are replayed once the version exists — each exactly once, also when a replay is SIGKILLed half-way
 * and run again — written as the collect path writes them; stats and show read the same topic.
 */
import t from 'tap';
import Kafka from 'node-rdkafka';
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sharedBroker } from '../../helpers/broker.js';
import { createTopics } from '../../helpers/topics.js';
import { startCollector } from '../../helpers/collector.js';
import { readTopic, readUntilIds, type ReadRecord } from '../../helpers/consumer.js';
import { javaPartition } from '../../helpers/murmur2.js';
import { DEFAULT_PRIORITY } from '../../../src/schema/event.js';

const CLI = fileURLToPath(new URL('../../../src/dlq/cli.js', import.meta.url));
const SHIPPED = fileURLToPath(new URL('../../../../schemas', import.meta.url));
const { bootstrap } = sharedBroker();
const TOPIC = `events-dlqr-${randomUUID().slice(0, 8)}`;
const DLQ = `${TOPIC}-dlq`;
const N = 2000;

function progressEvent(i: number, batch: number): Record<string, unknown> {
  return {
    event_id: randomUUID(), learner_id: `learner_${i % 13}`, event_type: 'progress', timestamp: new Date().toISOString(),
    source_service: 'lesson-svc', tenant_id: `tenant_${i % 2}`, session_id: `s-${batch}`, schema_version: 2,
    event_data: { lesson: `l-${i}`, percent: i % 101, streak: i },
  };
}

interface CliRun { code: number | null; stdout: string; stderr: string }

function dlq(args: string[], env: Record<string, string>, onStderr?: (text: string, kill: () => void) => void): Promise<CliRun> {
  const p = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  p.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  p.stderr.on('data', (c: Buffer) => {
    stderr += c.toString();
    onStderr?.(stderr, () => p.kill('SIGKILL'));
  });
  return new Promise((resolve) => p.on('exit', (code) => resolve({ code, stdout, stderr })));
}

const lastJson = (s: string) => JSON.parse(s.trim().split('\n').at(-1)!) as Record<string, unknown>;

t.test('a missing schema version: dead letters replayed once it exists, each exactly once through a SIGKILL', async (t) => {
  await createTopics([{ name: TOPIC, partitions: 3 }, { name: DLQ, partitions: 2 }]);
  const schemaDir = mkdtempSync(join(os.tmpdir(), 'dlq-schemas-'));
  cpSync(SHIPPED, schemaDir, { recursive: true });
  const env = { KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ, SCHEMA_DIR: schemaDir, LOG_LEVEL: 'warn' };

  const collector = await startCollector({ ...env, LOG_LEVEL: 'info' });
  const sent: Record<string, unknown>[] = [];
  for (let b = 0; b < N / 1000; b++) {
    const events = Array.from({ length: 1000 }, (_, i) => progressEvent(b * 1000 + i, b));
    sent.push(...events);
    const r = await fetch(`${collector.url}/api/v1/collect`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ batch_id: `dlq-b${b}`, events }) });
    t.equal(r.status, 422, 'every event refused: progress has no v2 yet');
  }
  await readTopic(bootstrap, DLQ, (rs) => rs.length >= N, 60_000);
  await collector.stop();

  const stats = lastJson((await dlq(['stats', '--json'], env)).stdout);
  t.equal(stats.total, N);
  t.same(stats.byReason, { validation: N });
  t.same(stats.byCode, { unknown_schema_version: N });
  t.same(stats.byVersion, { 2: N });
  t.same(stats.byTenant, { tenant_0: N / 2, tenant_1: N / 2 });
  const filtered = lastJson((await dlq(['stats', '--json', '--tenant', 'tenant_1', '--since', '1h'], env)).stdout);
  t.equal(filtered.total, N / 2, 'filters narrow the count');

  const shown = (await dlq(['show', '--limit', '3', '--code', 'unknown_schema_version'], env)).stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.equal(shown.length, 3, '--limit');
  t.match(shown[0], { reason: 'validation', errors: [{ code: 'unknown_schema_version', path: '/schema_version' }], original_event: { event_type: 'progress', schema_version: 2 } });

  const before = await dlq(['replay', '--json'], env);
  t.equal(before.code, 0, before.stderr);
  t.match(lastJson(before.stdout), { replayed: 0, stillFailing: { unknown_schema_version: N } }, 'nothing passes while v2 is missing');

  // The owner adds v2: v1 plus a typed streak (FORWARD: the shipped v1 is open, so a typed new field is not BACKWARD).
  mkdirSync(join(schemaDir, 'progress'), { recursive: true });
  writeFileSync(join(schemaDir, 'progress', 'config.json'), JSON.stringify({ compatibility: 'FORWARD' }));
  writeFileSync(join(schemaDir, 'progress', '2.json'), JSON.stringify({
    type: 'object', properties: { lesson: { type: 'string', minLength: 1, maxLength: 256 }, percent: { type: 'number', minimum: 0, maximum: 100 }, completed: { type: 'boolean' }, streak: { type: 'integer' } },
  }));

  const dry = await dlq(['replay', '--dry-run', '--json'], env);
  t.match(lastJson(dry.stdout), { replayed: N, alreadyReplayed: 0 }, 'dry run: would replay every one');

  // One dead letter per transaction, killed once some have committed.
  let killedAfter = '';
  const killed = await dlq(['replay', '--chunk', '1'], env, (err, kill) => {
    if (!killedAfter && /replayed [1-9]/.test(err)) {
      killedAfter = err;
      kill();
    }
  });
  t.equal(killed.code, null, 'the first replay was SIGKILLed');
  t.notMatch(killed.stdout, /replayed:/, 'before it finished');

  const resumed = await dlq(['replay', '--json'], env);
  t.equal(resumed.code, 0, resumed.stderr);
  const s1 = lastJson(resumed.stdout) as { replayed: number; alreadyReplayed: number };
  t.ok(s1.alreadyReplayed >= 1, `the killed run's committed chunks are skipped (${s1.alreadyReplayed})`);
  t.equal(s1.replayed + s1.alreadyReplayed, N, 'the rest is replayed');

  const ids = sent.map((e) => e.event_id as string);
  const records = await readUntilIds(bootstrap, TOPIC, ids, 90_000);
  const count = new Map<string, number>();
  for (const r of records) {
    const id = (JSON.parse(r.value) as { event_id: string }).event_id;
    count.set(id, (count.get(id) ?? 0) + 1);
  }
  t.equal(count.size, N, 'every event in the events topic');
  t.same([...count.values()].filter((n) => n !== 1), [], 'each exactly once');

  const byId = new Map(records.map((r) => [(JSON.parse(r.value) as { event_id: string }).event_id, r] as [string, ReadRecord]));
  for (const e of sent.slice(0, 20)) {
    const r = byId.get(e.event_id as string)!;
    const v = JSON.parse(r.value) as Record<string, unknown>;
    t.same(v.event_data, e.event_data, 'payload as sent');
    t.equal(v.priority, DEFAULT_PRIORITY, 'defaults added as on the collect path');
    t.equal(r.key, e.learner_id, 'keyed by learner');
    t.equal(r.partition, javaPartition(e.learner_id as string, 3), 'the partition the collect path would choose');
    t.match(r.headers, { tenant_id: e.tenant_id, event_type: 'progress', batch_id: /^dlq-b[01]$/, schema_version: '2' }, 'the collect path headers');
    t.match(r.headers.dlq_replayed_from, new RegExp(`^${DLQ}:[01]:\\d+$`), 'names the dead letter it came from');
  }

  const again = await dlq(['replay', '--json'], env);
  t.match(lastJson(again.stdout), { replayed: 0, alreadyReplayed: N }, 'a second replay writes 0');
  const after = await readTopic(bootstrap, TOPIC, (rs) => rs.length > N, 5_000);
  t.equal(after.length, N, 'and the topic still holds each event once');
});

t.test('poison pills and tenant_forbidden dead letters are replayed only when named', async (t) => {
  const topic = `events-dlqp-${randomUUID().slice(0, 8)}`;
  const dlqTopic = `${topic}-dlq`;
  await createTopics([{ name: topic, partitions: 3 }, { name: dlqTopic, partitions: 1 }]);
  const env = { KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: topic, DLQ_TOPIC: dlqTopic, SCHEMA_DIR: 'off' };
  // Records in the collector's dead-letter format (src/codec/dead-letter.ts), of the two reasons.
  const p = new Kafka.Producer({ 'bootstrap.servers': bootstrap, dr_cb: true }, { acks: -1 });
  await new Promise<void>((res, rej) => p.connect({ timeout: 20_000 }, (e) => (e ? rej(e) : res())));
  p.setPollInterval(10);
  const ids: string[] = [];
  const delivered = new Promise<void>((res) => {
    let n = 0;
    p.on('delivery-report', () => ++n === 2 && res());
  });
  for (const reason of ['poison_pill', 'tenant_forbidden']) {
    const ev = { event_id: randomUUID(), learner_id: 'learner_1', event_type: 'interaction', timestamp: new Date().toISOString(), source_service: 's', tenant_id: 'tenant_x', event_data: { n: 1 } };
    ids.push(ev.event_id);
    const value = JSON.stringify({ reason, errors: [{ code: reason, path: '', message: reason }], retry_count: 3, failed_at: new Date().toISOString(), batch_id: 'b-p', event_index: 0, collector_instance: '0', tenant_id: 'tenant_x', original_event: ev });
    p.produce(dlqTopic, null, Buffer.from(value), 'learner_1', Date.now(), undefined, [{ reason }, { batch_id: 'b-p' }, { tenant_id: 'tenant_x' }, { received_at: new Date().toISOString() }]);
  }
  await delivered;
  await new Promise((r) => p.disconnect(5_000, r));

  const plain = lastJson((await dlq(['replay', '--json'], env)).stdout);
  t.match(plain, { replayed: 0, skipped: { poison_pill: 1, tenant_forbidden: 1 } }, 'left alone unless named');
  const named = lastJson((await dlq(['replay', '--json', '--reason', 'poison_pill'], env)).stdout);
  t.match(named, { replayed: 1, matched: 1 }, 'the named reason is replayed');
  const recs = await readUntilIds(bootstrap, topic, [ids[0]!], 30_000);
  t.equal(recs.length, 1);
});

t.test('bad arguments get a clear message and exit 2', async (t) => {
  const r = await dlq(['replay', '--since', 'yesterday-ish'], { KAFKA_BOOTSTRAP_SERVERS: bootstrap });
  t.equal(r.code, 2);
  t.match(r.stderr, /--since yesterday-ish: not a time/);
  const u = await dlq(['frobnicate'], { KAFKA_BOOTSTRAP_SERVERS: bootstrap });
  t.equal(u.code, 2);
  t.match(u.stderr, /unknown command frobnicate/);
});
