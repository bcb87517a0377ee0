/**
 * Versioned payload validation inside decodeBatch: each event judged by the schema of its
 * own version, the default version when none is named, dead-letter codes for unknown
 * versions and payload errors, and the schema_version header on accepted records.
 */
import t from 'tap';
import { decodeBatch, EVENT_HEADERS, type DecodeInput, type DecodedBatch } from '../../src/codec/decode.js';
import { recordValue } from '../../src/codec/packed.js';
import { PayloadValidators } from '../../src/codec/payload.js';
import type { SchemaSetSnapshot } from '../../src/schema/payload/types.js';
import { syntheticEvent } from '../../src/pipeline/synthetic.js';

const limits = { maxDecodedBytes: 1 << 20, maxEvents: 1000, maxEventBytes: 8192 };
const v1 = { type: 'object', properties: { score: { type: 'number' } }, required: ['score'], additionalProperties: false };
const v2 = { type: 'object', properties: { score: { type: 'number' }, attempt: { type: 'integer', minimum: 1 } }, required: ['score'], additionalProperties: false };
const snapshot = (defaultVersion = 2, id: number | null = null): SchemaSetSnapshot => ({
  generation: 1, source: 'folder', location: '/x', loadedAt: new Date().toISOString(),
  types: [{ eventType: 'assessment', compatibility: 'BACKWARD', defaultVersion, pinned: defaultVersion !== 2, versions: [{ version: 1, id, schema: v1 }, { version: 2, id: id === null ? null : id + 1, schema: v2 }] }],
});
const ev = (event_data: unknown, extra: Record<string, unknown> = {}) => ({ ...syntheticEvent(2), event_type: 'assessment', event_data, ...extra });
const decode = (events: unknown[], payload = new PayloadValidators(snapshot())): DecodedBatch => {
  const input: DecodeInput = { body: Buffer.from(JSON.stringify(events)), gzip: false, receivedAt: Date.now(), instance: 't/0', limits, payload };
  const o = decodeBatch(input);
  if (!o.ok) throw new Error(o.code);
  return o.batch;
};
const header = (b: DecodedBatch, i: number, name: string) => b.accepted.headers[i]![EVENT_HEADERS.indexOf(name as never)];

t.test('v1 and v2 of one type in one batch, each judged by its own schema', async (t) => {
  const b = decode([
    ev({ score: 3 }, { schema_version: 1 }),
    ev({ score: 3, attempt: 2 }, { schema_version: 2 }),
    ev({ score: 3, attempt: 2 }, { schema_version: 1 }), // attempt is not a v1 field
    ev({ score: 3, attempt: 0 }), // default (v2): attempt ≥ 1
    ev({ score: 4, attempt: 5 }), // default (v2)
  ]);
  t.same(b.accepted.indexes, [0, 1, 4]);
  t.same([0, 1, 2].map((i) => header(b, i, 'schema_version')), ['1', '2', '2']);
  t.same([0, 1, 2].map((i) => header(b, i, 'schema_id')), [undefined, undefined, undefined], 'no schema_id without a registry');
  t.same(b.rejected.map((r) => [r.index, r.errors[0]!.code, r.errors[0]!.path]), [
    [2, 'unexpected_field', '/event_data/attempt'],
    [3, 'invalid_value', '/event_data/attempt'],
  ]);
  t.match(b.rejected[0]!.errors[0]!.message, /assessment v1/);
  t.same(b.schemaUse, { 'assessment|1|valid': 1, 'assessment|2|valid': 2, 'assessment|1|invalid': 1, 'assessment|2|invalid': 1 });
  // The record value is still the event as sent (the forwarded-bytes path), schema_version included.
  t.same(JSON.parse(recordValue(b.accepted, 1).toString()).schema_version, 2);
});

t.test('missing required field and wrong type carry code and path', async (t) => {
  const b = decode([ev({}), ev({ score: 'high' })]);
  t.same(b.rejected.map((r) => [r.errors[0]!.code, r.errors[0]!.path]), [['missing_field', '/event_data/score'], ['wrong_type', '/event_data/score']]);
  t.equal(b.dead.count, 2, 'both go to the dead-letter topic');
  t.match(JSON.parse(recordValue(b.dead, 0).toString()), { reason: 'validation', errors: [{ code: 'missing_field', path: '/event_data/score' }] });
});

t.test('an unknown version is a dead letter with unknown_schema_version', async (t) => {
  const b = decode([ev({ score: 1 }, { schema_version: 7 }), ev({ score: 1 }, { schema_version: 1 })]);
  t.same(b.accepted.indexes, [1]);
  t.equal(b.rejected[0]!.errors[0]!.code, 'unknown_schema_version');
  t.equal(b.rejected[0]!.errors[0]!.path, '/schema_version');
  t.match(b.rejected[0]!.errors[0]!.message, /schema_version 7 is not registered: known versions of assessment: 1, 2/);
  t.same(b.schemaUse['assessment|unknown|invalid'], 1);
});

t.test('schema_version must be an integer ≥ 1 (the envelope rule)', async (t) => {
  const b = decode([ev({ score: 1 }, { schema_version: '2' }), ev({ score: 1 }, { schema_version: 0 })]);
  t.equal(b.accepted.count, 0);
  t.same(b.rejected.map((r) => r.errors[0]!.path), ['/schema_version', '/schema_version']);
});

t.test('a pinned default version judges events without schema_version', async (t) => {
  const b = decode([ev({ score: 1, attempt: 2 }), ev({ score: 1 })], new PayloadValidators(snapshot(1, 40)));
  t.same(b.accepted.indexes, [1]);
  t.equal(header(b, 0, 'schema_version'), '1');
  t.equal(header(b, 0, 'schema_id'), '40', 'a registry id travels as schema_id');
});

t.test('a type without schemas keeps today\'s behaviour; naming a version for it is refused', async (t) => {
  const progress = { ...syntheticEvent(1), event_type: 'progress', event_data: { anything: [1, 2] } };
  const b = decode([progress, { ...progress, schema_version: 1 }]);
  t.same(b.accepted.indexes, [0]);
  t.equal(b.accepted.headers[0]!.length, 4, 'no schema headers');
  t.equal(b.rejected[0]!.errors[0]!.code, 'unknown_schema_version');
  t.same(b.schemaUse, { 'progress|none|valid': 1, 'progress|unknown|invalid': 1 });
});

t.test('without payload validators decodeBatch judges the envelope only', async (t) => {
  const input: DecodeInput = { body: Buffer.from(JSON.stringify([ev({ nonsense: true })])), gzip: false, receivedAt: Date.now(), instance: 't/0', limits };
  const o = decodeBatch(input);
  t.ok(o.ok && o.batch.accepted.count === 1);
});
