/**
 * The folder source and the process's schema set: the shipped examples load, a breaking
 * version is refused with a message naming field and rule, a reload with a problem keeps
 * the previous set (validators, channel and status), a good reload is applied and reaches
 * a reader of the channel (what the decode workers do).
 */
import t, { type Test } from 'tap';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import { loadFolder } from '../../src/schema/payload/folder.js';
import { PayloadSchemas } from '../../src/schema/payload/service.js';
import { SchemaChannel } from '../../src/schema/payload/channel.js';
import { PayloadValidators } from '../../src/codec/payload.js';
import { EVENT_TYPES } from '../../src/schema/event.js';
import { syntheticBatch } from '../../src/pipeline/synthetic.js';

const SHIPPED = fileURLToPath(new URL('../../../schemas', import.meta.url));
const log = pino({ level: 'silent' });
const closed = (props: Record<string, unknown>, required: string[]) => ({ type: 'object', properties: props, required, additionalProperties: false });
const V1 = closed({ score: { type: 'number' } }, ['score']);
const V2 = closed({ score: { type: 'number' }, attempt: { type: 'integer' } }, ['score']);

function folder(t: Test, files: Record<string, unknown>): string {
  const dir = mkdtempSync(join(os.tmpdir(), 'schemas-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  for (const [f, v] of Object.entries(files)) write(dir, f, v);
  return dir;
}
function write(dir: string, f: string, v: unknown): void {
  mkdirSync(join(dir, f, '..'), { recursive: true });
  writeFileSync(join(dir, f), typeof v === 'string' ? v : JSON.stringify(v));
}

t.test('the shipped examples load for all five types and accept the synthetic events', async (t) => {
  const { types, problems } = loadFolder(SHIPPED, 'BACKWARD');
  t.same(problems, []);
  t.same(types.map((x) => x.eventType).sort(), [...EVENT_TYPES].sort());
  const v = new PayloadValidators({ generation: 1, source: 'folder', location: SHIPPED, loadedAt: '', types });
  for (const e of syntheticBatch(50)) t.match(v.judge(e), { ok: true, version: 1 }, `${e.event_type as string} synthetic event`);
});

t.test('a breaking version is refused, with the later ones; earlier ones load', async (t) => {
  const dir = folder(t, {
    'assessment/1.json': V1,
    'assessment/2.json': V2,
    'assessment/3.json': closed({ attempt: { type: 'integer' } }, []),
    'assessment/4.json': closed({ attempt: { type: 'integer' } }, []),
  });
  const { types, problems } = loadFolder(dir, 'BACKWARD');
  t.same(types[0]!.versions.map((v) => v.version), [1, 2]);
  t.equal(types[0]!.defaultVersion, 2);
  t.same(problems.map((p) => p.message), [
    'assessment v3 refused: removes required field `score` from a closed content model: not BACKWARD compatible with v2',
    'assessment v4 refused: it follows v3, which was refused',
  ]);
});

t.test('config.json sets the rule and pins the default; bad files are named', async (t) => {
  const dir = folder(t, {
    'assessment/1.json': V1,
    'assessment/2.json': V2,
    'assessment/config.json': { compatibility: 'FORWARD', default_version: 1 },
    'progress/1.json': '{ not json',
    'progress/v2.json': V1,
    'teleport/1.json': V1,
    'error/1.json': { type: 'object', properties: { code: { type: 'strnig' } } },
  });
  const { types, problems } = loadFolder(dir, 'BACKWARD');
  // FORWARD: v2 adds a field to a closed model, which v1 readers refuse.
  t.same(types.map((x) => [x.eventType, x.versions.map((v) => v.version), x.defaultVersion, x.compatibility, x.pinned]), [['assessment', [1], 1, 'FORWARD', true]]);
  const messages = problems.map((p) => p.message).join('\n');
  t.match(messages, /assessment v2 refused: adds optional field `attempt`: not FORWARD compatible with v1/);
  t.match(messages, /progress v1 refused: not JSON/);
  t.match(messages, /v2\.json: a version file is named <integer ≥ 1>\.json/);
  t.match(messages, /teleport is not an event_type/);
  t.match(messages, /error v1 refused: not a valid JSON Schema/);
});

t.test('reload: a problem keeps the previous set in force; a good change is applied and published', async (t) => {
  const dir = folder(t, { 'assessment/1.json': V1, 'assessment/2.json': V2 });
  const results: string[] = [];
  const s = new PayloadSchemas({ dir, compatibility: 'BACKWARD', reloadMs: 60_000, log, onReload: (r) => results.push(r) });
  await s.load();
  const reader = new SchemaChannel(s.channel.sab);
  t.equal(reader.read()!.snapshot.generation, 1);
  const before = s.current;

  write(dir, 'assessment/3.json', closed({ attempt: { type: 'integer' } }, []));
  t.equal((await s.reload('test', false))!.result, 'refused');
  t.equal(s.current, before, 'same validators');
  t.equal(reader.read()!.snapshot.generation, 1, 'workers keep the previous set');
  t.equal(s.status().status, 'degraded');
  t.match(s.status().problems[0]!.message, /assessment v3 refused: removes required field `score`/);
  t.match(s.current.judge({ event_type: 'assessment', event_data: { score: 1 } }), { ok: true, version: 2 });

  // Fixed: v3 is now compatible (adds an optional field to the closed model).
  write(dir, 'assessment/3.json', closed({ score: { type: 'number' }, attempt: { type: 'integer' }, hint: { type: 'string' } }, ['score']));
  t.equal((await s.reload('test', false))!.result, 'applied');
  t.equal(s.status().status, 'ok');
  const got = reader.read()!;
  t.equal(got.snapshot.generation, 2);
  t.same(got.snapshot.types[0]!.versions.map((v) => v.version), [1, 2, 3]);
  t.match(new PayloadValidators(got.snapshot).judge({ event_type: 'assessment', event_data: { score: 1, hint: 'x' } }), { ok: true, version: 3 });
  t.same(results, ['refused', 'applied']);
  t.equal((await s.reload('test', false))!.result, 'applied', 'unchanged folder: nothing reloaded');
});

t.test('SCHEMA_DIR=off: no schemas, nothing watched', async (t) => {
  const s = new PayloadSchemas({ dir: 'off', compatibility: 'BACKWARD', reloadMs: 60_000, log });
  await s.load();
  t.equal(s.snapshot.source, 'none');
  t.ok(s.current.empty);
  t.equal(await s.reload('x', true), null);
});

t.test('a missing folder is reported, not fatal', async (t) => {
  const s = new PayloadSchemas({ dir: join(os.tmpdir(), 'no-such-schemas-dir-xyz'), compatibility: 'BACKWARD', reloadMs: 60_000, log });
  await s.load();
  t.equal(s.status().status, 'degraded');
  t.match(s.status().problems[0]!.message, /cannot read SCHEMA_DIR/);
});

t.test('SIGHUP reloads at once (the poll is an hour away here)', async (t) => {
  const dir = folder(t, { 'assessment/1.json': V1 });
  const s = new PayloadSchemas({ dir, compatibility: 'BACKWARD', reloadMs: 3_600_000, log });
  await s.load();
  s.start();
  t.teardown(() => s.stop());
  write(dir, 'assessment/2.json', V2);
  process.kill(process.pid, 'SIGHUP');
  const deadline = Date.now() + 30_000;
  while (s.snapshot.generation !== 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  t.same(s.snapshot.types[0]!.versions.map((v) => v.version), [1, 2]);
  t.equal(s.status().last_reload?.result, 'applied');
});

t.test('a pattern only a backtracking engine can run is refused at load, naming the type, version and pattern', async (t) => {
  const dir = folder(t, {
    'assessment/1.json': V1,
    'assessment/2.json': closed({ score: { type: 'number' }, code: { type: 'string', pattern: '^(?=a)a+$' } }, ['score']),
    'progress/1.json': { type: 'object', patternProperties: { '^(x)\\1$': { type: 'number' } } },
  });
  const { types, problems } = loadFolder(dir, 'BACKWARD');
  t.same(types.find((x) => x.eventType === 'assessment')!.versions.map((v) => v.version), [1], 'v1 still loads');
  t.same(
    problems.map((p) => p.message),
    [
      'assessment v2 refused: pattern "^(?=a)a+$" cannot run on RE2 (invalid perl operator: (?=); rewrite it without lookaround or backreferences',
      'progress v1 refused: pattern "^(x)\\\\1$" cannot run on RE2 (invalid escape sequence: \\1); rewrite it without lookaround or backreferences',
    ],
  );
});
