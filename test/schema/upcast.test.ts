/**
 * Upcasting (config.json `upcast`): malformed or incomplete steps are refused at load with the
 * reason; steps chain from any earlier version to the target; the decoder writes the rewritten
 * event_data with the target's version in the record and its headers; a step whose result does
 * not fit the target is a dead letter, never a record.
 */
import t, { type Test } from 'tap';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { parseUpcast, upcasters } from '../../src/schema/payload/upcast.js';
import { loadFolder } from '../../src/schema/payload/folder.js';
import { PayloadValidators } from '../../src/codec/payload.js';
import { decodeBatch, EVENT_HEADERS, type DecodedBatch } from '../../src/codec/decode.js';
import { recordValue } from '../../src/codec/packed.js';
import { syntheticEvent } from '../../src/pipeline/synthetic.js';
import type { SchemaSetSnapshot, TypeSchemas } from '../../src/schema/payload/types.js';

const closed = (props: Record<string, unknown>, required: string[]) => ({ type: 'object', properties: props, required, additionalProperties: false });
// v1 → v2 renames points to score; v2 → v3 adds attempt (default 1) and drops legacy.
const V1 = closed({ points: { type: 'number' }, legacy: { type: 'string' } }, ['points']);
const V2 = closed({ points: { type: 'number' }, score: { type: 'number' }, legacy: { type: 'string' } }, []);
const V3 = closed({ points: { type: 'number' }, score: { type: 'number' }, attempt: { type: 'integer', minimum: 1 } }, []);
const STEPS = { '1': [{ rename: { from: 'points', to: 'score' } }], '2': [{ default: { field: 'attempt', value: 1 } }, { drop: 'legacy' }] };

t.test('refused at load: target not loaded, steps missing for a version, a malformed step', async (t) => {
  t.match(parseUpcast({ to: 4, steps: STEPS }, [1, 2, 3]), /upcast.to 4 is not a loaded version \(1, 2, 3\)/);
  t.match(parseUpcast({ to: 3, steps: { '1': [] } }, [1, 2, 3]), /no steps from v2/);
  t.match(parseUpcast({ to: 3, steps: { '1': [{ rename: { from: 'a' } }], '2': [] } }, [1, 2, 3]), /upcast.steps\["1"\]: rename needs/);
  t.match(parseUpcast({ to: 3, steps: { '1': [{ move: 'a' }], '2': [] } }, [1, 2, 3]), /unknown step "move"/);
  t.match(parseUpcast({ to: 3, steps: { '1': [{ default: { field: 'a' } }], '2': [] } }, [1, 2, 3]), /default needs/);
  t.match(parseUpcast([], [1]), /upcast is \{"to"/);
  t.same(parseUpcast({ to: 3, steps: STEPS }, [1, 2, 3]), { to: 3, steps: STEPS });
});

t.test('steps chain from every earlier version to the target, on a copy', async (t) => {
  const type: TypeSchemas = { eventType: 'assessment', compatibility: 'NONE', defaultVersion: 3, pinned: false, versions: [V1, V2, V3].map((schema, i) => ({ version: i + 1, id: null, schema })), upcast: { to: 3, steps: STEPS } };
  const fns = upcasters(type);
  t.same([...fns.keys()], [1, 2]);
  const sent = { points: 7, legacy: 'x' };
  t.same(fns.get(1)!(sent), { score: 7, attempt: 1 });
  t.same(sent, { points: 7, legacy: 'x' }, 'the sent object is not changed');
  t.same(fns.get(2)!({ score: 2, attempt: 4 }), { score: 2, attempt: 4 }, 'default does not overwrite');
});

function folder(t: Test, files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(os.tmpdir(), 'upcast-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [f, v] of Object.entries(files)) {
    mkdirSync(join(dir, f, '..'), { recursive: true });
    writeFileSync(join(dir, f), JSON.stringify(v));
  }
  return dir;
}

const limits = { maxDecodedBytes: 1 << 20, maxEvents: 1000, maxEventBytes: 8192 };
const ev = (event_data: unknown, schema_version?: number) => ({ ...syntheticEvent(2), event_type: 'assessment', event_data, ...(schema_version ? { schema_version } : {}) });
const decode = (events: unknown[], snapshot: SchemaSetSnapshot): DecodedBatch => {
  const o = decodeBatch({ body: Buffer.from(JSON.stringify(events)), gzip: false, receivedAt: Date.now(), instance: 't/0', limits, payload: new PayloadValidators(snapshot) });
  if (!o.ok) throw new Error(o.code);
  return o.batch;
};

t.test('from the folder to the record: rewritten event_data, target version in the body and the header', async (t) => {
  const dir = folder(t, { 'assessment/1.json': V1, 'assessment/2.json': V2, 'assessment/3.json': V3, 'assessment/config.json': { compatibility: 'NONE', upcast: { to: 3, steps: STEPS } } });
  const { types, problems } = loadFolder(dir, 'BACKWARD');
  t.same(problems, []);
  t.same(types[0]!.upcast, { to: 3, steps: STEPS });
  const snapshot: SchemaSetSnapshot = { generation: 1, source: 'folder', location: dir, loadedAt: '', types };
  const b = decode([ev({ points: 7, legacy: 'x' }, 1), ev({ score: 5, legacy: 'y' }, 2), ev({ score: 9, attempt: 2 }), ev({ points: 'seven' }, 1)], snapshot);
  t.same(b.accepted.indexes, [0, 1, 2]);
  const bodies = [0, 1, 2].map((i) => JSON.parse(recordValue(b.accepted, i).toString()) as { schema_version: number; event_data: unknown });
  t.same(bodies.map((x) => [x.schema_version, x.event_data]), [[3, { score: 7, attempt: 1 }], [3, { score: 5, attempt: 1 }], [undefined, { score: 9, attempt: 2 }]]);
  t.same([0, 1, 2].map((i) => b.accepted.headers[i]![EVENT_HEADERS.indexOf('schema_version')]), ['3', '3', '3']);
  t.same(b.schemaUse, { 'assessment|1|valid': 1, 'assessment|2|valid': 1, 'assessment|3|valid': 1, 'assessment|1|invalid': 1 }, 'counted by the version sent');
  t.same(b.rejected.map((r) => [r.index, r.errors[0]!.code, r.errors[0]!.path]), [[3, 'wrong_type', '/event_data/points']], 'judged by its own version first');
});

t.test('a step whose result does not fit the target: a dead letter naming the upcast, never a record', async (t) => {
  const wrong = { '1': [{ rename: { from: 'points', to: 'scor' } }], '2': [{ drop: 'legacy' }] };
  const dir = folder(t, { 'assessment/1.json': V1, 'assessment/2.json': V2, 'assessment/3.json': V3, 'assessment/config.json': { compatibility: 'NONE', upcast: { to: 3, steps: wrong } } });
  const { types, problems } = loadFolder(dir, 'BACKWARD');
  t.same(problems, []);
  const b = decode([ev({ points: 7 }, 1)], { generation: 1, source: 'folder', location: dir, loadedAt: '', types });
  t.same(b.accepted.indexes, []);
  t.match(b.rejected[0]!.errors[0], { code: 'unexpected_field', path: '/event_data/scor', message: /^upcast from v1: .*\(assessment v3\)/ });
});

t.test('a broken upcast in config.json is a load problem', async (t) => {
  const dir = folder(t, { 'assessment/1.json': V1, 'assessment/2.json': V2, 'assessment/config.json': { compatibility: 'NONE', upcast: { to: 2, steps: {} } } });
  const { types, problems } = loadFolder(dir, 'BACKWARD');
  t.match(problems[0]!.message, /config.json: upcast.steps has no steps from v1/);
  t.equal(types[0]!.upcast, undefined, 'the versions load; nothing is rewritten');
});

t.test('the fast path upcasts too: minified and spaced bodies, scanner on and off, write the same record', async (t) => {
  // Regression: a minified v1 event went out byte for byte (v1 body, "schema_version":1) under v2 headers.
  const P1 = { type: 'object', properties: { points: { type: 'number' } }, required: ['points'] };
  const P2 = { type: 'object', properties: { score: { type: 'number' } }, required: ['score'] };
  const dir = folder(t, { 'progress/1.json': P1, 'progress/2.json': P2, 'progress/config.json': { compatibility: 'NONE', upcast: { to: 2, steps: { '1': [{ rename: { from: 'points', to: 'score' } }] } } } });
  const { types, problems } = loadFolder(dir, 'BACKWARD');
  t.same(problems, []);
  const payload = new PayloadValidators({ generation: 1, source: 'folder', location: dir, loadedAt: '', types });
  const event = { ...syntheticEvent(4), event_type: 'progress', schema_version: 1, event_data: { points: 7 } };
  const outputs: string[] = [];
  for (const nativeEnvelope of [true, false]) {
    for (const body of [JSON.stringify([event]), JSON.stringify([event], null, 2)]) {
      const o = decodeBatch({ body: Buffer.from(body), gzip: false, receivedAt: 0, instance: 't/0', limits: { ...limits, nativeEnvelope }, payload });
      if (!o.ok) throw new Error(o.code);
      t.equal(o.batch.accepted.count, 1);
      const value = JSON.parse(recordValue(o.batch.accepted, 0).toString()) as { schema_version: number; event_data: unknown };
      t.same([value.schema_version, value.event_data], [2, { score: 7 }], `written as v2 (scanner ${nativeEnvelope ? 'on' : 'off'}, ${body.includes('\n') ? 'spaced' : 'minified'})`);
      t.equal(o.batch.accepted.headers[0]![EVENT_HEADERS.indexOf('schema_version')], '2', 'the header agrees with the body');
      outputs.push(recordValue(o.batch.accepted, 0).toString());
    }
  }
  t.equal(new Set(outputs).size, 1, 'the same record bytes whichever path judged it');
});
