/**
 * What the operator routes show to whoever reaches the port. /metrics names the tenants of the
 * keys and quota files, so METRICS_TOKEN guards it with a bearer token (what Prometheus scrape
 * configs send); the synthetic-write endpoint is off in production (NODE_ENV=production) unless
 * asked for.
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { sharedBroker } from '../../helpers/broker.js';
import { createTopics } from '../../helpers/topics.js';
import { startCollector, waitHealthy, type RunningCollector } from '../../helpers/collector.js';

const { bootstrap } = sharedBroker();
const TOPIC = `events-exposure-${randomUUID().slice(0, 8)}`;
const DLQ = `${TOPIC}-dlq`;
const TOKEN = `metrics-${randomUUID()}`;
let production: RunningCollector;

t.before(async () => {
  await createTopics([
    { name: TOPIC, partitions: 1 },
    { name: DLQ, partitions: 1 },
  ]);
  production = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ, NODE_ENV: 'production', METRICS_TOKEN: TOKEN });
  await waitHealthy(production.url);
});
t.teardown(() => production?.stop());

t.test('/metrics without the metrics token: 401 with a JSON error, whatever else is sent', async (t) => {
  const asks: [string, Record<string, string>][] = [
    ['no Authorization', {}],
    ['a wrong token', { authorization: 'Bearer not-the-token' }],
    ['a prefix of the token', { authorization: `Bearer ${TOKEN.slice(0, -1)}` }],
    ['the token under another scheme', { authorization: `Basic ${TOKEN}` }],
    ['the token as an API key header', { 'x-api-key': TOKEN }],
  ];
  for (const [name, headers] of asks) {
    const r = await fetch(`${production.url}/metrics`, { headers });
    t.equal(r.status, 401, `${name}: 401`);
    t.match(r.headers.get('content-type'), /application\/json/, `${name}: JSON`);
    t.match(r.headers.get('www-authenticate'), /^Bearer /, `${name}: says which scheme`);
    const body = (await r.json()) as { error?: { code?: string } };
    t.equal(body.error?.code, 'COLLECTOR_ERR_METRICS_UNAUTHENTICATED', `${name}: stable code`);
  }
});

t.test('/metrics with the metrics token: the Prometheus text', async (t) => {
  const r = await fetch(`${production.url}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } });
  t.equal(r.status, 200);
  t.match(r.headers.get('content-type'), /text\/plain/);
  t.match(await r.text(), /^collector_admission_refusals_total\{/m);
});

t.test('health, probes and the JSON metrics stay open for probes and load balancers', async (t) => {
  for (const path of ['/api/v1/health', '/api/v1/metrics', '/livez', '/readyz']) {
    t.equal((await fetch(`${production.url}${path}`)).status, 200, path);
  }
});

t.test('the token is not in the start log', async (t) => {
  t.notOk(production.logs.join('').includes(TOKEN));
});

t.test('production: POST /api/v1/test/events is 404 unless TEST_ENDPOINTS_ENABLED=true', async (t) => {
  const off = await fetch(`${production.url}/api/v1/test/events?count=5`, { method: 'POST' });
  t.equal(off.status, 404);
  t.equal(((await off.json()) as { error?: { code?: string } }).error?.code, 'COLLECTOR_ERR_TEST_ENDPOINTS_DISABLED');

  const asked = await startCollector({
    KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ, NODE_ENV: 'production', TEST_ENDPOINTS_ENABLED: 'true',
  });
  t.teardown(() => asked.stop());
  await waitHealthy(asked.url);
  const on = await fetch(`${asked.url}/api/v1/test/events?count=5`, { method: 'POST' });
  t.equal(on.status, 200, 'served when asked for');
  t.equal(((await on.json()) as { accepted_count?: number }).accepted_count, 5);
  t.equal((await fetch(`${asked.url}/metrics`)).status, 200, 'no METRICS_TOKEN: /metrics is open');
});
