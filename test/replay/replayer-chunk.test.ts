import t from 'tap';
import pino from 'pino';
import { fitting, offerInOrder } from '../../src/replay/index.js';
import { isQueueFull } from '../../src/producer/classify.js';
import { EventProducer } from '../../src/producer/producer.js';
import { loadConfig } from '../../src/config/load.js';
import { PackedBuilder } from '../../src/codec/packed.js';
import { standInProducer } from '../helpers/stand-in-producer.js';

t.test('a replay chunk never takes more events than the producer queue has room for', async (t) => {
  const batches = (n: number, events: number) => Array.from({ length: n }, () => ({ events }));
  t.equal(fitting(batches(256, 1000), 50_000), 50, '256 × 1000-event batches: 50 fit in 50,000');
  t.equal(fitting(batches(256, 100), 50_000), 256, 'small batches: the whole chunk');
  t.equal(fitting(batches(10, 1000), 0), 1, 'no room at all: still one batch, so replay moves (its failure is retried)');
  t.equal(fitting(batches(10, 1000), -5000), 1, 'a queue over budget: one batch');
  t.equal(fitting([], 100), 0);
  t.equal(fitting([{ events: 10 }, { events: 95 }, { events: 1 }], 100), 1, 'stops at the first batch that does not fit: log order is kept');
});

t.test('queue-full is recognised by code and by message', async (t) => {
  t.ok(isQueueFull(-184, ''));
  t.ok(isQueueFull(-1, 'Local: Queue full'));
  t.notOk(isQueueFull(-1, 'Broker: Message size too large'));
  t.notOk(isQueueFull(10, 'too large'));
});

t.test('a chunk stops offering batches at the first record librdkafka refuses at once', async (t) => {
  // Batch 0 of the chunk: record 1 refused (queue full). Batch 1, the same learner, would be taken: it must not
  // be offered, or it reaches Kafka before the refused record, which is sent again only with the whole chunk.
  const standIn = standInProducer([{ refuseFrom: 1 }]);
  const producer = new EventProducer(loadConfig({}), pino({ level: 'silent' }), standIn.native);
  await producer.connect();
  const batch = (ids: string[]) => {
    const b = new PackedBuilder();
    for (const [i, id] of ids.entries()) b.add(JSON.stringify({ id }), 'learner_0001', [], id, i);
    return { topic: 'events', headerNames: [], records: b.build(), timestamp: Date.now() };
  };
  const results = await offerInOrder(producer, [batch(['a0', 'a1']), batch(['b0']), batch(['c0'])]);
  t.same(standIn.offered.map((o) => o.count), [2], 'only the first batch was offered');
  t.same(results[0]!.failures.map((f) => f.record), [1], 'its refused record comes back');
  for (const r of results.slice(1)) {
    t.equal(r.failures.length, 1, 'each later batch comes back whole…');
    t.ok(isQueueFull(r.failures[0]!.code, r.failures[0]!.message), '…as queue full, so the chunk is incomplete and sent again');
  }

  const fine = standInProducer([]);
  const p2 = new EventProducer(loadConfig({}), pino({ level: 'silent' }), fine.native);
  await p2.connect();
  const all = await offerInOrder(p2, [batch(['a0']), batch(['b0'])]);
  t.same(fine.offered.map((o) => o.count), [1, 1], 'without a refusal every batch is offered');
  t.same(all.map((r) => r.failures.length), [0, 0]);
});
