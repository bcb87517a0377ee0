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
  const src = new RegistrySource({ url: 'http://u:secret@127.0.0.1:1/x', subject: DEFAULT_SUBJECT_TEMPLATE, topic: 'events', compatibility: 'BACKWARD', timeoutMs: 500 });
  t.equal(src.location, 'http://127.0.0.1:1/x');
  t.equal(src.fingerprint(), null, 'a registry is asked at every refresh (cache expiry)');
});

t.test('SCHEMA_REGISTRY_URL: empty means the folder; not a URL is refused at boot', async (t) => {
  const base = { SCHEMA_REGISTRY_SUBJECT: DEFAULT_SUBJECT_TEMPLATE, SCHEMA_REGISTRY_TIMEOUT_MS: 500, SCHEMA_COMPATIBILITY: 'BACKWARD' as const, KAFKA_TOPIC: 'events' };
  t.equal(registrySourceFrom({ ...base, SCHEMA_REGISTRY_URL: '' }), null);
  t.throws(() => registrySourceFrom({ ...base, SCHEMA_REGISTRY_URL: 'registry:8081 ' }), /SCHEMA_REGISTRY_URL is not an http\(s\) URL/);
  t.type(registrySourceFrom({ ...base, SCHEMA_REGISTRY_URL: 'http://127.0.0.1:8081' }), RegistrySource);
});

t.test('a refused SCHEMA_REGISTRY_URL is named without its credentials', async (t) => {
  const base = { SCHEMA_REGISTRY_SUBJECT: DEFAULT_SUBJECT_TEMPLATE, SCHEMA_REGISTRY_TIMEOUT_MS: 500, SCHEMA_COMPATIBILITY: 'BACKWARD' as const, KAFKA_TOPIC: 'events' };
  for (const url of ['ftp://svc:hunter2@registry:8081', 'https://svc:hunter2@registry example:8081', 'svc:hunter2@registry:8081']) {
    const err = t.throws(() => registrySourceFrom({ ...base, SCHEMA_REGISTRY_URL: url })) as Error;
    t.match(err.message, /SCHEMA_REGISTRY_URL is not an http\(s\) URL: .*\*\*\*@registry/, url);
    t.notMatch(err.message, /hunter2|svc/, `${url}: no user-info in the message`);
  }
});

t.test('a registry that cannot be reached at boot: no payload schemas, degraded, retried at every refresh', async (t) => {
  const port = await deadPort();
  const source = new RegistrySource({ url: `http://127.0.0.1:${port}`, subject: DEFAULT_SUBJECT_TEMPLATE, topic: 'events', compatibility: 'BACKWARD', timeoutMs: 500 });
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
