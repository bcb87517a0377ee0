/**
 * A registry that answers absurdly (latest version 1e9 of a subject) does not wedge a collector:
 * before, the process walked versions 1..1e9 one request at a time before listening, its cache
 * growing by one entry per version. Now it starts at once, refuses the subject with a log line that
 * names it and the bound, counts the refusal, and reports the schemas degraded. The registry is a
 * tiny local server answering like a broken one (test/helpers/misbehaving-registry.ts).
 */
import t from 'tap';
import { sharedBroker } from '../helpers/broker.js';
import { startCollector } from '../helpers/collector.js';
import { metric } from '../helpers/grpc.js';
import { startMisbehavingRegistry } from '../helpers/misbehaving-registry.js';

t.setTimeout(120_000);
const { bootstrap } = sharedBroker();

t.test('latest version 1e9: the collector starts, refuses the subject, logs and counts it', async (t) => {
  const reg = await startMisbehavingRegistry();
  t.teardown(() => reg.close());
  reg.latest.set('events-assessment', { subject: 'events-assessment', version: 1e9, id: 1, schemaType: 'JSON', schema: '{"type":"object"}' });
  const c = await startCollector({
    KAFKA_BOOTSTRAP_SERVERS: bootstrap,
    SCHEMA_REGISTRY_URL: reg.url,
    SCHEMA_REGISTRY_MAX_VERSIONS: '50',
    SCHEMA_REGISTRY_REFRESH_MS: '300',
  }, 30_000);
  t.teardown(() => c.stop());
  const logs = c.logs.join('');
  t.match(logs, /events-assessment: the registry answered latest version 1000000000; at most SCHEMA_REGISTRY_MAX_VERSIONS \(50\) versions of a subject are read/, 'a clear log line');
  t.ok(reg.requests < 100, `a bounded number of registry requests at boot (${reg.requests})`);
  const health = (await (await fetch(`${c.url}/api/v1/health`)).json()) as { payload_schemas: { status: string } };
  t.equal(health.payload_schemas.status, 'degraded');
  await new Promise((r) => setTimeout(r, 1000)); // a few refreshes: each asks again and is refused again
  t.ok((await metric(c.url, 'collector_schema_registry_refused_answers_total', 'reason="too_many_versions"')) >= 2, 'counted at boot and at refreshes');
});
