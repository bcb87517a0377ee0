/**
 * The Schema Registry source against a real registry: Apicurio Registry 3.x from Maven Central
 * (schema-registry/apicurio.ts), spoken to through its Confluent-compatible API. Schemas are
 * registered with @kafkajs/confluent-schema-registry, as a team owning them would. Two collector
 * processes (as PM2 runs them) take their payload schemas from it: v1 and v2 of a type in one
 * batch each judged by its own version, records read back from Kafka with schema_version and
 * the registry's schema_id as headers, an unknown version, a v3 registered while running and
 * picked up by every process after its cache expires, a version the registry took but the
 * collector cannot compile refused with the previous set serving, and a registry that goes away leaving the set in force.
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { COMPATIBILITY, SchemaRegistry, SchemaType } from '@kafkajs/confluent-schema-registry';
import { sharedBroker } from '../helpers/broker.js';
import { createTopics } from '../helpers/topics.js';
import { startCollector, waitHealthy, type RunningCollector } from '../helpers/collector.js';
import { readUntilIds } from '../helpers/consumer.js';
import { sleep } from '../helpers/load.js';
import { startApicurio, type RunningRegistry } from '../../schema-registry/apicurio.js';
import type { SchemasDocument } from '../../src/ops/schemas.js';

const { bootstrap } = sharedBroker();
const suffix = randomUUID().slice(0, 8);
const TOPIC = `events-registry-${suffix}`;
const DLQ = `events-dlq-registry-${suffix}`;
const SUBJECT = `${TOPIC}-assessment`;
const tmp = mkdtempSync(join(os.tmpdir(), 'registry-it-'));

const closed = (props: Record<string, unknown>, required: string[]) => ({ type: 'object', properties: props, required, additionalProperties: false });
const V1 = closed({ score: { type: 'number' }, max_score: { type: 'number' } }, ['score']);
const V2 = closed({ score: { type: 'number' }, max_score: { type: 'number' }, attempt: { type: 'integer', minimum: 1 } }, ['score']);
const V3 = closed({ score: { type: 'number' }, max_score: { type: 'number' }, attempt: { type: 'integer', minimum: 1 }, hint_used: { type: 'boolean' } }, ['score']);
// Compatible by the registry's rule (Apicurio accepts it), but `defualt` is no keyword: Ajv's strict mode refuses it.
const V4_TYPO = closed({ score: { type: 'number' }, max_score: { type: 'number' }, attempt: { type: 'integer', minimum: 1 }, hint_used: { type: 'boolean', defualt: false } }, ['score']);

const event = (event_data: unknown, schema_version?: number) => ({
  event_id: randomUUID(),
  learner_id: `learner_${Math.floor(Math.random() * 50)}`,
  tenant_id: 'tenant_alpha',
  event_type: 'assessment',
  ...(schema_version === undefined ? {} : { schema_version }),
  timestamp: '2024-01-15T10:30:00Z',
  source_service: 'quiz-svc',
  event_data,
  metadata: {},
});

let registry: RunningRegistry;
let client: SchemaRegistry;
let a: RunningCollector;
let b: RunningCollector;
const ids: number[] = [];

async function register(schema: unknown): Promise<number> {
  const { id } = await client.register({ type: SchemaType.JSON, schema: JSON.stringify(schema) }, { subject: SUBJECT });
  return id;
}

t.before(async () => {
  registry = await startApicurio({ logFile: join(tmp, 'apicurio.log') });
  t.comment(`Apicurio Registry ${registry.version} (${registry.java}) at ${registry.url}`);
  client = new SchemaRegistry({ host: registry.url });
  ids.push(await register(V1), await register(V2));
  await createTopics([{ name: TOPIC, partitions: 3 }, { name: DLQ, partitions: 1 }]);
  const env = {
    KAFKA_BOOTSTRAP_SERVERS: bootstrap,
    KAFKA_TOPIC: TOPIC,
    DLQ_TOPIC: DLQ,
    SCHEMA_REGISTRY_URL: registry.url,
    SCHEMA_REGISTRY_REFRESH_MS: '500',
    SCHEMA_REGISTRY_TIMEOUT_MS: '2000',
    RUN_DIR: join(tmp, 'run'),
  };
  [a, b] = await Promise.all([startCollector({ ...env, INSTANCE_ID: '0' }), startCollector({ ...env, INSTANCE_ID: '1' })]);
  await Promise.all([waitHealthy(a.url, 60_000), waitHealthy(b.url, 60_000)]);
});
t.teardown(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  await registry?.stop();
  rmSync(tmp, { recursive: true, force: true });
});

const post = async (url: string, events: unknown[]) => {
  const r = await fetch(`${url}/api/v1/collect`, { method: 'POST', body: JSON.stringify(events), headers: { 'content-type': 'application/json' } });
  return { status: r.status, body: (await r.json()) as { accepted_count: number; dlq_events: { index: number; errors: { code: string; path: string; message: string }[] }[] } };
};
const schemas = async (url: string) => (await (await fetch(`${url}/api/v1/schemas`)).json()) as SchemasDocument;
const health = async (url: string) =>
  (await (await fetch(`${url}/api/v1/health`)).json()) as { status: string; payload_schemas: { status: string; generation: number; problems: string[] } };
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 90_000): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
  return Date.now() - started;
}

t.test('registry v1 and v2 in one batch, each judged by its own version; schema_id read back from Kafka', async (t) => {
  t.not(ids[0], ids[1], 'the registry assigned two ids');
  const events = [
    event({ score: 7 }, 1),
    event({ score: 8, attempt: 2 }, 2),
    event({ score: 9, attempt: 3 }), // default: the latest, v2
    event({ score: 1, attempt: 2 }, 1), // attempt is not a v1 field
    event({ score: 1 }, 9), // no v9 in the registry
    event({ attempt: 1 }, 2), // score missing
  ];
  const res = await post(a.url, events);
  t.equal(res.status, 207);
  t.equal(res.body.accepted_count, 3);
  t.same(res.body.dlq_events.map((d) => [d.index, d.errors[0]!.code, d.errors[0]!.path]), [
    [3, 'unexpected_field', '/event_data/attempt'],
    [4, 'unknown_schema_version', '/schema_version'],
    [5, 'missing_field', '/event_data/score'],
  ]);
  t.match(res.body.dlq_events[1]!.errors[0]!.message, /schema_version 9 is not registered: known versions of assessment: 1, 2/);
  const records = await readUntilIds(bootstrap, TOPIC, events.slice(0, 3).map((e) => e.event_id));
  const byId = new Map(records.map((r) => [(JSON.parse(r.value) as { event_id: string }).event_id, r]));
  const headers = events.slice(0, 3).map((e) => byId.get(e.event_id)?.headers);
  t.same(headers.map((h) => h?.schema_version), ['1', '2', '2'], 'schema_version headers');
  t.same(headers.map((h) => h?.schema_id), [String(ids[0]), String(ids[1]), String(ids[1])], 'schema_id headers: the ids the registry assigned');
  t.equal(headers[0]?.event_type, 'assessment', 'the other headers stay');
});

t.test('GET /api/v1/schemas names the registry, its versions and ids; a type with no subject takes any object', async (t) => {
  const s = await schemas(b.url);
  t.match(s, { source: 'registry', location: registry.url, status: 'ok', generation: 1 });
  t.same(s.types.map((x) => [x.event_type, x.versions.map((v) => [v.version, v.schema_id]), x.default_version, x.compatibility]), [
    ['assessment', [[1, ids[0]], [2, ids[1]]], 2, 'BACKWARD'],
  ]);
  const res = await post(b.url, [{ ...event({ anything: ['goes'] }), event_type: 'progress' }]);
  t.equal(res.status, 200);
});

t.test('a v3 registered while running is used by every process after the cache expires', async (t) => {
  const id3 = await register(V3);
  const waited = await Promise.all([a, b].map((c) => until(`v3 in ${c.url}`, async () => (await post(c.url, [event({ score: 1, hint_used: true }, 3)])).status === 200)));
  t.comment(`v3 accepted by both processes ${waited.join(' / ')} ms after it was registered`);
  for (const c of [a, b]) {
    const s = await schemas(c.url);
    t.same(s.types[0]!.versions.map((v) => [v.version, v.schema_id]), [[1, ids[0]], [2, ids[1]], [3, id3]]);
    t.equal(s.types[0]!.default_version, 3, 'the latest is the default');
    t.equal(s.generation, 2);
  }
  const last = event({ score: 3, hint_used: false });
  t.equal((await post(b.url, [last])).status, 200);
  const records = await readUntilIds(bootstrap, TOPIC, [last.event_id]);
  const h = records.find((r) => r.value.includes(last.event_id))?.headers;
  t.same([h?.schema_version, h?.schema_id], ['3', String(id3)]);
  const prom = await (await fetch(`${a.url}/metrics`)).text();
  t.match(prom, /collector_schema_reloads_total\{result="applied"[^}]*\} [1-9]/);
});

t.test("a subject's own compatibility level is the type's rule; a new subject is picked up as a new type", async (t) => {
  const subject = `${TOPIC}-progress`;
  const put = await fetch(`${registry.url}/config/${subject}`, {
    method: 'PUT',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ compatibility: 'FULL' }),
  });
  t.equal(put.status, 200, 'the registry took the subject-level rule');
  const progress = closed({ lesson: { type: 'string' }, percent: { type: 'number', minimum: 0, maximum: 100 } }, ['lesson']);
  // The client checks that the subject's level is the one it is told (it would set BACKWARD on a new subject).
  const { id } = await client.register({ type: SchemaType.JSON, schema: JSON.stringify(progress) }, { subject, compatibility: COMPATIBILITY.FULL });
  for (const c of [a, b]) await until(`progress in ${c.url}`, async () => (await schemas(c.url)).types.some((x) => x.event_type === 'progress'));
  const p = (await schemas(a.url)).types.find((x) => x.event_type === 'progress')!;
  t.same([p.compatibility, p.versions.map((v) => [v.version, v.schema_id])], ['FULL', [[1, id]]]);
  t.equal((await schemas(a.url)).types.find((x) => x.event_type === 'assessment')!.compatibility, 'BACKWARD', 'the level the client set at its first registration');
  // Registered with no level of its own: Apicurio answers GET /config/{subject} with its global level (NONE by
  // default), where Confluent answers 404 and SCHEMA_COMPATIBILITY applies. The registry's answer is the rule.
  const sys = await fetch(`${registry.url}/subjects/${TOPIC}-system/versions`, {
    method: 'POST',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ schemaType: 'JSON', schema: JSON.stringify(closed({ component: { type: 'string' } }, ['component'])) }),
  });
  t.equal(sys.status, 200);
  await until('system in the set', async () => (await schemas(a.url)).types.some((x) => x.event_type === 'system'));
  t.equal((await schemas(a.url)).types.find((x) => x.event_type === 'system')!.compatibility, 'NONE', "Apicurio's global level");
  const res = await post(a.url, [{ ...event({ lesson: 'l1', percent: 50 }), event_type: 'progress' }, { ...event({ percent: 50 }), event_type: 'progress' }]);
  t.same([res.status, res.body.dlq_events.map((d) => [d.errors[0]!.code, d.errors[0]!.path])], [207, [['missing_field', '/event_data/lesson']]], 'progress is now judged');
});

t.test('a v4 the registry took but the collector cannot compile is refused; the previous set keeps serving, the refusal is reported', async (t) => {
  // Apicurio 3 checks BACKWARD itself on register (a breaking version never gets in); a typo'd keyword does.
  const before = (await health(a.url)).payload_schemas.generation;
  // The client compiles a schema before sending it, and refuses this one: post it as curl would.
  const r = await fetch(`${registry.url}/subjects/${SUBJECT}/versions`, {
    method: 'POST',
    headers: { 'content-type': 'application/vnd.schemaregistry.v1+json' },
    body: JSON.stringify({ schemaType: 'JSON', schema: JSON.stringify(V4_TYPO) }),
  });
  t.equal(r.status, 200, `the registry took it: ${await r.clone().text()}`);
  for (const c of [a, b]) await until(`the refusal in ${c.url} health`, async () => (await health(c.url)).payload_schemas.status === 'degraded');
  const h = await health(a.url);
  t.equal(h.status, 'degraded');
  t.match(h.payload_schemas.problems[0], new RegExp(`assessment v4 \\(${SUBJECT}, id \\d+\\) refused: not a valid JSON Schema: strict mode: unknown keyword: "defualt"`));
  t.equal(h.payload_schemas.generation, before, 'previous set in force');
  const res = await post(a.url, [event({ score: 2, hint_used: true }), event({ attempt: 1 }, 4)]);
  t.same([res.status, res.body.dlq_events.map((d) => d.errors[0]!.code)], [207, ['unknown_schema_version']]);
  const prom = await (await fetch(`${b.url}/metrics`)).text();
  t.match(prom, /collector_schema_reloads_total\{result="refused"[^}]*\} [1-9]/);
});

t.test('the registry goes away: the set in force keeps serving, the failure is reported', async (t) => {
  await registry.stop();
  await until('the failed refresh in health', async () => (await health(b.url)).payload_schemas.problems.some((p) => /reload failed/.test(p)));
  const s = await schemas(b.url);
  t.match(s, { status: 'degraded', last_reload: { result: 'failed' } });
  t.same(s.types.find((x) => x.event_type === 'assessment')!.versions.map((v) => v.version), [1, 2, 3], 'the last good set serves');
  const res = await post(b.url, [event({ score: 4 }, 1), event({ score: 5, hint_used: true })]);
  t.same([res.status, res.body.accepted_count], [200, 2]);
  const prom = await (await fetch(`${b.url}/metrics`)).text();
  t.match(prom, /collector_schema_reloads_total\{result="failed"[^}]*\} [1-9]/);
});
