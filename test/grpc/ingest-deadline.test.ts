/**
 * A gRPC batch the pipeline has not answered within REQUEST_TIMEOUT_MS gets DEADLINE_EXCEEDED
 * (COLLECTOR_ERR_DEADLINE, nothing acknowledged), from the ingest's one deadline timer; its admission
 * ticket is settled only when the pipeline is done with the batch, not when the answer leaves.
 */
import t from 'tap';
import { BatchIngest } from '../../src/grpc/ingest.js';
import { collectorServiceDefinition } from '../../src/grpc/contract.js';
import { loadConfig } from '../../src/config/load.js';
import { Slab } from '../../src/ring/slab.js';
import { Admission } from '../../src/acceptor/admission.js';
import { Telemetry } from '../../src/telemetry/telemetry.js';
import type { Collector } from '../../src/pipeline/collector.js';
import type { CollectAnswer } from '../../src/pipeline/answer.js';

const EVENT = {
  learner_id: 'learner_1', tenant_id: 'tenant_a', event_type: 'interaction', timestamp: '2026-11-29T10:00:00Z',
  source_service: 'deadline-test', event_data: { a: 1 },
};
// The message as the server hands it over: the bytes on the wire.
const REQUEST = (collectorServiceDefinition().Collect!.requestSerialize as (r: object) => Buffer)({ batch_id: '', events: [{ json: Buffer.from(JSON.stringify(EVENT)) }] });

// The deadline timer is unref'd (it must not keep a stopping server alive); in a server the listener does.
const alive = setInterval(() => {}, 1_000);
t.teardown(() => clearInterval(alive));

function ingestWith(answers: Map<number, (a: CollectAnswer) => void>, requestTimeoutMs: number) {
  const config = loadConfig({ REQUEST_TIMEOUT_MS: String(requestTimeoutMs), KAFKA_BOOTSTRAP_SERVERS: '127.0.0.1:1' });
  const slab = new Slab({ slots: 4, slotBytes: 1 << 16 });
  const admission = new Admission({ targetMs: 20, maxLimit: 4, minLimit: 1, clientMaxInFlight: 0, clientRatePerS: 0 });
  let n = 0;
  // A pipeline that answers only when the test says so.
  const collector = { collect: () => new Promise<CollectAnswer>((resolve) => answers.set(n++, resolve)) } as unknown as Collector;
  const ingest = new BatchIngest({ config, slab, collector, admission, telemetry: new Telemetry(), producerBacklogged: () => false });
  return { ingest, admission };
}

t.test('no answer within REQUEST_TIMEOUT_MS: DEADLINE_EXCEEDED, and the ticket stays held until the pipeline is done', async (t) => {
  const answers = new Map<number, (a: CollectAnswer) => void>();
  const { ingest, admission } = ingestWith(answers, 150);
  const started = performance.now();
  const results = await Promise.all([0, 1, 2].map(() => ingest.run(REQUEST, 'client')));
  const took = performance.now() - started;
  for (const r of results) {
    t.equal(r.ok, false, 'not acknowledged');
    if (!r.ok) {
      t.equal(r.error.code, 'COLLECTOR_ERR_DEADLINE');
      t.match(r.error.message, /no answer within 150 ms/);
      t.same(r.error.retry_delay, { seconds: 1, nanos: 0 }, 'with a retry delay');
    }
  }
  t.ok(took >= 140, `answered at the deadline, not before (${took.toFixed(0)} ms)`);
  t.equal(admission.inFlight, 3, 'the three batches still hold their tickets');
  for (const resolve of answers.values()) resolve({ status: 503, body: { error: { code: 'COLLECTOR_ERR_OVERLOADED' } } } as never);
  await new Promise((r) => setImmediate(r));
  t.equal(admission.inFlight, 0, 'settled once the pipeline answered');
});

t.test('an answer in time cancels the deadline: the batch gets the pipeline\'s answer, not a late DEADLINE_EXCEEDED', async (t) => {
  const answers = new Map<number, (a: CollectAnswer) => void>();
  const { ingest } = ingestWith(answers, 200);
  const running = ingest.run(REQUEST, 'client');
  await new Promise((r) => setTimeout(r, 20));
  answers.get(0)!({ status: 503, body: { error: { code: 'COLLECTOR_ERR_OVERLOADED', detail: 'test' } }, retryAfter: 2 } as never);
  const r = await running;
  t.equal(r.ok, false);
  if (!r.ok) t.equal(r.error.code, 'COLLECTOR_ERR_OVERLOADED', 'the pipeline\'s own answer');
  // The answered batch's deadline was cancelled, not left to fire: its queue entry is gone (a hole at the head is
  // dropped on cancel), so nothing of the batch is held for REQUEST_TIMEOUT_MS. (The cancel runs in the chain's
  // finally, a turn after the answer.)
  await new Promise((r) => setImmediate(r));
  t.equal((ingest as unknown as { deadlines: { size: number } }).deadlines.size, 0, 'no deadline left armed');
});
