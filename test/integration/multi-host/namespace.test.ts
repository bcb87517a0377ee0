/**
 * Several collector hosts on one machine: what a host keeps outside its BUFFER_DIR (the dedup and
 * quota tables in /dev/shm) is named by HOST_NAMESPACE, so a host never attaches to another's
 * tables — here two hosts that use the same port one after the other, as tests and demos do.
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { existsSync, rmSync } from 'node:fs';
import { sharedBroker } from '../../helpers/broker.js';
import { createTopics } from '../../helpers/topics.js';
import { freePort, startCollector } from '../../helpers/collector.js';
import { syntheticBatch } from '../../../src/pipeline/synthetic.js';
import { defaultDedupPath } from '../../../src/dedup/table.js';
import { defaultQuotaPath } from '../../../src/quota/table.js';

t.test('two hosts on the same port in different namespaces share no dedup or quota table', async (t) => {
  const { bootstrap } = sharedBroker();
  const topic = `events-ns-${randomUUID().slice(0, 8)}`;
  await createTopics([{ name: topic, partitions: 1 }, { name: `${topic}-dlq`, partitions: 1 }]);
  const port = await freePort();
  const nsA = `a${randomUUID().slice(0, 6)}`;
  const nsB = `b${randomUUID().slice(0, 6)}`;
  const files = [port, `${nsA}-${port}`, `${nsB}-${port}`].flatMap((n) => [defaultDedupPath(n), defaultQuotaPath(n)]);
  t.teardown(() => files.forEach((f) => { rmSync(f, { force: true }); }));
  const quotas = JSON.stringify({ quotas: { '*': { events_per_second: 1000 } } });
  const quotaFile = `${files[0]}.json`;
  (await import('node:fs')).writeFileSync(quotaFile, quotas);
  t.teardown(() => rmSync(quotaFile, { force: true }));
  // The defaults under test: no DEDUP_PATH / QUOTA_PATH of the test helper's.
  const env = { KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: topic, DLQ_TOPIC: `${topic}-dlq`, PORT: String(port), DEDUP_PATH: '', TENANT_QUOTAS_FILE: quotaFile };
  const events = syntheticBatch(20);
  const post = (url: string) => fetch(`${url}/api/v1/collect`, { method: 'POST', body: JSON.stringify(events), headers: { 'content-type': 'application/json' } });

  const a = await startCollector({ ...env, HOST_NAMESPACE: nsA });
  const first = await post(a.url);
  t.equal(first.status, 200);
  t.match(await first.json(), { accepted_count: 20, duplicate_count: 0 });
  await a.stop();

  const b = await startCollector({ ...env, HOST_NAMESPACE: nsB });
  t.teardown(() => b.stop());
  const second = await post(b.url);
  t.equal(second.status, 200);
  t.match(await second.json(), { accepted_count: 20, duplicate_count: 0 }, 'host B does not know host A\'s claims');
  t.ok(existsSync(defaultDedupPath(`${nsA}-${port}`)) && existsSync(defaultDedupPath(`${nsB}-${port}`)), 'one dedup table per namespace');
  t.ok(existsSync(defaultQuotaPath(`${nsA}-${port}`)) && existsSync(defaultQuotaPath(`${nsB}-${port}`)), 'one quota table per namespace');
  t.notOk(existsSync(defaultDedupPath(port)), 'nothing under the namespace-less name');
});
