/**
 * AUTH_MODE=api_key on the gRPC door: the same keys as HTTP, from call metadata. No key or a wrong
 * key → UNAUTHENTICATED and nothing written; a key writes only its tenants (tenant_forbidden dead
 * letters); a key revoked while a stream is open stops working on that stream's next batch.
 */
import t from 'tap';
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { randomUUID } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { sharedBroker } from '../../helpers/broker.js';
import { createTopics } from '../../helpers/topics.js';
import { freePort, startCollector, waitHealthy } from '../../helpers/collector.js';
import { readTopic, readUntilIds, eventIds } from '../../helpers/consumer.js';
import { grpcClient, typedEvent, type CollectorClient } from '../../helpers/grpc.js';
import type { CollectResponse } from '../../../src/grpc/ingest.js';

t.setTimeout(300_000);
const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../../src/auth/cli.js', import.meta.url));
const { bootstrap } = sharedBroker();
const TOPIC = `events-grpc-auth-${randomUUID().slice(0, 8)}`;
const DLQ = `${TOPIC}-dlq`;
const KEYS = join(mkdtempSync(join(os.tmpdir(), 'grpc-auth-')), 'api-keys.json');
const keys = async (...args: string[]) => (await run(process.execPath, [CLI, '--file', KEYS, ...args])).stdout.trim();

function withKey(key?: string, header: 'authorization' | 'x-api-key' = 'authorization'): grpc.Metadata {
  const md = new grpc.Metadata();
  if (key !== undefined) md.set(header, header === 'authorization' ? `Bearer ${key}` : key);
  return md;
}

function call(client: CollectorClient, req: object, md: grpc.Metadata): Promise<{ err: grpc.ServiceError | null; res?: CollectResponse }> {
  return new Promise((resolve) => client.Collect(req, md, { deadline: Date.now() + 60_000 }, (err, res) => resolve({ err, res })));
}

const batch = (...tenants: string[]) => ({ batch_id: randomUUID(), events: tenants.map((tenant_id) => ({ event: typedEvent({ tenant_id }) })) });
const ids = (b: ReturnType<typeof batch>) => b.events.map((e) => e.event.event_id as string);

t.test('gRPC with API keys', async (t) => {
  await createTopics([{ name: TOPIC, partitions: 3 }, { name: DLQ, partitions: 1 }]);
  const keyA = await keys('add', '--tenant', 'tenant_alpha');
  const keyB = await keys('add', '--tenant', 'tenant_beta');
  const port = await freePort();
  const c = await startCollector({
    KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ, GRPC_PORT: String(port),
    AUTH_MODE: 'api_key', API_KEYS_FILE: KEYS, AUTH_RELOAD_MS: '200',
  });
  t.teardown(() => c.stop());
  await waitHealthy(c.url);
  const client = grpcClient(port);
  t.teardown(() => client.close());

  // Refusals first: nothing of these batches may reach Kafka.
  const refusedBatches = [batch('tenant_alpha'), batch('tenant_alpha'), batch('tenant_alpha')];
  const none = await call(client, refusedBatches[0]!, withKey());
  t.equal(none.err?.code, grpc.status.UNAUTHENTICATED, 'no key: UNAUTHENTICATED');
  t.match(none.err?.details, /no API key/);
  const wrong = await call(client, refusedBatches[1]!, withKey(`${keyA.slice(0, -4)}AAAA`));
  t.equal(wrong.err?.code, grpc.status.UNAUTHENTICATED, 'a wrong secret: UNAUTHENTICATED');
  t.notMatch(JSON.stringify(wrong.err?.metadata.getMap() ?? {}) + (wrong.err?.details ?? ''), keyA.slice(-8), 'the answer does not echo the key');
  const basicMd = new grpc.Metadata();
  basicMd.set('authorization', 'Basic dXNlcjpwdw==');
  const basic = await call(client, refusedBatches[2]!, basicMd);
  t.equal(basic.err?.code, grpc.status.UNAUTHENTICATED, 'another scheme is no key');

  const streamNoKey = client.CollectStream(withKey());
  const streamErr = await new Promise<grpc.ServiceError>((resolve) => {
    streamNoKey.on('error', resolve);
    streamNoKey.on('data', () => undefined);
    streamNoKey.write(batch('tenant_alpha'));
  });
  t.equal(streamErr.code, grpc.status.UNAUTHENTICATED, 'a stream without a key is refused as a call');

  // Key A writes tenant_alpha; its tenant_beta event is dead-lettered as tenant_forbidden.
  const mixed = batch('tenant_alpha', 'tenant_beta', 'tenant_alpha');
  const ok = await call(client, mixed, withKey(keyA, 'x-api-key'));
  t.equal(ok.err, null, 'key A (x-api-key) is served');
  t.equal(ok.res?.outcome, 'OUTCOME_PARTIAL');
  t.equal(ok.res?.accepted_count, 2);
  t.match(ok.res?.dlq_events, [{ index: 1, reason: 'tenant_forbidden', errors: [{ code: 'tenant_forbidden' }] }]);

  // A stream on key B; B is revoked while it is open; the next batch on it is refused.
  const stream = client.CollectStream(withKey(keyB));
  const answers: CollectResponse[] = [];
  let waiting: (() => void) | undefined;
  stream.on('data', (r: CollectResponse) => { answers.push(r); waiting?.(); });
  stream.on('error', () => undefined);
  const next = () => new Promise<CollectResponse>((resolve) => {
    const n = answers.length;
    waiting = () => { if (answers.length > n) resolve(answers[n]!); };
  });
  const before = batch('tenant_beta', 'tenant_beta');
  let a = next();
  stream.write(before);
  t.equal((await a).accepted_count, 2, 'key B streams tenant_beta');
  await keys('revoke', keyB.split('_')[1]!);
  for (const end = Date.now() + 30_000; !c.logs.join('').includes('"revoked":1') && Date.now() < end;) await new Promise((r) => setTimeout(r, 100));
  const after = batch('tenant_beta');
  a = next();
  stream.write(after);
  const refused = await a;
  t.equal(refused.error?.code, 'COLLECTOR_ERR_UNAUTHENTICATED', 'after the revocation the same stream is refused');
  t.equal(refused.error?.grpc_code, grpc.status.UNAUTHENTICATED);
  t.notOk(refused.accepted_count, 'nothing of it acknowledged');
  stream.end();

  const main = await readUntilIds(bootstrap, TOPIC, [...ids(mixed).filter((_, i) => i !== 1), ...ids(before)]);
  const found = eventIds(main);
  t.same([...ids(mixed).filter((_, i) => i !== 1), ...ids(before)].filter((id) => !found.has(id)), [], 'the authorised events are in Kafka');
  // Everything else must be absent: read the topic once more after a moment for late records.
  const all = eventIds(await readTopic(bootstrap, TOPIC, () => false, 5_000));
  const mustNot = [...refusedBatches.flatMap(ids), ids(mixed)[1]!, ...ids(after)];
  t.same(mustNot.filter((id) => all.has(id)), [], 'no refused or forbidden event reached the main topic');
  const dead = await readTopic(bootstrap, DLQ, (rs) => rs.some((r) => r.headers.reason === 'tenant_forbidden'));
  t.ok(dead.some((r) => r.headers.reason === 'tenant_forbidden' && r.value.includes(ids(mixed)[1]!)), 'the forbidden event is in the DLQ');
  const metrics = await (await fetch(`${c.url}/metrics`)).text();
  t.match(metrics, /collector_auth_refusals_total\{[^}]*reason="missing"[^}]*\} [1-9]/, 'refusals counted');
});
