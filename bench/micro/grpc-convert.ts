/**
 * Micro-benchmark of what the gRPC door adds before the shared pipeline, in one thread, no I/O:
 * protobuf decoding of a 100-event typed CollectRequest (proto-loader/protobufjs), its
 * conversion to the JSON batch body (src/grpc/batch-json.ts), the same for the raw-JSON form,
 * and serialising an answer. Milliseconds per batch.
 * Run: npm run build && node dist/bench/micro/grpc-convert.js [iterations=2000]
 */
import type { MethodDefinition } from '@grpc/grpc-js';
import { packageDefinition, SERVICE_NAME } from '../../src/grpc/contract.js';
import { batchJson, type CollectRequest } from '../../src/grpc/batch-json.js';
import { batchOf } from '../../test/helpers/grpc.js';

const N = Number(process.argv[2] ?? 2000);
const m = (packageDefinition[SERVICE_NAME] as unknown as Record<string, MethodDefinition<object, object>>).CollectStream!;
const time = (f: () => void) => {
  const t = performance.now();
  for (let i = 0; i < N; i++) f();
  return Number(((performance.now() - t) / N).toFixed(3));
};
const typed = batchOf(100);
const bin = m.requestSerialize(typed);
const decoded = m.requestDeserialize(bin) as CollectRequest;
const raw = m.requestSerialize({ events: typed.events.map((e) => ({ json: Buffer.from(JSON.stringify(e.event)) })) });
const answer = { batch_id: 'x', outcome: 'OUTCOME_ACCEPTED', accepted_count: 100, kafka_partitions: [0, 1, 2], warnings: [], dlq_events: [], duplicates: [] };
console.log(JSON.stringify({
  iterations: N,
  messageBytes: bin.length,
  typedDecodeMs: time(() => m.requestDeserialize(bin)),
  typedToJsonMs: time(() => batchJson(decoded)),
  rawDecodeAndCheckMs: time(() => batchJson(m.requestDeserialize(raw) as CollectRequest)),
  answerSerializeMs: time(() => m.responseSerialize(answer)),
}));
