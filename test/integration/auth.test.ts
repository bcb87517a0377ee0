/**
 * AUTH_MODE=api_key against the real broker, two collector processes on one port (as PM2
 * runs them, SO_REUSEPORT, shared RUN_DIR): 401 without a key, with a wrong key and with a
 * key revoked while both run (no restart); a key of tenant A writing A's and B's events →
 * A's in Kafka, B's dead-lettered tenant_forbidden, 207; the test endpoint needs a key; no
 * secret in any answer or log line.
 */
import t from 'tap';
import http from 'node:http';
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { sharedBroker } from '../helpers/broker.js';
import { createTopics } from '../helpers/topics.js';
import { freePort, startCollector, type RunningCollector } from '../helpers/collector.js';
import { readTopic, readUntilIds, eventIds } from '../helpers/consumer.js';
import { syntheticBatch } from '../../src/pipeline/synthetic.js';
import { keyIdOf } from '../../src/auth/secret.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../src/auth/cli.js', import.meta.url));
const { bootstrap } = sharedBroker();
const suffix = randomUUID().slice(0, 8);
const TOPIC = `events-auth-${suffix}`;
const DLQ = `${TOPIC}-dlq`;
const home = mkdtempSync(join(os.tmpdir(), 'collector-auth-'));
const KEYS = join(home, 'api-keys.json');
const keys = async (...args: string[]) => (await run(process.execPath, [CLI, '--file', KEYS, ...args])).stdout.trim();

interface Answer { status: number; text: string; headers: http.IncomingHttpHeaders }
/** One request on a connection of its own (agent: false): the kernel picks a process each time. */
function request(port: number, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, method, path, agent: false, headers: { ...headers, ...(body ? { 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) } : {}) } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString(), headers: res.headers }));
    });
    req.on('error', reject);
    req.setTimeout(30_000, () => req.destroy(new Error('timeout')));
    req.end(body);
  });
}
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const collectors: RunningCollector[] = [];
const answers: string[] = [];
let port = 0;
let keyA = '';
let keyB = '';
const post = async (headers: Record<string, string>, events: unknown[]) => {
  const a = await request(port, 'POST', '/api/v1/collect', headers, JSON.stringify(events));
  answers.push(a.text, JSON.stringify(a.headers));
  return a;
};

t.before(async () => {
  await createTopics([{ name: TOPIC, partitions: 3 }, { name: DLQ, partitions: 1 }]);
  keyA = await keys('add', '--tenant', 'tenant-a', '--description', 'app A');
  keyB = await keys('add', '--tenant', 'tenant-b');
  port = await freePort();
  const runDir = join(home, 'run');
  const bufferDir = join(home, 'buffer');
  for (const instance of ['0', '1']) {
    collectors.push(await startCollector({
      KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ, PORT: String(port), INSTANCE_ID: instance,
      RUN_DIR: runDir, BUFFER_DIR: bufferDir, AUTH_MODE: 'api_key', API_KEYS_FILE: KEYS, AUTH_RELOAD_MS: '500',
      QUOTA_PATH: join(home, 'quota.table'), LOG_LEVEL: 'debug',
    }));
  }
  const deadline = Date.now() + 60_000;
  while ((await request(port, 'GET', '/api/v1/health', {}).catch(() => null))?.status !== 200) {
    if (Date.now() > deadline) throw new Error('collectors never healthy');
    await sleep(200);
  }
});
t.teardown(async () => {
  for (const c of collectors) await c.stop();
});

t.test('401 without a key and with a wrong key: JSON body, WWW-Authenticate, nothing written', async (t) => {
  const events = syntheticBatch(3, { tenant: 'tenant-a' });
  const wrongSecret = keyA.slice(0, -4) + (keyA.endsWith('AAAA') ? 'BBBB' : 'AAAA');
  const cases: [string, Record<string, string>, string][] = [
    ['no key', {}, 'no API key'],
    ['garbage key', { authorization: 'Bearer not-a-key' }, 'not valid'],
    ['right id, wrong secret', { authorization: `Bearer ${wrongSecret}` }, 'not valid'],
    ['wrong x-api-key', { 'x-api-key': wrongSecret }, 'not valid'],
    ['another scheme', { authorization: `Basic ${Buffer.from(`u:${keyA}`).toString('base64')}` }, 'no API key'],
  ];
  for (const [what, headers, detail] of cases) {
    for (let i = 0; i < 4; i++) {
      const a = await post(headers, events);
      t.equal(a.status, 401, `${what}: 401`);
      const body = JSON.parse(a.text) as { error: { code: string; detail: string } };
      t.equal(body.error.code, 'COLLECTOR_ERR_UNAUTHENTICATED');
      t.match(body.error.detail, detail);
      t.match(a.headers['www-authenticate'], /^Bearer/);
    }
  }
  const good = syntheticBatch(1, { tenant: 'tenant-a' });
  const ok = await post({ authorization: `Bearer ${keyA}` }, good);
  t.equal(ok.status, 200, 'the right key is served');
  t.equal((JSON.parse(ok.text) as { accepted_count: number }).accepted_count, 1);
  // Read up to the accepted event, written after every refused request was answered.
  const records = await readUntilIds(bootstrap, TOPIC, [good[0]!.event_id as string]);
  t.ok(eventIds(records).has(good[0]!.event_id as string));
  const ids = eventIds(records);
  t.same(events.map((e) => e.event_id as string).filter((x) => ids.has(x)), [], 'no event of a refused request is in Kafka');
});

t.test('a key of tenant A sending A and B events: A in Kafka, B dead-lettered tenant_forbidden, 207', async (t) => {
  const a = syntheticBatch(3, { tenant: 'tenant-a' });
  const b = syntheticBatch(2, { tenant: 'tenant-b' }, 3);
  const r = await post({ 'x-api-key': keyA }, [a[0], b[0], a[1], b[1], a[2]]);
  t.equal(r.status, 207);
  const body = JSON.parse(r.text) as { accepted_count: number; rejected_count: number; dlq_events: { index: number; reason: string; event_id: string; errors: { code: string }[] }[] };
  t.equal(body.accepted_count, 3);
  t.same(body.dlq_events.map((d) => [d.index, d.reason, d.event_id, d.errors[0]!.code]), [
    [1, 'tenant_forbidden', b[0]!.event_id, 'tenant_forbidden'],
    [3, 'tenant_forbidden', b[1]!.event_id, 'tenant_forbidden'],
  ]);
  const aIds = a.map((e) => e.event_id as string);
  const bIds = b.map((e) => e.event_id as string);
  const main = eventIds(await readUntilIds(bootstrap, TOPIC, aIds));
  t.same(aIds.filter((id) => !main.has(id)), [], "A's events are in the main topic");
  t.same(bIds.filter((id) => main.has(id)), [], "B's are not");
  const dead = await readTopic(bootstrap, DLQ, (rs) => bIds.every((id) => rs.some((x) => x.value.includes(id))));
  for (const id of bIds) {
    const rec = dead.find((x) => x.value.includes(id));
    if (!rec) {
      t.fail(`${id} not in the DLQ`);
      continue;
    }
    t.equal(rec.headers.reason, 'tenant_forbidden');
    t.equal(rec.headers.tenant_id, 'tenant-a', "the sender's tenant: B did not send it, its DLQ route and quota are not A's to use");
    t.match(JSON.parse(rec.value), { reason: 'tenant_forbidden', tenant_id: 'tenant-a', claimed_tenant_id: 'tenant-b', key_id: keyIdOf(keyA), original_event: { event_id: id } });
  }
  // Summed over the processes (the host-wide /metrics has a series per process), once tenant-a's show up.
  const rejected = (text: string, tenant: string) => text.split('\n')
    .filter((l) => l.startsWith(`collector_tenant_events_total{tenant="${tenant}",outcome="rejected"`))
    .reduce((n, l) => n + Number(l.slice(l.lastIndexOf(' ') + 1)), 0);
  let metrics = '';
  for (const until = Date.now() + 15_000; Date.now() < until; await sleep(300)) {
    metrics = (await request(port, 'GET', '/metrics', {})).text;
    if (rejected(metrics, 'tenant-a') >= 2) break;
  }
  t.ok(rejected(metrics, 'tenant-a') >= 2, `the forbidden writes are counted as tenant-a's rejected events (${rejected(metrics, 'tenant-a')})`);
  t.equal(rejected(metrics, 'tenant-b'), 0, 'none against tenant-b, which sent nothing');
  const onlyB = await post({ 'x-api-key': keyA }, b);
  t.equal(onlyB.status, 422, 'only forbidden events: all rejected (422), as for invalid ones');
});

t.test('test endpoint needs a key; with one it writes the key\'s tenant', async (t) => {
  const none = await request(port, 'POST', '/api/v1/test/events?count=5', {});
  answers.push(none.text);
  t.equal(none.status, 401);
  const ok = await request(port, 'POST', '/api/v1/test/events?count=5', { authorization: `Bearer ${keyB}` });
  answers.push(ok.text);
  t.equal(ok.status, 200, ok.text);
  t.equal((JSON.parse(ok.text) as { accepted_count: number }).accepted_count, 5);
});

t.test('revoked while both processes run: 401 from both within seconds, no restart', async (t) => {
  const before = await post({ authorization: `Bearer ${keyB}` }, syntheticBatch(1, { tenant: 'tenant-b' }));
  t.equal(before.status, 200);
  const pids = collectors.map((c) => c.proc.pid);
  const idB = keyB.split('_')[1]!;
  const t0 = Date.now();
  await keys('revoke', idB);
  // Both processes say they reloaded a file with one revoked key.
  const deadline = Date.now() + 30_000;
  const reloaded = (c: RunningCollector) => c.logs.join('').split('\n').some((l) => l.includes('API keys reloaded') && l.includes('"revoked":1'));
  while (!collectors.every(reloaded)) {
    if (Date.now() > deadline) return t.fail('a process never reloaded the keys');
    await sleep(100);
  }
  t.pass(`both processes reloaded ${Date.now() - t0} ms after the revoke`);
  const statuses = new Map<number, number>();
  for (let i = 0; i < 30; i++) {
    const a = await post({ authorization: `Bearer ${keyB}` }, syntheticBatch(1, { tenant: 'tenant-b' }));
    statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1);
    if (a.status === 401) t.match(JSON.parse(a.text), { error: { code: 'COLLECTOR_ERR_UNAUTHENTICATED', detail: 'the API key was revoked' } });
  }
  t.same([...statuses], [[401, 30]], 'every request with the revoked key: 401');
  t.same(collectors.map((c) => c.proc.pid), pids, 'no process restarted');
  t.equal((await post({ authorization: `Bearer ${keyA}` }, syntheticBatch(1, { tenant: 'tenant-a' }))).status, 200, 'other keys still work');
  // Each process answered some of them (the per-process counters of the host-wide /metrics).
  const end = Date.now() + 30_000;
  let per: Map<string, number> = new Map();
  for (;;) {
    const m = await request(port, 'GET', '/metrics', {});
    per = new Map();
    for (const line of m.text.split('\n')) {
      const hit = /^collector_auth_refusals_total\{.*reason="revoked".*\} (\d+)/.exec(line);
      const inst = /instance="([^"]+)"/.exec(line);
      if (hit && inst) per.set(inst[1]!, Number(hit[1]));
    }
    if (per.get('0')! > 0 && per.get('1')! > 0) break;
    if (Date.now() > end) break;
    await sleep(500);
  }
  t.ok(per.get('0')! > 0 && per.get('1')! > 0, `both processes refused the revoked key: ${JSON.stringify([...per])}`);
});

t.test('no secret in any answer or log line', async (t) => {
  const secrets = [keyA, keyB, keyA.slice(-43), keyB.slice(-43)];
  const logs = collectors.map((c) => c.logs.join('')).join('\n');
  t.ok(logs.length > 1000, `${logs.length} bytes of logs captured (level debug)`);
  t.ok(answers.length > 50, `${answers.length} answers captured`);
  for (const s of secrets) {
    t.notOk(logs.includes(s), 'not in the logs');
    t.notOk(answers.some((a) => a.includes(s)), 'not in an answer');
  }
});

t.test('start-up: AUTH_MODE=none beyond loopback is logged loudly; api_key with a bad keys file does not start', async (t) => {
  const open = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ, HOST: '0.0.0.0' });
  await open.stop();
  t.match(open.logs.join(''), /AUTHENTICATION IS OFF \(AUTH_MODE=none\)/);
  const local = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ });
  await local.stop();
  t.notMatch(local.logs.join(''), /AUTHENTICATION IS OFF/, 'not on loopback');
  const bad = join(home, 'bad-keys.json');
  writeFileSync(bad, '{"version": 1, "keys": [{"id": "x"}]}');
  for (const file of [bad, join(home, 'no-such-file.json')]) {
    await t.rejects(
      startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, AUTH_MODE: 'api_key', API_KEYS_FILE: file }, 30_000),
      /collector exited with 1 before listening[\s\S]*(keys\[0\]|ENOENT)/,
      `refuses to start on ${file}`,
    );
  }
});
