/**
 * Browsers reaching the collector: CORS preflight answered by the acceptor alone, the allowed
 * origin echoed on every collect answer, a foreign origin refused, and sendBeacon's text/plain
 * bodies taken as JSON, read back from the real broker. Off by default: no OPTIONS route, no
 * text/plain. The browser's own CORS check is exercised in test/integration/clients/browser.test.ts.
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { request } from 'undici';
import { sharedBroker } from '../helpers/broker.js';
import { createTopics } from '../helpers/topics.js';
import { startCollector, waitHealthy, type RunningCollector } from '../helpers/collector.js';
import { readUntilIds } from '../helpers/consumer.js';
import { syntheticBatch } from '../../src/pipeline/synthetic.js';

const { bootstrap } = sharedBroker();
const suffix = randomUUID().slice(0, 8);
const TOPIC = `events-cors-${suffix}`;
const DLQ = `events-dlq-cors-${suffix}`;
const ALLOWED = 'http://app.example.test:8080';

let on: RunningCollector;
let off: RunningCollector;

t.before(async () => {
  await createTopics([{ name: TOPIC, partitions: 3 }, { name: DLQ, partitions: 1 }]);
  const base = { KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ };
  [on, off] = await Promise.all([
    startCollector({ ...base, CORS_ALLOWED_ORIGINS: `${ALLOWED}, https://other.example.test`, CORS_MAX_AGE_S: '900' }),
    startCollector(base),
  ]);
  await Promise.all([waitHealthy(on.url), waitHealthy(off.url)]);
});
t.teardown(async () => {
  await Promise.all([on?.stop(), off?.stop()]);
});

// undici's request: fetch would apply its own CORS rules to Origin and OPTIONS.
const call = async (url: string, method: 'OPTIONS' | 'POST', headers: Record<string, string>, body?: string) => {
  const r = await request(url, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await r.body.text();
  return { status: r.statusCode, headers: r.headers, json: text ? (JSON.parse(text) as { error?: { code: string }; accepted_count?: number }) : null };
};

const preflight = (c: RunningCollector, origin: string, extra: Record<string, string> = {}) =>
  call(`${c.url}/api/v1/collect`, 'OPTIONS', {
    origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, content-encoding, authorization', ...extra,
  });

t.test('preflight from an allowed origin: 204 with the allowed method, headers and Max-Age', async (t) => {
  const r = await preflight(on, ALLOWED);
  t.equal(r.status, 204);
  t.equal(r.headers['access-control-allow-origin'], ALLOWED, 'the origin echoed, never *');
  t.match(String(r.headers['access-control-allow-methods']), /POST/);
  const allowHeaders = String(r.headers['access-control-allow-headers']).toLowerCase();
  for (const h of ['content-type', 'content-encoding', 'authorization', 'x-api-key']) t.match(allowHeaders, h);
  t.equal(r.headers['access-control-max-age'], '900');
  t.match(String(r.headers.vary), /Origin/i);
  t.notOk(r.headers['access-control-allow-credentials'], 'no credentials unless configured');
});

t.test('preflight from another origin: refused, no allow header', async (t) => {
  const r = await preflight(on, 'https://evil.example.test');
  t.equal(r.status, 403);
  t.equal(r.json?.error?.code, 'COLLECTOR_ERR_ORIGIN_FORBIDDEN');
  t.notOk(r.headers['access-control-allow-origin']);
  // An origin differing only by port or scheme is another origin: exact match only.
  t.equal((await preflight(on, 'http://app.example.test:8081')).status, 403);
  t.equal((await preflight(on, 'https://app.example.test:8080')).status, 403);
});

t.test('the collect answer carries the allowed origin and exposes Retry-After', async (t) => {
  const batch = syntheticBatch(3);
  const r = await call(`${on.url}/api/v1/collect`, 'POST', { origin: ALLOWED, 'content-type': 'application/json' }, JSON.stringify(batch));
  t.equal(r.status, 200);
  t.equal(r.headers['access-control-allow-origin'], ALLOWED);
  t.match(String(r.headers['access-control-expose-headers']).toLowerCase(), 'retry-after');
  // An error answer too: the browser must be allowed to read why it was refused.
  const bad = await call(`${on.url}/api/v1/collect`, 'POST', { origin: ALLOWED, 'content-type': 'application/json' }, '[');
  t.equal(bad.status, 400);
  t.equal(bad.headers['access-control-allow-origin'], ALLOWED);
});

t.test('a write from a foreign origin is refused before the body is read (a beacon needs no preflight)', async (t) => {
  const r = await call(`${on.url}/api/v1/collect`, 'POST', { origin: 'https://evil.example.test', 'content-type': 'text/plain' }, JSON.stringify(syntheticBatch(1)));
  t.equal(r.status, 403);
  t.equal(r.json?.error?.code, 'COLLECTOR_ERR_ORIGIN_FORBIDDEN');
});

t.test('a text/plain beacon body is parsed as JSON and reaches Kafka', async (t) => {
  const batch = syntheticBatch(5);
  const r = await call(`${on.url}/api/v1/collect`, 'POST', { origin: ALLOWED, 'content-type': 'text/plain;charset=UTF-8' }, JSON.stringify(batch));
  t.equal(r.status, 200);
  t.equal(r.json?.accepted_count, 5);
  const ids = batch.map((e) => e.event_id as string);
  const records = await readUntilIds(bootstrap, TOPIC, ids);
  const seen = records.map((rec) => (JSON.parse(rec.value) as { event_id: string }).event_id).filter((id) => ids.includes(id));
  t.same(seen.sort(), [...ids].sort(), 'every beacon event in Kafka, once');
  // Same validation as JSON: a broken beacon body is a 400, not a crash.
  const bad = await call(`${on.url}/api/v1/collect`, 'POST', { origin: ALLOWED, 'content-type': 'text/plain' }, 'not json');
  t.equal(bad.status, 400);
  t.equal(bad.json?.error?.code, 'COLLECTOR_ERR_INVALID_JSON');
});

t.test('off by default: no preflight answer, text/plain refused, no CORS headers', async (t) => {
  const p = await preflight(off, ALLOWED);
  t.equal(p.status, 405, 'OPTIONS is not a method of the collect route');
  t.notOk(p.headers['access-control-allow-origin']);
  const plain = await call(`${off.url}/api/v1/collect`, 'POST', { origin: ALLOWED, 'content-type': 'text/plain' }, JSON.stringify(syntheticBatch(1)));
  t.equal(plain.status, 415);
  const json = await call(`${off.url}/api/v1/collect`, 'POST', { origin: ALLOWED, 'content-type': 'application/json' }, JSON.stringify(syntheticBatch(1)));
  t.equal(json.status, 200, 'server-side writes are unchanged');
  t.notOk(json.headers['access-control-allow-origin']);
});
