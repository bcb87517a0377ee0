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
import { EV_BATCH, type NativeFailure, type NativeProducer, type ProducerHandle } from '../../src/producer/native.js';
import { Circuit } from '../../src/producer/circuit.js';
import { Deliverer } from '../../src/pipeline/delivery.js';
import { SpillClient } from '../../src/spill/client.js';
import { HostTable } from '../../src/replay/index.js';
import { OrderHeads } from '../../src/replay/index.js';
import { decodeSpilledBatch } from '../../src/spill/batch-codec.js';
import { Telemetry } from '../../src/telemetry/telemetry.js';
import { PackedBuilder } from '../../src/codec/packed.js';

const QUEUE_FULL = -184;
const TIMED_OUT = -192;

/** librdkafka as the addon reports it: `refuse` at once from `produce()`, `fail` in the batch's reports. */
function standIn(refuse: number[], fail: number[]): NativeProducer {
  let onEvent: Parameters<NativeProducer['create']>[2] = () => {};
  return {
    librdkafkaVersion: 'stand-in',
    create: (_g, _t, cb) => {
      onEvent = cb;
      return {} as ProducerHandle;
    },
    connect: async () => {},
    saslCredentials: () => {},
    produce: (_h, _topic, _bytes, _offsets, count, _keys, _names, _headers, _ts, id) => {
      const failed: NativeFailure[] = fail.map((i) => [i, TIMED_OUT, 'Local: Message timed out']);
      const delivered = count - refuse.length - fail.length;
      setImmediate(() => onEvent(EV_BATCH, id, delivered > 0 ? [0] : [], failed.length ? failed : null));
      return refuse.length ? refuse.map((i): NativeFailure => [i, QUEUE_FULL, 'Local: Queue full']) : null;
    },
    outqLen: () => 0,
    configValue: () => null,
    ref: () => {},
    close: async () => {},
  };
}

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

  const producer = new EventProducer(loadConfig({}), log, standIn([1, 2, 3], [0]));
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
