/**
 * The deliverer's outcomes with a stand-in producer and a stand-in spill log (no broker, no disk):
 * a batch Kafka takes is delivered; records refused with QUEUE_FULL are spilled, in record order;
 * a record Kafka refuses for good (alone as well) becomes a dead letter on the DLQ topic.
 * The circuit is the real one.
 */
import t from 'tap';
import pino from 'pino';
import type { EventProducer, BatchDelivery, RecordFailure } from '../../src/producer/producer.js';
import type { SpillClient } from '../../src/spill/client.js';
import type { Telemetry } from '../../src/telemetry/telemetry.js';
import type { HostTable, OrderHeads } from '../../src/replay/index.js';
import { Circuit } from '../../src/producer/circuit.js';
import { Deliverer, type Part } from '../../src/pipeline/delivery.js';
import { TopicRoutes } from '../../src/pipeline/routes.js';
import { decodeSpilledBatch } from '../../src/spill/batch-codec.js';
import { PackedBuilder, type PackedRecords } from '../../src/codec/packed.js';
import { RESP_ERR } from '../../src/producer/kafka-codes.js';

interface Sent {
  topic: string;
  ids: string[];
}

/** Kafka as the producer reports it: `answer` decides each send's failures by event id. */
function fakeProducer(answer: (topic: string, ids: string[]) => RecordFailure[]): { producer: EventProducer; sent: Sent[] } {
  const sent: Sent[] = [];
  const producer = {
    isConnected: true,
    async send(topic: string, records: PackedRecords): Promise<BatchDelivery> {
      const ids = [...records.eventIds];
      sent.push({ topic, ids });
      return { partitions: [0], failures: answer(topic, ids) };
    },
  } as unknown as EventProducer;
  return { producer, sent };
}

function fakeSpill(): { spill: SpillClient; stored: { topic: string; ids: string[] }[] } {
  const stored: { topic: string; ids: string[] }[] = [];
  let seq = 0;
  const spill = {
    ownNonEmpty: false,
    async append(payloads: Buffer[]) {
      for (const p of payloads) {
        const b = decodeSpilledBatch(Buffer.from(p));
        stored.push({ topic: b.topic, ids: [...b.records.eventIds] });
      }
      seq += payloads.length;
      return { lastSeq: seq - 1 };
    },
  } as unknown as SpillClient;
  return { spill, stored };
}

const noop = new Proxy({}, { get: () => () => {} }) as Telemetry;
const heads = { ownDir: 'own', beginAppend: () => ({}), setDurable() {}, endAppend() {}, pin() {}, unpin() {} } as unknown as OrderHeads;
const host = { spilling: () => false } as unknown as HostTable;

function deliverer(producer: EventProducer, spill: SpillClient, circuit: Circuit): Deliverer {
  return new Deliverer({
    producer, spill, circuit, telemetry: noop, log: pino({ level: 'silent' }), spillAfterMs: 5000,
    dlqRoutes: TopicRoutes.parse('', 'dlq', 'DLQ_TOPIC_ROUTES'), deadLetterHeaders: ['tenant_id'], instance: 'test',
    onSpilled: () => {}, retryAfterFull: () => 1, heads, host,
  });
}

function part(n: number): Part {
  const b = new PackedBuilder();
  for (let i = 0; i < n; i++) b.add(JSON.stringify({ seq: i }), 'k', [], `e${i}`, i);
  return { topic: 'events', headerNames: [], records: b.build(), timestamp: Date.now(), main: true };
}

const fail = (ids: string[], which: string[], code: number, message: string): RecordFailure[] =>
  ids.flatMap((id, record) => (which.includes(id) ? [{ record, code, message }] : []));

t.test('delivered: every record taken, nothing spilled, the circuit stays closed', async (t) => {
  const { producer, sent } = fakeProducer(() => []);
  const { spill, stored } = fakeSpill();
  const circuit = new Circuit(1000, 'closed');
  const r = await deliverer(producer, spill, circuit).deliver([part(3)], 'b1');
  t.same(r, { ok: true, partitions: [0], spilled: 0, poisoned: [] });
  t.same(sent, [{ topic: 'events', ids: ['e0', 'e1', 'e2'] }]);
  t.same(stored, []);
  t.equal(circuit.state, 'closed');
});

t.test('QUEUE_FULL mid-batch: the refused record and those held back behind it are spilled in record order', async (t) => {
  const { producer } = fakeProducer((_topic, ids) => fail(ids, ['e1', 'e2', 'e3'], RESP_ERR.ERR__QUEUE_FULL, 'Local: Queue full'));
  const { spill, stored } = fakeSpill();
  const circuit = new Circuit(1000, 'closed');
  const r = await deliverer(producer, spill, circuit).deliver([part(4)], 'b2');
  t.match(r, { ok: true, spilled: 3, poisoned: [] });
  t.same(stored, [{ topic: 'events', ids: ['e1', 'e2', 'e3'] }], 'e0 went to Kafka; the rest spilled in order');
  t.equal(circuit.state, 'open', 'a retriable failure opens the circuit');
});

t.test('a record refused for good, alone as well, becomes a dead letter; its neighbours are delivered', async (t) => {
  const { producer, sent } = fakeProducer((topic, ids) =>
    topic === 'events' ? fail(ids, ['e1'], RESP_ERR.ERR_MSG_SIZE_TOO_LARGE, 'Broker: Message size too large') : [],
  );
  const { spill, stored } = fakeSpill();
  const circuit = new Circuit(1000, 'closed');
  const r = await deliverer(producer, spill, circuit).deliver([part(3)], 'b3');
  t.match(r, { ok: true, spilled: 0 });
  t.equal((r as { poisoned: unknown[] }).poisoned.length, 1, 'one event reported as poisoned');
  t.same(stored, [], 'nothing spilled: no retry can help');
  t.equal(circuit.state, 'closed', 'a refused record is no outage');
  const dlq = sent.filter((s) => s.topic === 'dlq');
  t.equal(dlq.length, 1, 'one send to the DLQ topic');
  t.same(dlq[0]!.ids, ['e1']);
});

t.test('circuit open: the batch goes to the spill log without touching Kafka', async (t) => {
  const { producer, sent } = fakeProducer(() => []);
  const { spill, stored } = fakeSpill();
  const r = await deliverer(producer, spill, new Circuit(1000, 'open')).deliver([part(2)], 'b4');
  t.match(r, { ok: true, spilled: 2 });
  t.same(sent, []);
  t.same(stored, [{ topic: 'events', ids: ['e0', 'e1'] }]);
});
