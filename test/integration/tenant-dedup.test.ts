/**
 * Dedup is per tenant: with API keys, one tenant cannot suppress another's event by sending its
 * event_id first, nor get the other's batch refused while its own copy is in flight. Regression:
 * claims were keyed by event_id alone (tenant_beta was answered 200 duplicate_count 1, nothing written).
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import { sharedBroker } from '../helpers/broker.js';
import { createTopics } from '../helpers/topics.js';
import { startCollector } from '../helpers/collector.js';
import { readTopic } from '../helpers/consumer.js';
import { syntheticBatch } from '../../src/pipeline/synthetic.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../src/auth/cli.js', import.meta.url));

t.test('two tenants, the same event_id: both records written, neither told duplicate', async (t) => {
  const { bootstrap } = sharedBroker();
  const topic = `events-tdedup-${randomUUID().slice(0, 8)}`;
  await createTopics([{ name: topic, partitions: 3 }, { name: `${topic}-dlq`, partitions: 1 }]);
  const file = join(mkdtempSync(join(os.tmpdir(), 'tdedup-')), 'keys.json');
  const key = async (tenant: string) => (await run(process.execPath, [CLI, '--file', file, 'add', '--tenant', tenant])).stdout.trim().split(/\s+/).pop()!;
  const alpha = await key('tenant_alpha');
  const beta = await key('tenant_beta');
  const c = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: topic, DLQ_TOPIC: `${topic}-dlq`, AUTH_MODE: 'api_key', API_KEYS_FILE: file });
  t.teardown(() => c.stop());
  const shared = randomUUID();
  const send = async (tenant: string, k: string) => {
    const [ev] = syntheticBatch(1);
    Object.assign(ev!, { event_id: shared, tenant_id: tenant });
    const r = await fetch(`${c.url}/api/v1/collect`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${k}` }, body: JSON.stringify([ev]) });
    return { status: r.status, body: (await r.json()) as { duplicate_count: number; accepted_count: number } };
  };
  const a = await send('tenant_alpha', alpha);
  const b = await send('tenant_beta', beta);
  t.equal(a.status, 200);
  t.equal(b.status, 200);
  t.equal(b.body.duplicate_count, 0, 'tenant_beta\'s event is not a duplicate of tenant_alpha\'s');
  const again = await send('tenant_alpha', alpha);
  t.equal(again.body.duplicate_count, 1, 'a real retry of the same tenant is still a duplicate');
  const recs = await readTopic(bootstrap, topic, (rs) => rs.length >= 2, 20_000);
  t.same(recs.map((r) => r.headers.tenant_id).sort(), ['tenant_alpha', 'tenant_beta'], 'both records in Kafka, once each');
});
