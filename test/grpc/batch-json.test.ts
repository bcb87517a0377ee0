/**
 * CollectRequest → JSON body (src/grpc/batch-json.ts) and the status table (src/grpc/status.ts),
 * without a collector: failure paths first.
 */
import t from 'tap';
import * as grpc from '@grpc/grpc-js';
import { batchJson, timestampToRfc3339, typedEventToJs } from '../../src/grpc/batch-json.js';
import { grpcCodeOf } from '../../src/grpc/status.js';
import { decodeStatusDetails, statusDetails } from '../../src/grpc/contract.js';
import { batchError } from '../../src/grpc/ingest.js';

t.test('a json entry must be one UTF-8 JSON value: no smuggled events, no broken envelope', async (t) => {
  for (const bad of ['{"a":1},{"b":2}', '{}],"batch_id":"x","events":[{}', '', 'not json', '{"a":']) {
    const r = batchJson({ events: [{ kind: 'json', json: Buffer.from(bad) }] });
    t.match(r, { ok: false, code: 'COLLECTOR_ERR_INVALID_JSON' }, JSON.stringify(bad));
  }
  const r = batchJson({ events: [{ kind: 'json', json: Buffer.from([0x22, 0xff, 0x22]) }] });
  t.match(r, { ok: false, code: 'COLLECTOR_ERR_INVALID_JSON' }, 'invalid UTF-8');
  t.match(batchJson({ batch_id: 'b', events: [{}] }), { ok: false, code: 'COLLECTOR_ERR_BATCH_SHAPE', batchId: 'b' }, 'neither form');
});

t.test('a Struct nested past the stack is a bad batch, not a crash', async (t) => {
  let s: Record<string, unknown> = { fields: {} };
  const root = s;
  for (let i = 0; i < 200_000; i++) {
    const inner: Record<string, unknown> = { fields: {} };
    (s.fields as Record<string, unknown>).x = { kind: 'structValue', structValue: inner };
    s = inner;
  }
  t.match(batchJson({ events: [{ kind: 'event', event: { event_data: root } }] }), { ok: false, code: 'COLLECTOR_ERR_BATCH_SHAPE' });
});

t.test('typed events: schema order, enums, unset fields left out', async (t) => {
  const o = typedEventToJs({
    metadata: { fields: {} },
    event_data: { fields: { n: { kind: 'numberValue', numberValue: 1.5 }, l: { kind: 'listValue', listValue: { values: [{ kind: 'nullValue' }, { kind: 'boolValue', boolValue: false }] } } } },
    source_service: 's',
    timestamp: { seconds: 1705314600, nanos: 0 },
    priority: 'PRIORITY_UNSPECIFIED',
    event_type: 'EVENT_TYPE_PROGRESS',
    tenant_id: 't',
    learner_id: '',
    event_id: 'e',
  });
  t.equal(JSON.stringify(o), '{"event_id":"e","tenant_id":"t","event_type":"progress","timestamp":"2024-01-15T10:30:00Z","source_service":"s","event_data":{"n":1.5,"l":[null,false]},"metadata":{}}');
  t.equal(typedEventToJs({ event_type: 7 }).event_type, 7, 'an enum number with no name stays a number: the validator refuses it');
  t.equal(typedEventToJs({ event_type: 0 }).event_type, undefined, 'UNSPECIFIED is absent');
});

t.test('Timestamp → RFC 3339 as the protobuf JSON mapping writes it', async (t) => {
  t.equal(timestampToRfc3339({ seconds: 0 }), '1970-01-01T00:00:00Z');
  t.equal(timestampToRfc3339({ seconds: 1705314600, nanos: 5_000_000 }), '2024-01-15T10:30:00.005Z');
  t.equal(timestampToRfc3339({ seconds: 1705314600, nanos: 5_000 }), '2024-01-15T10:30:00.000005Z');
  t.equal(timestampToRfc3339({ seconds: 1705314600, nanos: 5 }), '2024-01-15T10:30:00.000000005Z');
  t.match(timestampToRfc3339({ seconds: 1, nanos: -1 }), /^invalid Timestamp/, 'an invalid one is a string the schema refuses');
  t.match(timestampToRfc3339({ seconds: 1e15 }), /^invalid Timestamp/);
});

t.test('status table and details', async (t) => {
  t.equal(grpcCodeOf('COLLECTOR_ERR_EMPTY_BATCH'), grpc.status.INVALID_ARGUMENT);
  t.equal(grpcCodeOf('COLLECTOR_ERR_TOO_MANY_EVENTS'), grpc.status.INVALID_ARGUMENT);
  t.equal(grpcCodeOf('COLLECTOR_ERR_BODY_TOO_LARGE'), grpc.status.RESOURCE_EXHAUSTED);
  t.equal(grpcCodeOf('COLLECTOR_ERR_CLIENT_LIMIT'), grpc.status.RESOURCE_EXHAUSTED);
  t.equal(grpcCodeOf('COLLECTOR_ERR_OVERLOADED'), grpc.status.UNAVAILABLE);
  t.equal(grpcCodeOf('COLLECTOR_ERR_BUFFER_FULL'), grpc.status.UNAVAILABLE);
  t.equal(grpcCodeOf('COLLECTOR_ERR_DUPLICATE_IN_FLIGHT'), grpc.status.UNAVAILABLE);
  t.equal(grpcCodeOf('COLLECTOR_ERR_DEADLINE'), grpc.status.DEADLINE_EXCEEDED);
  t.equal(grpcCodeOf('COLLECTOR_ERR_INTERNAL'), grpc.status.INTERNAL);
  const e = batchError('COLLECTOR_ERR_OVERLOADED', 'busy', 3);
  t.match(e, { grpc_code: grpc.status.UNAVAILABLE, http_status: 503, retry_delay: { seconds: 3 } });
  t.same(decodeStatusDetails(statusDetails(e.grpc_code, e.message, e.code, 3)), { code: 14, message: e.message, reason: 'COLLECTOR_ERR_OVERLOADED', retryDelayS: 3 });
  t.equal(decodeStatusDetails(statusDetails(3, 'm', 'COLLECTOR_ERR_EMPTY_BATCH')).retryDelayS, undefined);
});

t.test('sent_at travels into the JSON batch as RFC 3339', async (t) => {
  const r = batchJson({ sent_at: { seconds: 1_772_366_400, nanos: 5_000_000 }, events: [{ kind: 'json', json: Buffer.from('{}') }] });
  t.ok(r.ok);
  if (r.ok) t.equal((JSON.parse(r.body.toString()) as { sent_at: string }).sent_at, timestampToRfc3339({ seconds: 1_772_366_400, nanos: 5_000_000 }));
  const none = batchJson({ events: [{ kind: 'json', json: Buffer.from('{}') }] });
  t.ok(none.ok && !('sent_at' in JSON.parse(none.body.toString())), 'absent when unset');
});
