/**
 * Hostile input at the public edge: a corpus of bad requests, each with the status and
 * error code it must get, then a fuzz run that mutates valid batches and asserts the
 * collector never crashes, never answers 5xx, and its memory comes back.
 * FUZZ_ITERATIONS sets the fuzz length (`npm run fuzz` runs a long one).
 */
import t from 'tap';
import { gzipSync } from 'node:zlib';
import { request } from 'node:http';
import { randomUUID } from 'node:crypto';
import { sharedBroker } from '../helpers/broker.js';
import { createTopics } from '../helpers/topics.js';
import { startCollector, waitHealthy, type RunningCollector } from '../helpers/collector.js';
import { syntheticBatch } from '../../src/pipeline/synthetic.js';

const { bootstrap } = sharedBroker();
const TOPIC = `events-hostile-${randomUUID().slice(0, 8)}`;
const DLQ = `${TOPIC}-dlq`;
let c: RunningCollector;

t.before(async () => {
  await createTopics([
    { name: TOPIC, partitions: 3 },
    { name: DLQ, partitions: 1 },
  ]);
  c = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ, MAX_BODY_BYTES: '262144', MAX_DECODED_BYTES: '1048576' });
  await waitHealthy(c.url);
});
t.teardown(() => c?.stop());

const JSON_H = { 'content-type': 'application/json' };
const GZ_H = { 'content-type': 'application/json', 'content-encoding': 'gzip' };
const good = () => syntheticBatch(3);

/** [name, body, headers, status, code] */
const corpus: [string, () => string | Buffer, Record<string, string>, number, string][] = [
  ['truncated JSON', () => JSON.stringify(good()).slice(0, 50), JSON_H, 400, 'COLLECTOR_ERR_INVALID_JSON'],
  ['deeply nested array', () => '['.repeat(100_000) + ']'.repeat(100_000), JSON_H, 422, 'COLLECTOR_ERR_ALL_REJECTED'],
  ['deeply nested event_data', () => JSON.stringify([{ ...good()[0], event_data: { x: 0 } }]).replace('{"x":0}', '{"x":' + '['.repeat(60_000) + ']'.repeat(60_000) + '}'), JSON_H, 422, 'COLLECTOR_ERR_ALL_REJECTED'],
  ['top-level number', () => '12345', JSON_H, 400, 'COLLECTOR_ERR_BATCH_SHAPE'],
  ['top-level string', () => '"events"', JSON_H, 400, 'COLLECTOR_ERR_BATCH_SHAPE'],
  ['object without events', () => '{"batch_id":"x"}', JSON_H, 400, 'COLLECTOR_ERR_BATCH_SHAPE'],
  ['empty array', () => '[]', JSON_H, 400, 'COLLECTOR_ERR_EMPTY_BATCH'],
  ['empty body', () => '', JSON_H, 400, 'COLLECTOR_ERR_INVALID_JSON'],
  ['invalid UTF-8', () => Buffer.concat([Buffer.from('[{"a":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}]')]), JSON_H, 400, 'COLLECTOR_ERR_INVALID_UTF8'],
  ['1001 events', () => gzipSync(JSON.stringify(syntheticBatch(1001))), GZ_H, 413, 'COLLECTOR_ERR_TOO_MANY_EVENTS'],
  // ~1 KB of gzip, 500,000 elements: refused for its count, the scanners keep nothing past the 1000th.
  ['500,000 zeros', () => gzipSync(`[${'0,'.repeat(499_999)}0]`), GZ_H, 413, 'COLLECTOR_ERR_TOO_MANY_EVENTS'],
  ['body over the wire limit', () => 'x'.repeat(300_000), JSON_H, 413, 'COLLECTOR_ERR_BODY_TOO_LARGE'],
  ['gzip bomb (100 MB of spaces)', () => gzipSync(Buffer.alloc(100 << 20, 0x20)), GZ_H, 413, 'COLLECTOR_ERR_DECODED_TOO_LARGE'],
  ['corrupt gzip', () => Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4]), GZ_H, 400, 'COLLECTOR_ERR_CORRUPT_GZIP'],
  ['truncated gzip', () => gzipSync(JSON.stringify(good())).subarray(0, 40), GZ_H, 400, 'COLLECTOR_ERR_CORRUPT_GZIP'],
  ['gzip header on plain JSON', () => JSON.stringify(good()), GZ_H, 400, 'COLLECTOR_ERR_CORRUPT_GZIP'],
  ['brotli', () => '[]', { ...JSON_H, 'content-encoding': 'br' }, 415, 'COLLECTOR_ERR_UNSUPPORTED_ENCODING'],
  ['text/plain', () => '[]', { 'content-type': 'text/plain' }, 415, 'COLLECTOR_ERR_UNSUPPORTED_MEDIA_TYPE'],
  ['form content type', () => 'a=b', { 'content-type': 'application/x-www-form-urlencoded' }, 415, 'COLLECTOR_ERR_UNSUPPORTED_MEDIA_TYPE'],
  ['every event invalid', () => JSON.stringify([{ __proto__: 1 }, 42, null]), JSON_H, 422, 'COLLECTOR_ERR_ALL_REJECTED'],
  ['20,000 fields in event_data', () => JSON.stringify([{ ...good()[0], event_data: Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k${i}`, 0])) }]), JSON_H, 422, 'COLLECTOR_ERR_ALL_REJECTED'],
  // 10^5000 is Infinity to a double: refused as inexact_number, never passed on as null.
  ['huge number and key', () => JSON.stringify([{ ...good()[0], ['k'.repeat(10_000)]: 1e308 }]).replace('1e+308', '1' + '0'.repeat(5000)), JSON_H, 422, 'COLLECTOR_ERR_ALL_REJECTED'],
];

t.test('the corpus: each bad request gets its status and error code', async (t) => {
  for (const [name, body, headers, status, code] of corpus) {
    const r = await fetch(`${c.url}/api/v1/collect`, { method: 'POST', body: body(), headers });
    t.equal(r.status, status, `${name}: status`);
    const json = (await r.json()) as { error?: { code: string } };
    if (code) t.equal(json.error?.code, code, `${name}: code`);
  }
});

t.test('a chunked body without Content-Length is counted and cut at the limit', async (t) => {
  const status = await new Promise<number>((resolve, reject) => {
    const req = request(`${c.url}/api/v1/collect`, { method: 'POST', headers: { ...JSON_H, 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', reject);
    for (let i = 0; i < 40; i++) req.write('x'.repeat(10_000));
    req.end();
  });
  t.equal(status, 413);
});

t.test('fuzz: mutated batches never crash the collector nor get a 5xx', async (t) => {
  const iterations = Number(process.env.FUZZ_ITERATIONS ?? 300);
  const rssBefore = await rss(c);
  let seed = 1234567;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const statuses = new Map<number, number>();
  for (let i = 0; i < iterations; i++) {
    const base = Buffer.from(JSON.stringify(syntheticBatch(1 + rand(20))));
    for (let m = 0; m < 1 + rand(8); m++) {
      const at = rand(base.length);
      const op = rand(3);
      if (op === 0) base[at] = rand(256);
      else if (op === 1) base[at] = '{}[]",:0e-\\'.charCodeAt(rand(11));
      else base.fill(0x20, at, Math.min(base.length, at + rand(40)));
    }
    const gz = rand(4) === 0;
    const r = await fetch(`${c.url}/api/v1/collect`, { method: 'POST', body: gz ? gzipSync(base) : base, headers: gz ? GZ_H : JSON_H });
    await r.arrayBuffer();
    statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
  }
  const bad = [...statuses.keys()].filter((s) => s >= 500);
  t.same(bad, [], `no 5xx: ${JSON.stringify([...statuses])}`);
  t.equal(c.proc.exitCode, null, 'still running');
  const h = await fetch(`${c.url}/api/v1/health`);
  t.equal(h.status, 200, 'still healthy');
  const rssAfter = await rss(c);
  t.ok(rssAfter < rssBefore + 64 * 1024 * 1024, `RSS back near baseline (${Math.round(rssBefore / 1048576)} → ${Math.round(rssAfter / 1048576)} MB)`);
});

async function rss(col: RunningCollector): Promise<number> {
  const { readFile } = await import('node:fs/promises');
  const status = await readFile(`/proc/${col.proc.pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0) * 1024;
}
