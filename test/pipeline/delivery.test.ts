/**
 * What the deliverer spills of a batch keeps the batch's order. librdkafka's answers are stood in
 * for (the records it refuses at once, the reports it gives later), so a batch can fail both ways
 * at once: record 0 enqueued and then timed out, record 1 refused with QUEUE_FULL and the rest held
 * back behind it (native/producer). Everything else is real: EventProducer, Deliverer, the spill
 * worker and its log on disk, the host order table.
 */
import { TopicRoutes } from '../../src/pipeline/routes.js';
import t from 'tap';
import pino from 'pino';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../src/config/load.js';
import { EventProducer } from '../../src/producer/producer.js';
import { standInProducer } from '../helpers/stand-in-producer.js';
import { Circuit } from '../../src/producer/circuit.js';
import { Deliverer } from '../../src/pipeline/delivery.js';
import { SpillClient } from '../../src/spill/client.js';
import { HostTable } from '../../src/replay/index.js';
import { OrderHeads, orderKey } from '../../src/replay/index.js';
import { decodeSpilledBatch } from '../../src/spill/batch-codec.js';
import { Telemetry } from '../../src/telemetry/telemetry.js';
import { PackedBuilder } from '../../src/codec/packed.js';

t.test('a batch failing in its reports and refused at once is spilled in record order', async (t) => {
  const dir = mkdtempSync(join(os.tmpdir(), 'delivery-'));
  const log = pino({ level: 'silent' });
  const spill = new SpillClient({ baseDir: dir, instance: 'delivery-test', maxBytes: 16 << 20, segmentBytes: 1 << 20 }, log);
  t.teardown(async () => {
    await spill.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const hello = await spill.ready;
  const host = HostTable.open(dir);
  const own = hello.sources[0]!.dir;
  const heads = new OrderHeads(host, own);
  heads.track(own, false);
  heads.setDurable(own, hello.sources[0]!.nextSeq);

  const producer = new EventProducer(loadConfig({}), log, standInProducer([{ refuseFrom: 1, fail: [0] }]).native);
  await producer.connect();
  const deliverer = new Deliverer({
    producer, spill, circuit: new Circuit(1000, 'closed'), telemetry: new Telemetry(), log, spillAfterMs: 30_000,
    dlqRoutes: TopicRoutes.parse('', 'dlq', 'DLQ_TOPIC_ROUTES'), deadLetterHeaders: [], instance: 'test', onSpilled: () => {}, retryAfterFull: () => 1, heads, host,
  });

  const b = new PackedBuilder();
  for (let i = 0; i < 4; i++) b.add(JSON.stringify({ seq: i }), 'learner_0001', [], `e${i}`, i);
  const result = await deliverer.deliver([{ topic: 'events', headerNames: [], records: b.build(), timestamp: Date.now(), main: true }], 'batch-1');
  t.same(result.ok && result.spilled, 4, 'answered ok, all four records spilled');

  const stored = await spill.peek(own, 0, 10, 1 << 20);
  const ids = stored.records.flatMap((r) => decodeSpilledBatch(Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength)).records.eventIds);
  t.same(ids, ['e0', 'e1', 'e2', 'e3'], 'the spill log holds them in the batch\'s order: replay keeps the learner\'s order');
});

t.test('a batch of the same learner arriving while a refused record waits for its batch\'s reports does not overtake it', async (t) => {
  const dir = mkdtempSync(join(os.tmpdir(), 'delivery-'));
  const log = pino({ level: 'silent' });
  const spill = new SpillClient({ baseDir: dir, instance: 'delivery-order', maxBytes: 16 << 20, segmentBytes: 1 << 20 }, log);
  t.teardown(async () => {
    await spill.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const hello = await spill.ready;
  const host = HostTable.open(dir);
  const own = hello.sources[0]!.dir;
  const heads = new OrderHeads(host, own);
  heads.track(own, false);
  heads.setDurable(own, hello.sources[0]!.nextSeq);

  // Batch A: record 0 enqueued (its report comes 100 ms later), record 1 refused at once. Batch B would be taken.
  const standIn = standInProducer([{ refuseFrom: 1, reportAfterMs: 100 }]);
  const producer = new EventProducer(loadConfig({}), log, standIn.native);
  await producer.connect();
  const deliverer = new Deliverer({
    producer, spill, circuit: new Circuit(1000, 'closed'), telemetry: new Telemetry(), log, spillAfterMs: 30_000,
    dlqRoutes: TopicRoutes.parse('', 'dlq', 'DLQ_TOPIC_ROUTES'), deadLetterHeaders: [], instance: 'test', onSpilled: () => {}, retryAfterFull: () => 1, heads, host,
  });
  const batch = (ids: string[]) => {
    const b = new PackedBuilder();
    for (const [i, id] of ids.entries()) b.add(JSON.stringify({ id }), 'learner_0001', [], id, i);
    return [{ topic: 'events', headerNames: [], records: b.build(), timestamp: Date.now(), main: true }];
  };

  const a = deliverer.deliver(batch(['a0', 'a1']), 'batch-a');
  await new Promise((r) => setImmediate(r)); // B comes in a later turn, as another request would
  const b = deliverer.deliver(batch(['b0']), 'batch-b');
  const [ra, rb] = await Promise.all([a, b]);
  t.match(ra, { ok: true, spilled: 1 }, 'A: a0 delivered, a1 spilled');
  t.match(rb, { ok: true, spilled: 1 }, 'B: spilled, behind a1');
  t.same(standIn.offered.map((o) => o.count), [2], 'B was never offered to librdkafka: it would have reached Kafka before a1');

  const stored = await spill.peek(own, 0, 10, 1 << 20);
  const ids = stored.records.flatMap((r) => decodeSpilledBatch(Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength)).records.eventIds);
  t.same(ids, ['a1', 'b0'], 'the log holds a1 before b0: replay keeps the learner\'s order');
  const stamps = stored.records.map((r) => decodeSpilledBatch(Buffer.from(r.payload.buffer, r.payload.byteOffset, r.payload.byteLength)).stamp);
  t.ok(orderKey(stamps[0]!) < orderKey(stamps[1]!), 'and a1 is stamped before b0 (the host order replay merges by)');
});
