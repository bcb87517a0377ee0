import t from 'tap';
import { gzipSync } from 'node:zlib';
import { decodeBatch, type DecodeInput, type DecodeOutcome } from '../../src/codec/decode.js';
import { recordValue } from '../../src/codec/packed.js';
import { syntheticBatch } from '../../src/pipeline/synthetic.js';

const limits = { maxDecodedBytes: 1 << 20, maxEvents: 1000, maxEventBytes: 8192 };
const input = (body: string | Buffer, gzip = false, l = limits): DecodeInput => ({
  body: typeof body === 'string' ? Buffer.from(body) : body,
  gzip,
  receivedAt: Date.parse('2026-01-01T00:00:00Z'),
  instance: 'test/0',
  limits: l,
});
const failed = (o: DecodeOutcome) => (o.ok ? 'ok' : o.code);

t.test('whole-batch failures carry their code', async (t) => {
  t.equal(failed(decodeBatch(input('{"events": [1,'))), 'COLLECTOR_ERR_INVALID_JSON');
  t.equal(failed(decodeBatch(input(''))), 'COLLECTOR_ERR_INVALID_JSON');
  t.equal(failed(decodeBatch(input('42'))), 'COLLECTOR_ERR_BATCH_SHAPE');
  t.equal(failed(decodeBatch(input('null'))), 'COLLECTOR_ERR_BATCH_SHAPE');
  t.equal(failed(decodeBatch(input('{"batch_id": "x"}'))), 'COLLECTOR_ERR_BATCH_SHAPE');
  t.equal(failed(decodeBatch(input('{"batch_id": 7, "events": []}'))), 'COLLECTOR_ERR_BATCH_SHAPE');
  t.equal(failed(decodeBatch(input('[]'))), 'COLLECTOR_ERR_EMPTY_BATCH');
  t.equal(failed(decodeBatch(input(JSON.stringify(syntheticBatch(1001))))), 'COLLECTOR_ERR_TOO_MANY_EVENTS');
  t.equal(failed(decodeBatch(input(Buffer.from([0x5b, 0xff, 0xfe, 0x5d])))), 'COLLECTOR_ERR_INVALID_UTF8');
  t.equal(failed(decodeBatch(input(Buffer.from('not gzip at all'), true))), 'COLLECTOR_ERR_CORRUPT_GZIP');
  const gz = gzipSync(JSON.stringify(syntheticBatch(5)));
  t.equal(failed(decodeBatch(input(gz.subarray(0, gz.length - 6), true))), 'COLLECTOR_ERR_CORRUPT_GZIP', 'truncated gzip');
});

t.test('a gzip bomb stops at the decoded cap', async (t) => {
  const bomb = gzipSync(Buffer.alloc(50 << 20, 0x20));
  t.ok(bomb.length < 100_000, 'the bomb is small on the wire');
  const o = decodeBatch(input(bomb, true));
  t.equal(failed(o), 'COLLECTOR_ERR_DECODED_TOO_LARGE');
});

t.test('valid batch: packed records with key, headers, defaults', async (t) => {
  const events = syntheticBatch(3);
  delete events[1]!.priority;
  delete events[1]!.metadata;
  const o = decodeBatch(input(JSON.stringify({ batch_id: 'b-1', events, metadata: { source: 'x' } })));
  if (!o.ok) return t.fail(o.code);
  const b = o.batch;
  t.equal(b.batchId, 'b-1');
  t.equal(b.accepted.count, 3);
  t.equal(b.rejected.length, 0);
  t.same(b.accepted.keys, events.map((e) => e.learner_id));
  t.same(b.accepted.headers[0], ['tenant_alpha', events[0]!.event_type, 'b-1', '2026-01-01T00:00:00.000Z']);
  const second = JSON.parse(recordValue(b.accepted, 1).toString()) as Record<string, unknown>;
  t.equal(second.priority, 'medium', 'priority defaults to medium');
  t.same(second.metadata, {}, 'metadata defaults to {}');
  t.equal(second.event_id, events[1]!.event_id);
});

t.test('gzip and bare array; batch_id generated', async (t) => {
  const o = decodeBatch(input(gzipSync(JSON.stringify(syntheticBatch(10))), true));
  if (!o.ok) return t.fail(o.code);
  t.equal(o.batch.accepted.count, 10);
  t.match(o.batch.batchId, /^[0-9a-f-]{36}$/);
});

t.test('mixed batch: rejected events become dead letters with the contract', async (t) => {
  const events: unknown[] = syntheticBatch(4);
  (events[1] as Record<string, unknown>).event_type = 'nope';
  delete (events[2] as Record<string, unknown>).learner_id;
  events[3] = 'a string';
  const o = decodeBatch(input(JSON.stringify(events)));
  if (!o.ok) return t.fail(o.code);
  const b = o.batch;
  t.equal(b.accepted.count, 1);
  t.same(b.rejected.map((r) => r.index), [1, 2, 3]);
  t.equal(b.rejected[0]!.errors[0]!.code, 'invalid_value');
  t.equal(b.rejected[0]!.errors[0]!.path, '/event_type');
  t.equal(b.rejected[1]!.errors[0]!.code, 'missing_field');
  t.equal(b.rejected[2]!.errors[0]!.code, 'not_an_object');
  t.equal(b.rejected[2]!.event_id, null);
  t.equal(b.dead.count, 3);
  const dl = JSON.parse(recordValue(b.dead, 0).toString()) as Record<string, unknown>;
  t.equal(dl.reason, 'validation');
  t.equal(dl.retry_count, 0);
  t.equal(dl.batch_id, b.batchId);
  t.equal(dl.event_index, 1);
  t.equal(dl.collector_instance, 'test/0');
  t.equal(dl.tenant_id, 'tenant_alpha');
  t.same(dl.original_event, events[1]);
  t.ok(typeof dl.failed_at === 'string');
  t.same(JSON.parse(recordValue(b.dead, 2).toString()).original_event, 'a string');
});

t.test('formats: uuid and RFC 3339 are enforced', async (t) => {
  const [a, b] = syntheticBatch(2);
  a!.event_id = 'not-a-uuid';
  b!.timestamp = '2024-13-45 99:00';
  const o = decodeBatch(input(JSON.stringify([a, b])));
  if (!o.ok) return t.fail(o.code);
  t.equal(o.batch.accepted.count, 0);
  t.same(o.batch.rejected.map((r) => [r.errors[0]!.code, r.errors[0]!.path]), [
    ['invalid_format', '/event_id'],
    ['invalid_format', '/timestamp'],
  ]);
});

t.test('unknown fields are kept and warned about; oversize events rejected', async (t) => {
  const [a, b] = syntheticBatch(2);
  a!.extra_field = 1;
  b!.event_data = { blob: 'x'.repeat(9000) };
  const o = decodeBatch(input(JSON.stringify([a, b])));
  if (!o.ok) return t.fail(o.code);
  t.equal(o.batch.accepted.count, 1);
  t.equal(JSON.parse(recordValue(o.batch.accepted, 0).toString()).extra_field, 1);
  t.match(o.batch.warnings[0], /extra_field/);
  t.equal(o.batch.rejected[0]!.reason, 'too_large');
});

t.test('__proto__ keys do not pollute prototypes', async (t) => {
  const [a] = syntheticBatch(1);
  const raw = JSON.stringify([a]).replace('"event_data":{', '"event_data":{"__proto__":{"polluted":true},');
  const o = decodeBatch(input(raw));
  t.ok(o.ok);
  t.equal(({} as Record<string, unknown>).polluted, undefined);
});

t.test('nesting too deep to serialise is a per-event rejection, not a crash', async (t) => {
  const [a] = syntheticBatch(1);
  const raw = JSON.stringify([a]).replace('"event_data":{', '"event_data":{"deep":' + '['.repeat(100_000) + ']'.repeat(100_000) + ',');
  const o = decodeBatch(input(raw, false, { ...limits, maxDecodedBytes: 4 << 20 }));
  if (!o.ok) return t.fail(o.code);
  t.equal(o.batch.accepted.count, 0);
  t.equal(o.batch.rejected[0]!.errors[0]!.code, 'too_deep');
  t.match(JSON.parse(recordValue(o.batch.dead, 0).toString()).original_event, { unserialisable: String });
});

t.test('too many fields: a per-event rejection naming where, the rest of the batch kept', async (t) => {
  const [a, b, c, d] = syntheticBatch(4);
  const wide = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`f${i}`, i]));
  const events = [
    { ...a, event_data: wide(257) },
    { ...b, metadata: wide(65) },
    { ...c, ...wide(60) }, // 9 known fields + 60 unknown = 69 top-level
    { ...d, event_data: wide(256), metadata: wide(64) }, // at the caps: fine
  ];
  const o = decodeBatch(input(JSON.stringify(events), false, { ...limits, maxEventBytes: 65_536 }));
  if (!o.ok) return t.fail(o.code);
  t.equal(o.batch.accepted.count, 1, 'the event at the caps is accepted');
  const byIndex = new Map(o.batch.rejected.map((r) => [r.index, r.errors]));
  t.match(byIndex.get(0), [{ code: 'too_many_fields', path: '/event_data' }]);
  t.match(byIndex.get(1), [{ code: 'too_many_fields', path: '/metadata' }]);
  t.match(byIndex.get(2), [{ code: 'too_many_fields', path: '' }]);
});

/** What the record held before forwarding: JSON.stringify of the parsed event with its defaults. */
function stringified(eventText: string): string {
  const e = JSON.parse(eventText) as Record<string, unknown>;
  e.priority ??= 'medium';
  e.metadata ??= {};
  return JSON.stringify(e);
}
const values = (o: DecodeOutcome) => (o.ok ? Array.from({ length: o.batch.accepted.count }, (_, i) => recordValue(o.batch.accepted, i).toString()) : []);

t.test('forwarded as sent: a minified event is byte-identical to what JSON.stringify wrote', async (t) => {
  const events = syntheticBatch(20);
  delete events[3]!.priority;
  delete events[4]!.metadata;
  delete events[5]!.priority;
  delete events[5]!.metadata;
  events[6]!.event_data = { s: 'é😀 "quoted" \\ back', n: [0, -1, 2.5, 1e21, -3.25e-7], deep: { a: { b: [null, true, false, {}] } } };
  for (const body of [JSON.stringify(events), JSON.stringify({ batch_id: 'b', events, metadata: { m: 1 } })]) {
    const o = decodeBatch(input(body));
    t.same(values(o), events.map((e) => stringified(JSON.stringify(e))));
  }
});

t.test('forwarded bytes mean what JSON.parse read, for inputs that are not canonical', async (t) => {
  const [base] = syntheticBatch(1);
  const text = JSON.stringify(base);
  const variants: [string, string][] = [
    ['whitespace', JSON.stringify(base, null, 2)],
    ['duplicate learner_id (JSON.parse keeps the last)', text.replace('{', '{"learner_id":"first",')],
    ['duplicate nested key', text.replace('"event_data":{', '"event_data":{"x":1,"x":2,')],
    ['escaped key', text.replace('"event_data":{', '"event_data":{"\\u0078":1,')],
    ['__proto__ key', text.replace('"event_data":{', '"event_data":{"__proto__":{"polluted":true},')],
    // Numbers a double cannot hold are refused (test/codec/numbers.test.ts); these it holds, past the scanner's fast check.
    ['20 digits, 17 significant', text.replace('"event_data":{', '"event_data":{"n":12345678901234567000,')],
    ['the largest double', text.replace('"event_data":{', '"event_data":{"n":1.7976931348623157e308,')],
    ['non-canonical numbers', text.replace('"event_data":{', '"event_data":{"n":[1.50,1E2,-0,0.0001e3],')],
    ['escapes in strings', text.replace('"event_data":{', '"event_data":{"s":"\\u00e9\\/\\n\\ud83d\\ude00",')],
    ['integer-like keys', text.replace('"event_data":{', '"event_data":{"b":1,"10":2,"2":3,')],
    ['65 keys in one object', text.replace('"event_data":{', `"event_data":{"wide":${JSON.stringify(Object.fromEntries(Array.from({ length: 65 }, (_, i) => [`k${i}`, i])))},`)],
    ['nested 70 deep', text.replace('"event_data":{', `"event_data":{"d":${'['.repeat(70)}${']'.repeat(70)},`)],
  ];
  for (const [name, eventText] of variants) {
    const body = `[${eventText}]`;
    const o = decodeBatch(input(body, false, { ...limits, maxEventBytes: 65_536 }));
    if (!o.ok) return t.fail(`${name}: ${o.code}`);
    t.equal(o.batch.accepted.count, 1, `${name}: accepted`);
    const [value] = values(o);
    t.same(JSON.parse(value!), JSON.parse(stringified(eventText)), `${name}: same value`);
    t.equal(o.batch.accepted.keys[0], (JSON.parse(eventText) as { learner_id: string }).learner_id, `${name}: key`);
    // Ambiguous for other parsers, or not what JSON.stringify writes: the old path's bytes exactly.
    if (!['escapes in strings', 'integer-like keys', 'non-canonical numbers'].includes(name)) {
      t.equal(value, stringified(eventText), `${name}: JSON.stringify's bytes`);
    }
  }
});

t.test('forwarded sizes count against MAX_EVENT_BYTES with their defaults', async (t) => {
  const [a] = syntheticBatch(1);
  delete a!.priority;
  delete a!.metadata;
  const exact = Buffer.byteLength(stringified(JSON.stringify(a)));
  const at = decodeBatch(input(JSON.stringify([a]), false, { ...limits, maxEventBytes: exact }));
  const over = decodeBatch(input(JSON.stringify([a]), false, { ...limits, maxEventBytes: exact - 1 }));
  t.equal(at.ok && at.batch.accepted.count, 1, 'at the limit: accepted');
  t.equal(over.ok && over.batch.rejected[0]?.reason, 'too_large', 'one byte over: too_large');
});

t.test('forwarding: a fuzzed corpus of valid batches parses to what JSON.parse gave', async (t) => {
  let seed = 42;
  const rand = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const pieces = ['0', '-1', '2.5', '1e5', '123456789012345678', '"s"', '"\\u00e9"', 'true', 'null', '[]', '{}', '[1,{"a":2}]', '{"k":"v","k":"w"}', ' 7 '];
  let checked = 0;
  for (let i = 0; i < 300; i++) {
    const events = syntheticBatch(1 + rand(5));
    let body = JSON.stringify(events);
    for (let m = 0; m < rand(4); m++) body = body.replace('"event_data":{', `"event_data":{"f${m}":${pieces[rand(pieces.length)]},`);
    if (rand(3) === 0) body = body.replace(/,"/g, (s) => (rand(10) === 0 ? ', "' : s));
    const o = decodeBatch(input(body));
    if (!o.ok) return t.fail(o.code);
    const parsed = JSON.parse(body) as unknown[];
    t.same(values(o).map((v) => JSON.parse(v)), parsed.map((e) => JSON.parse(stringified(JSON.stringify(e)))));
    checked++;
  }
  t.equal(checked, 300);
});

t.test('tenant binding: events of a tenant the key may not write are dead-lettered tenant_forbidden', async (t) => {
  const events = [...syntheticBatch(2, { tenant: 'tenant-a' }), ...syntheticBatch(2, { tenant: 'tenant-b' }, 2)];
  const o = decodeBatch({ ...input(JSON.stringify(events)), tenants: ['tenant-a'] });
  if (!o.ok) return t.fail(o.code);
  t.equal(o.batch.accepted.count, 2);
  t.same(o.batch.accepted.headers.map((h) => h[0]), ['tenant-a', 'tenant-a']);
  t.same(o.batch.rejected.map((r) => [r.index, r.reason, r.errors[0]!.code]), [[2, 'tenant_forbidden', 'tenant_forbidden'], [3, 'tenant_forbidden', 'tenant_forbidden']]);
  const dead = JSON.parse(recordValue(o.batch.dead, 0).toString()) as { reason: string; tenant_id: string; original_event: { event_id: string } };
  t.equal(dead.reason, 'tenant_forbidden');
  t.equal(dead.tenant_id, 'tenant-a', "the dead letter is the sending key's tenant's, not the claimed tenant's");
  t.equal(dead.original_event.event_id, events[2]!.event_id);
  t.same(o.batch.dead.headers.map((h) => h[2]), ['tenant-a', 'tenant-a'], 'its tenant_id header (DLQ route, quota, metric) too');
  const any = decodeBatch({ ...input(JSON.stringify(events)), tenants: undefined });
  t.ok(any.ok && any.batch.accepted.count === 4, 'no tenant list: any tenant');
  const invalid = decodeBatch({ ...input(JSON.stringify([{ tenant_id: 'tenant-b' }])), tenants: ['tenant-a'] });
  t.ok(invalid.ok && invalid.batch.rejected[0]!.reason === 'validation', 'an invalid event is a validation failure first');
});

t.test('dead letters name the key that sent them and what it claimed', async (t) => {
  const events = [...syntheticBatch(1, { tenant: 'tenant-a' }), ...syntheticBatch(1, { tenant: 'victim' }, 1)];
  const bad = { ...syntheticBatch(1, { tenant: 'victim' }, 2)[0]!, event_type: 'no-such-type' };
  const o = decodeBatch({ ...input(JSON.stringify([...events, bad, { tenant_id: 7 }])), tenants: ['tenant-a', 'tenant-c'], keyId: 'k_123' });
  if (!o.ok) return t.fail(o.code);
  const dead = o.batch.dead.indexes.map((_, i) => JSON.parse(recordValue(o.batch.dead, i).toString()) as Record<string, unknown>);
  t.same(dead.map((d) => [d.reason, d.tenant_id, d.claimed_tenant_id, d.key_id]), [
    ['tenant_forbidden', 'tenant-a', 'victim', 'k_123'],
    ['validation', 'tenant-a', 'victim', 'k_123'],
    ['validation', 'tenant-a', undefined, 'k_123'],
  ], "forbidden or invalid, an event claiming another tenant is the key's first tenant's");
  t.same(o.batch.dead.headers.map((h) => h[2]), ['tenant-a', 'tenant-a', 'tenant-a']);
  const open = decodeBatch({ ...input(JSON.stringify([bad])) });
  const d = open.ok ? JSON.parse(recordValue(open.batch.dead, 0).toString()) as Record<string, unknown> : {};
  t.same([d.tenant_id, 'key_id' in d, 'claimed_tenant_id' in d], ['victim', false, false], 'without keys: the claimed tenant, nothing more');
});
