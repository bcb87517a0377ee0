/**
 * The gRPC ingress end to end: a real collector process, the real broker, grpcurl (Go, via
 * reflection only) and a grpc-js client; every delivery claim is read back from Kafka.
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import * as grpc from '@grpc/grpc-js';
import { sharedBroker } from '../../helpers/broker.js';
import { createTopics } from '../../helpers/topics.js';
import { freePort, startCollector, waitHealthy, type RunningCollector } from '../../helpers/collector.js';
import { readTopic, eventIds, type ReadRecord } from '../../helpers/consumer.js';
import { batchOf, collect, eventJson, GRPCURL, grpcClient, grpcurl, idsOf, metric, typedEvent, type CollectorClient } from '../../helpers/grpc.js';
import { decodeStatusDetails } from '../../../src/grpc/contract.js';
import type { CollectResponse } from '../../../src/grpc/ingest.js';

const { bootstrap } = sharedBroker();
const suffix = randomUUID().slice(0, 8);
const TOPIC = `events-grpc-${suffix}`;
const DLQ = `events-dlq-grpc-${suffix}`;

let collector: RunningCollector;
let grpcPort: number;
let client: CollectorClient;

t.setTimeout(600_000);
t.before(async () => {
  await createTopics([
    { name: TOPIC, partitions: 3 },
    { name: DLQ, partitions: 1 },
  ]);
  grpcPort = await freePort();
  collector = await startCollector({
    KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ, MAX_BODY_BYTES: '262144', GRPC_PORT: String(grpcPort),
    GRPC_STREAM_MAX_IN_FLIGHT: '4',
  });
  await waitHealthy(collector.url);
  client = grpcClient(grpcPort);
});
t.teardown(async () => {
  client?.close();
  await collector?.stop();
});

const byId = (records: ReadRecord[]) => new Map(records.map((r) => [(JSON.parse(r.value) as { event_id: string }).event_id, r]));

t.test('grpcurl (reflection only) → Kafka records byte-for-byte those of the HTTP path, headers included', async (t) => {
  if (!existsSync(GRPCURL)) return t.fail(`grpcurl not built at ${GRPCURL} (.ci/run builds it)`);
  const list = await grpcurl(['-plaintext', `127.0.0.1:${grpcPort}`, 'list']);
  t.equal(list.code, 0, list.stderr);
  t.match(list.stdout, /collector\.v1\.EventCollector/);
  t.match(list.stdout, /grpc\.health\.v1\.Health/);
  const health = await grpcurl(['-plaintext', `127.0.0.1:${grpcPort}`, 'grpc.health.v1.Health/Check']);
  t.match(health.stdout, /"SERVING"/, 'health follows readiness: SERVING');

  const batchId = `bytes-${suffix}`;
  // gRPC: one typed event and one raw-JSON event; the same events over HTTP with their own ids (dedup would skip equal ids).
  const typedG = typedEvent();
  const rawG: Record<string, unknown> = { ...eventJson(typedEvent()), extra_field: 'kept' };
  const req = {
    batch_id: batchId,
    events: [
      // protobuf's JSON mapping, as grpcurl takes it: Struct as a plain object, Timestamp as RFC 3339
      {
        event: {
          ...typedG,
          timestamp: '2024-01-15T10:30:00.123Z',
          // one key: Struct is a protobuf map, which Go clients write in random order (the collector keeps wire order)
          event_data: { score: 42.5 },
          metadata: { session_id: 'sess-1' },
        },
      },
      { json: Buffer.from(JSON.stringify(rawG)).toString('base64') },
    ],
  };
  const r = await grpcurl(['-plaintext', '-d', '@', `127.0.0.1:${grpcPort}`, 'collector.v1.EventCollector/Collect'], JSON.stringify(req));
  t.equal(r.code, 0, r.stderr);
  // grpcurl prints the proto's field names
  const answer = JSON.parse(r.stdout) as { batch_id: string; outcome: string; accepted_count: number };
  t.equal(answer.batch_id, batchId);
  t.equal(answer.outcome, 'OUTCOME_ACCEPTED');
  t.equal(answer.accepted_count, 2);

  const typedH: Record<string, unknown> = { ...eventJson(typedEvent()), learner_id: typedG.learner_id, event_data: { score: 42.5 } };
  const rawH: Record<string, unknown> = { ...rawG, event_id: randomUUID() };
  const http = await fetch(`${collector.url}/api/v1/collect`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ batch_id: batchId, events: [{ ...typedH, learner_id: typedG.learner_id }, rawH] }),
  });
  t.equal(http.status, 200);

  const want = [typedG.event_id as string, rawG.event_id as string, typedH.event_id as string, rawH.event_id as string];
  const records = byId(await readTopic(bootstrap, TOPIC, (rs) => { const have = byId(rs); return want.every((id) => have.has(id)); }));
  const pairs: [string, string, string][] = [
    ['typed event', typedG.event_id as string, typedH.event_id as string],
    ['raw JSON event', rawG.event_id as string, rawH.event_id as string],
  ];
  for (const [name, g, h] of pairs) {
    const rg = records.get(g);
    const rh = records.get(h);
    if (!rg || !rh) {
      t.fail(`${name}: both records in Kafka`);
      continue;
    }
    // The only difference allowed: the event_id (equal ids would be deduplicated) and received_at.
    t.equal(rg.value.replace(g, 'ID'), rh.value.replace(h, 'ID'), `${name}: value bytes equal\n${rg.value}\n${rh.value}`);
    t.equal(rg.key, rh.key, `${name}: key`);
    t.equal(rg.partition, rh.partition, `${name}: partition`);
    t.same(Object.keys(rg.headers), Object.keys(rh.headers), `${name}: header names and order`);
    t.same({ ...rg.headers, received_at: '' }, { ...rh.headers, received_at: '' }, `${name}: header values (received_at aside)`);
  }
});

t.test('grpc-js typed event (Struct of several keys, Timestamp with millis, priority) = the HTTP record', async (t) => {
  const g = typedEvent();
  const h: Record<string, unknown> = { ...eventJson(typedEvent()), learner_id: g.learner_id };
  const batchId = `typed-${suffix}`;
  const r = await collect(client, { batch_id: batchId, events: [{ event: g }] });
  t.equal(r.res?.accepted_count, 1);
  const http = await fetch(`${collector.url}/api/v1/collect`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ batch_id: batchId, events: [h] }),
  });
  t.equal(http.status, 200);
  const want = [g.event_id as string, h.event_id as string];
  const records = byId(await readTopic(bootstrap, TOPIC, (rs) => { const have = byId(rs); return want.every((id) => have.has(id)); }));
  const rg = records.get(want[0]!);
  const rh = records.get(want[1]!);
  t.ok(rg && rh, 'both in Kafka');
  t.equal(rg?.value.replace(want[0]!, 'ID'), rh?.value.replace(want[1]!, 'ID'), 'value bytes equal');
  t.same({ ...rg?.headers, received_at: '' }, { ...rh?.headers, received_at: '' }, 'headers equal (received_at aside)');
  t.equal(rg?.partition, rh?.partition, 'partition');
});

t.test('Collect: whole-batch errors are statuses with the collector code and google.rpc details', async (t) => {
  const empty = await collect(client, { batch_id: 'empty', events: [] });
  t.equal(empty.err?.code, grpc.status.INVALID_ARGUMENT);
  t.equal(empty.err?.metadata.get('collector-error-code')[0], 'COLLECTOR_ERR_EMPTY_BATCH');
  const details = decodeStatusDetails(empty.err!.metadata.get('grpc-status-details-bin')[0] as Buffer);
  t.equal(details.reason, 'COLLECTOR_ERR_EMPTY_BATCH');
  t.equal(details.retryDelayS, undefined, 'no RetryInfo on a bad batch');

  const wrongEnum = await collect(client, { events: [{ event: typedEvent({ event_type: 9 }) }] });
  t.equal(wrongEnum.err, null, 'a bad event is a dead letter, not a call error');
  t.equal(wrongEnum.res?.outcome, 'OUTCOME_ALL_REJECTED');
  t.match(wrongEnum.res?.dlq_events?.[0], { index: 0, reason: 'validation', errors: [{ path: '/event_type' }] });
});

/** Sends batches on one stream (waiting for each write to be taken) and collects the answers. */
async function streamBatches(c: CollectorClient, batches: object[]): Promise<CollectResponse[]> {
  const call = c.CollectStream();
  const answers: CollectResponse[] = [];
  const done = new Promise<void>((resolve, reject) => {
    call.on('data', (a: CollectResponse) => answers.push(a));
    call.on('end', resolve);
    call.on('error', reject);
  });
  for (const b of batches) {
    if (!call.write(b)) await new Promise((r) => call.once('drain', r));
  }
  call.end();
  await done;
  return answers;
}

t.test('CollectStream: 10,000 events in 100 batches on one stream, answers in order, every event in Kafka once', async (t) => {
  const batches = Array.from({ length: 100 }, (_, i) => batchOf(100, `s10k-${suffix}-${i}`));
  const answers = await streamBatches(client, batches);
  t.equal(answers.length, 100, '100 answers');
  t.same(answers.map((a) => a.batch_id), batches.map((b) => b.batch_id), 'in request order');
  t.equal(answers.filter((a) => a.outcome === 'OUTCOME_ACCEPTED' && a.accepted_count === 100).length, 100, 'all accepted');
  const ids = new Set(batches.flatMap(idsOf));
  const records = await readTopic(bootstrap, TOPIC, (rs) => { const have = eventIds(rs); return [...ids].every((id) => have.has(id)); }, 120_000);
  const mine = records.filter((r) => ids.has((JSON.parse(r.value) as { event_id: string }).event_id));
  t.equal(eventIds(mine).size, 10_000, 'every event in Kafka');
  t.equal(mine.length, 10_000, 'each once');
});

t.test('bad input on a stream: the right code per batch, the stream and the process go on', async (t) => {
  const good1 = batchOf(3, `good1-${suffix}`);
  const good2 = batchOf(3, `good2-${suffix}`);
  const huge = { batch_id: 'huge', events: [{ json: Buffer.from(JSON.stringify({ ...eventJson(typedEvent()), event_data: { pad: 'x'.repeat(300_000) } })) }] };
  const batches = [
    good1,
    { batch_id: 'empty', events: [] },
    // tiny raw events so the count, not the byte limit, is what is over
    { batch_id: 'too-many', events: Array.from({ length: 1001 }, () => ({ json: Buffer.from('{}') })) },
    { batch_id: 'enum', events: [{ event: typedEvent({ event_type: 42 }) }] },
    huge,
    { batch_id: 'garbage', events: [{ json: Buffer.from([0x7b, 0xff, 0xfe, 0x22]) }, { json: Buffer.from('{"a":1},{"b":2}') }] },
    { batch_id: 'neither', events: [{}] },
    good2,
  ];
  const answers = await streamBatches(client, batches);
  t.same(answers.map((a) => a.batch_id), batches.map((b) => b.batch_id), 'one answer per batch, in order');
  const by = new Map(answers.map((a) => [a.batch_id, a]));
  t.match(by.get('empty'), { outcome: 'OUTCOME_REFUSED', error: { grpc_code: grpc.status.INVALID_ARGUMENT, code: 'COLLECTOR_ERR_EMPTY_BATCH' } });
  t.match(by.get('too-many'), { outcome: 'OUTCOME_REFUSED', error: { grpc_code: grpc.status.INVALID_ARGUMENT, code: 'COLLECTOR_ERR_TOO_MANY_EVENTS' } });
  t.match(by.get('enum'), { outcome: 'OUTCOME_ALL_REJECTED', rejected_count: 1, dlq_events: [{ reason: 'validation' }] });
  t.match(by.get('huge'), { outcome: 'OUTCOME_REFUSED', error: { grpc_code: grpc.status.RESOURCE_EXHAUSTED, code: 'COLLECTOR_ERR_BODY_TOO_LARGE' } });
  t.match(by.get('garbage'), { outcome: 'OUTCOME_REFUSED', error: { grpc_code: grpc.status.INVALID_ARGUMENT, code: 'COLLECTOR_ERR_INVALID_JSON' } });
  t.match(by.get('neither'), { outcome: 'OUTCOME_REFUSED', error: { grpc_code: grpc.status.INVALID_ARGUMENT, code: 'COLLECTOR_ERR_BATCH_SHAPE' } });
  t.match(by.get(good1.batch_id), { outcome: 'OUTCOME_ACCEPTED', accepted_count: 3 });
  t.match(by.get(good2.batch_id), { outcome: 'OUTCOME_ACCEPTED', accepted_count: 3 }, 'the stream went on after the bad batches');
  // A smuggling attempt ({..},{..} as one json entry) was refused as a whole, not written as two events.
  const ok = await collect(client, batchOf(2));
  t.equal(ok.res?.accepted_count, 2, 'the process serves unary calls afterwards');
});

t.test('a stream cut mid-way loses no acknowledged event and leaks no admission place', async (t) => {
  const call = client.CollectStream();
  const acked: string[] = [];
  const batches = Array.from({ length: 40 }, (_, i) => batchOf(50, `cut-${suffix}-${i}`));
  const byBatch = new Map(batches.map((b) => [b.batch_id, idsOf(b)]));
  await new Promise<void>((resolve) => {
    call.on('data', (a: CollectResponse) => {
      if (a.outcome === 'OUTCOME_ACCEPTED') acked.push(...byBatch.get(a.batch_id)!);
      if (acked.length >= 5 * 50) {
        call.cancel();
        resolve();
      }
    });
    call.on('error', () => resolve());
    for (const b of batches) call.write(b);
  });
  t.ok(acked.length >= 250, `${acked.length} events acknowledged before the cut`);
  // Every process-wide admission place comes back once the pipeline is done with the cut stream's batches.
  const deadline = Date.now() + 60_000;
  let inFlight = -1;
  while (Date.now() < deadline) {
    inFlight = await metric(collector.url, 'collector_requests_in_flight');
    if (inFlight === 0 && (await metric(collector.url, 'collector_grpc_active_streams')) === 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  t.equal(inFlight, 0, 'admission in flight back to 0');
  t.equal(await metric(collector.url, 'collector_grpc_active_streams'), 0, 'no stream left open');
  const records = await readTopic(bootstrap, TOPIC, (rs) => { const have = eventIds(rs); return acked.every((id) => have.has(id)); }, 60_000);
  const found = eventIds(records);
  t.same(acked.filter((id) => !found.has(id)), [], 'every acknowledged event is in Kafka');
  const again = await streamBatches(client, [batchOf(5)]);
  t.equal(again[0]?.accepted_count, 5, 'a new stream is served');
});
