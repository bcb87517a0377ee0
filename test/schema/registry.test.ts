/**
 * The registry source without a registry: what can be judged without one (subject naming,
 * credentials kept out of what is shown, a bad URL refused at boot) and the failure paths —
 * a registry that cannot be reached at boot leaves the process serving with no payload
 * schemas and says so; at a refresh it keeps the set in force; a refusal seen again at every
 * refresh is counted once. The registry itself is exercised for real, against Apicurio
 * Registry, in test/integration/schema-registry.test.ts.
 */
import t from 'tap';
import { createServer } from 'node:net';
import pino from 'pino';
import { RegistrySource, registrySourceFrom, splitRegistryUrl, subjectName, DEFAULT_SUBJECT_TEMPLATE } from '../../src/schema/payload/registry.js';
import { PayloadSchemas } from '../../src/schema/payload/service.js';
import type { SchemaSource, SourceLoad } from '../../src/schema/payload/source.js';
import { ConfigSchema } from '../../src/config/schema.js';
import { startMisbehavingRegistry } from '../helpers/misbehaving-registry.js';

const log = pino({ level: 'silent' });

/** A port nothing listens on: bound, then closed. */
async function deadPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise((r) => s.close(r));
  return port;
}

t.test('subject naming strategy: {topic}-{event_type} by default, any template', async (t) => {
  t.equal(DEFAULT_SUBJECT_TEMPLATE, '{topic}-{event_type}');
  t.equal(subjectName(DEFAULT_SUBJECT_TEMPLATE, 'events', 'assessment'), 'events-assessment');
  t.equal(subjectName('learning.{event_type}-value', 'events', 'progress'), 'learning.progress-value');
  const def = (ConfigSchema as unknown as { properties: Record<string, { default?: unknown }> }).properties.SCHEMA_REGISTRY_SUBJECT?.default;
  t.equal(def, DEFAULT_SUBJECT_TEMPLATE, 'the config default is the documented strategy');
});

t.test('credentials in the URL become basic auth and are never shown', async (t) => {
  t.same(splitRegistryUrl('https://svc:p%40ss@registry.example:8081/apis/ccompat/v7/'), {
    location: 'https://registry.example:8081/apis/ccompat/v7',
    auth: { username: 'svc', password: 'p@ss' },
  });
  t.same(splitRegistryUrl('http://127.0.0.1:8081'), { location: 'http://127.0.0.1:8081' });
  const src = new RegistrySource({ url: 'http://u:secret@127.0.0.1:1/x', subject: DEFAULT_SUBJECT_TEMPLATE, topic: 'events', compatibility: 'BACKWARD', timeoutMs: 500, maxVersions: 100 });
  t.equal(src.location, 'http://127.0.0.1:1/x');
  t.equal(src.fingerprint(), null, 'a registry is asked at every refresh (cache expiry)');
});

t.test('SCHEMA_REGISTRY_URL: empty means the folder; not a URL is refused at boot', async (t) => {
  const base = { SCHEMA_REGISTRY_SUBJECT: DEFAULT_SUBJECT_TEMPLATE, SCHEMA_REGISTRY_TIMEOUT_MS: 500, SCHEMA_REGISTRY_MAX_VERSIONS: 100, SCHEMA_COMPATIBILITY: 'BACKWARD' as const, KAFKA_TOPIC: 'events' };
  t.equal(registrySourceFrom({ ...base, SCHEMA_REGISTRY_URL: '' }), null);
  t.throws(() => registrySourceFrom({ ...base, SCHEMA_REGISTRY_URL: 'registry:8081 ' }), /SCHEMA_REGISTRY_URL is not an http\(s\) URL/);
  t.type(registrySourceFrom({ ...base, SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081' }), RegistrySource);
});

t.test('a refused SCHEMA_REGISTRY_URL is named without its credentials', async (t) => {
  const base = { SCHEMA_REGISTRY_SUBJECT: DEFAULT_SUBJECT_TEMPLATE, SCHEMA_REGISTRY_TIMEOUT_MS: 500, SCHEMA_REGISTRY_MAX_VERSIONS: 100, SCHEMA_COMPATIBILITY: 'BACKWARD' as const, KAFKA_TOPIC: 'events' };
  for (const url of ['ftp://svc:hunter2@registry:8081', 'https://svc:hunter2@registry example:8081', 'svc:hunter2@registry:8081']) {
    const err = t.throws(() => registrySourceFrom({ ...base, SCHEMA_REGISTRY_URL: url })) as Error;
    t.match(err.message, /SCHEMA_REGISTRY_URL is not an http\(s\) URL: .*\*\*\*@registry/, url);
    t.notMatch(err.message, /hunter2|svc/, `${url}: no user-info in the message`);
  }
});

t.test('a registry that cannot be reached at boot: no payload schemas, degraded, retried at every refresh', async (t) => {
  const port = await deadPort();
  const source = new RegistrySource({ url: `http://127.0.0.1:${port}`, subject: DEFAULT_SUBJECT_TEMPLATE, topic: 'events', compatibility: 'BACKWARD', timeoutMs: 500, maxVersions: 100 });
  await t.rejects(source.load(), 'the source throws: it cannot say what it holds');
  const results: string[] = [];
  const s = new PayloadSchemas({ dir: 'ignored', compatibility: 'BACKWARD', source, reloadMs: 60_000, log, onReload: (r) => results.push(r) });
  await s.load();
  t.match(s.snapshot, { source: 'registry', location: `http://127.0.0.1:${port}`, generation: 1, types: [] });
  t.ok(s.current.empty, 'any event_data is accepted until the registry answers');
  t.equal(s.status().status, 'degraded');
  t.match(s.status().problems[0]!.message, new RegExp(`loading http://127.0.0.1:${port} failed`));
  t.equal(s.dir, '', 'not a folder');
  t.match(await s.reload('poll', false), { result: 'failed' });
  t.same(results, ['failed']);
});

/** A source whose answers the test sets: the schema set's behaviour with any source. */
class ScriptedSource implements SchemaSource {
  readonly kind = 'registry' as const;
  readonly location = 'scripted';
  next: SourceLoad | Error = { types: [], problems: [] };
  fingerprint(): null {
    return null;
  }
  async load(): Promise<SourceLoad> {
    if (this.next instanceof Error) throw this.next;
    return this.next;
  }
}

const ASSESSMENT_V1 = { eventType: 'assessment', compatibility: 'BACKWARD' as const, defaultVersion: 1, pinned: false, versions: [{ version: 1, id: 11, schema: { type: 'object' } }] };

t.test('refreshes: a failure keeps the set in force; the same refusal is counted once; a fix is applied', async (t) => {
  const src = new ScriptedSource();
  src.next = { types: [ASSESSMENT_V1], problems: [] };
  const results: string[] = [];
  const s = new PayloadSchemas({ dir: '', compatibility: 'BACKWARD', source: src, reloadMs: 60_000, log, onReload: (r) => results.push(r) });
  await s.load();
  t.equal(s.snapshot.types[0]!.versions[0]!.id, 11);
  t.match(s.current.judge({ event_type: 'assessment', event_data: {} }), { ok: true, version: 1, headers: ['1', '11'] }, 'schema_id header value from the registry id');

  src.next = new Error('connect ECONNREFUSED');
  t.match(await s.reload('poll', false), { result: 'failed' });
  t.equal(s.snapshot.generation, 1);
  t.match(s.current.judge({ event_type: 'assessment', event_data: {} }), { ok: true, version: 1 });

  const refusal = { eventType: 'assessment', version: 2, message: 'assessment v2 refused: …' };
  src.next = { types: [ASSESSMENT_V1], problems: [refusal] };
  t.match(await s.reload('poll', false), { result: 'refused' });
  t.match(await s.reload('poll', false), { result: 'refused' });
  t.same(results, ['failed', 'refused'], 'one refusal, one count');
  t.equal(s.status().status, 'degraded');

  src.next = { types: [{ ...ASSESSMENT_V1, defaultVersion: 2, versions: [...ASSESSMENT_V1.versions, { version: 2, id: 12, schema: { type: 'object' } }] }], problems: [] };
  t.match(await s.reload('poll', false), { result: 'applied' });
  t.equal(s.snapshot.generation, 2);
  t.equal(s.status().status, 'ok');
  t.match(await s.reload('poll', false), { result: 'unchanged' });
  t.same(results, ['failed', 'refused', 'applied']);
});

t.test('a poll that comes while a load is running waits for it instead of loading twice', async (t) => {
  let loads = 0;
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const src: SchemaSource = {
    kind: 'registry',
    location: 'slow',
    fingerprint: () => null,
    load: async () => {
      loads++;
      await gate;
      return { types: [ASSESSMENT_V1], problems: [] };
    },
  };
  const s = new PayloadSchemas({ dir: '', compatibility: 'BACKWARD', source: src, reloadMs: 60_000, log });
  const first = s.reload('poll', false);
  const second = s.reload('SIGHUP', true);
  release();
  t.same(await first, await second);
  t.equal(loads, 1);
});

const SCHEMA = JSON.stringify({ type: 'object', properties: { score: { type: 'number' } } });
const answer = (version: unknown, over: Record<string, unknown> = {}) => ({ subject: 'events-assessment', version, id: 100, schemaType: 'JSON', schema: SCHEMA, ...over });

/** A source on the misbehaving registry; `refused` collects the reasons it reports (the metric's label). */
function sourceOn(url: string, maxVersions: number) {
  const refused: string[] = [];
  const opts = { url, subject: DEFAULT_SUBJECT_TEMPLATE, topic: 'events', compatibility: 'BACKWARD' as const, timeoutMs: 2000, maxVersions, onRefusedAnswer: (r: string) => refused.push(r) };
  return { source: new RegistrySource(opts), refused };
}

t.test('a registry answering latest version 1e9 is refused at once: no walk to it, nothing cached, a clear problem, counted', async (t) => {
  const reg = await startMisbehavingRegistry();
  t.teardown(() => reg.close());
  reg.latest.set('events-assessment', answer(1e9));
  const { source, refused } = sourceOn(reg.url, 100);
  const loaded = await Promise.race([source.load(), new Promise<'wedged'>((r) => setTimeout(() => r('wedged'), 5000))]);
  if (loaded === 'wedged') return t.fail(`load() still running after 5 s: ${reg.requests} requests so far`);
  t.ok(reg.requests <= 2 * 5, `one or two requests per event type (${reg.requests})`);
  t.same(loaded.types, [], 'the type is not loaded');
  t.equal(loaded.problems.length, 1);
  t.match(loaded.problems[0], { eventType: 'assessment', version: null, message: /events-assessment: the registry answered latest version 1000000000; at most SCHEMA_REGISTRY_MAX_VERSIONS \(100\) versions of a subject are read/ });
  t.same(refused, ['too_many_versions']);
});

t.test('SCHEMA_REGISTRY_MAX_VERSIONS: a subject up to it loads; one version past it is refused', async (t) => {
  const reg = await startMisbehavingRegistry();
  t.teardown(() => reg.close());
  reg.latest.set('events-assessment', answer(3, { id: 103 }));
  for (const n of [1, 3]) reg.versions.set(`events-assessment/${n}`, answer(n, { id: 100 + n })); // v2 deleted
  const atCap = await sourceOn(reg.url, 3).source.load();
  t.same(atCap.problems, []);
  t.same(atCap.types[0]!.versions.map((v) => [v.version, v.id]), [[1, 101], [3, 103]]);
  const over = sourceOn(reg.url, 2);
  const refused = await over.source.load();
  t.same(refused.types, []);
  t.match(refused.problems[0]!.message, /latest version 3; at most SCHEMA_REGISTRY_MAX_VERSIONS \(2\)/);
  t.same(over.refused, ['too_many_versions']);
});

t.test('malformed answers are refused with the reason, never used', async (t) => {
  const reg = await startMisbehavingRegistry();
  t.teardown(() => reg.close());
  const cases: [string, unknown, RegExp][] = [
    ['negative version', answer(-1), /version -1 is not a positive integer/],
    ['fractional version', answer(2.5), /version 2.5 is not a positive integer/],
    ['version as text', answer('7'), /version "7" is not a positive integer/],
    ['negative id', answer(1, { id: -4 }), /id -4 is not a non-negative integer/],
    ['schema not a string', answer(1, { schema: { type: 'object' } }), /schema is not a string/],
    ['not an object', [1, 2, 3], /not a schema version/],
  ];
  for (const [what, latest, why] of cases) {
    reg.latest.set('events-assessment', latest);
    reg.versions.set('events-assessment/1', answer(1));
    const { source, refused } = sourceOn(reg.url, 100);
    const r = await source.load();
    t.same(r.types, [], `${what}: not loaded`);
    t.match(r.problems[0]?.message, why, what);
    t.same(refused, ['malformed'], `${what}: counted`);
  }
  // The latest is fine, but version 1 answers as another version: refused like a version that does not compile.
  reg.latest.set('events-assessment', answer(2, { id: 102 }));
  reg.versions.set('events-assessment/1', answer(9));
  reg.versions.set('events-assessment/2', answer(2, { id: 102 }));
  const { source, refused } = sourceOn(reg.url, 100);
  const r = await source.load();
  t.match(r.problems[0], { version: 1, message: /asked for version 1, the registry answered version 9/ });
  t.same(refused, ['malformed']);
});

t.test('an absurd answer at a refresh: the set in force keeps serving, the reload is refused', async (t) => {
  const reg = await startMisbehavingRegistry();
  t.teardown(() => reg.close());
  reg.latest.set('events-assessment', answer(1, { id: 101 }));
  reg.versions.set('events-assessment/1', answer(1, { id: 101 }));
  const { source } = sourceOn(reg.url, 100);
  const results: string[] = [];
  const s = new PayloadSchemas({ dir: '', compatibility: 'BACKWARD', source, reloadMs: 60_000, log, onReload: (r) => results.push(r) });
  await s.load();
  t.equal(s.snapshot.types[0]!.versions[0]!.id, 101);
  reg.latest.set('events-assessment', answer(1e9));
  t.match(await s.reload('poll', false), { result: 'refused' });
  t.equal(s.snapshot.generation, 1, 'the set in force stays');
  t.match(s.current.judge({ event_type: 'assessment', event_data: { score: 1 } }), { ok: true, version: 1, headers: ['1', '101'] });
  t.match(s.status(), { status: 'degraded', problems: [{ message: /latest version 1000000000/ }] });
  t.same(results, ['refused']);
});
