/**
 * Schema evolution end to end: real collector processes judging event_data by versioned
 * schemas from a folder, on the main thread (small bodies) and in the decode workers
 * (large ones); records read back from the real broker with their schema headers; a
 * breaking v3 refused while the previous set keeps serving; a compatible v3 dropped in
 * under load and used within seconds by every process, with no failed request.
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, renameSync, rmSync, unlinkSync, writeFileSync, mkdirSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { sharedBroker } from '../helpers/broker.js';
import { createTopics } from '../helpers/topics.js';
import { startCollector, waitHealthy, type RunningCollector } from '../helpers/collector.js';
import { readUntilIds } from '../helpers/consumer.js';
import { sleep } from '../helpers/load.js';
import type { SchemasDocument } from '../../src/ops/schemas.js';

const { bootstrap } = sharedBroker();
const suffix = randomUUID().slice(0, 8);
const TOPIC = `events-schema-${suffix}`;
const DLQ = `events-dlq-schema-${suffix}`;
const dir = mkdtempSync(join(os.tmpdir(), 'schemas-it-'));

const closed = (props: Record<string, unknown>, required: string[]) => ({ type: 'object', properties: props, required, additionalProperties: false });
const V1 = closed({ score: { type: 'number' }, max_score: { type: 'number' } }, ['score']);
const V2 = closed({ score: { type: 'number' }, max_score: { type: 'number' }, attempt: { type: 'integer', minimum: 1 } }, ['score']);
const V3_BREAKING = closed({ max_score: { type: 'number' }, attempt: { type: 'integer' } }, []);
const V3 = closed({ score: { type: 'number' }, max_score: { type: 'number' }, attempt: { type: 'integer', minimum: 1 }, hint_used: { type: 'boolean' } }, ['score']);

/** As an operator should: write beside, then rename, so no process reads half a file. */
function put(file: string, schema: unknown): void {
  const path = join(dir, file);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(`${path}.tmp`, JSON.stringify(schema));
  renameSync(`${path}.tmp`, path);
}

const event = (event_data: unknown, schema_version?: number, pad = 0) => ({
  event_id: randomUUID(),
  learner_id: `learner_${Math.floor(Math.random() * 50)}`,
  tenant_id: 'tenant_alpha',
  event_type: 'assessment',
  ...(schema_version === undefined ? {} : { schema_version }),
  timestamp: '2024-01-15T10:30:00Z',
  source_service: 'quiz-svc',
  event_data,
  metadata: pad ? { padding: 'x'.repeat(pad) } : {},
});

let a: RunningCollector;
let b: RunningCollector;

t.before(async () => {
  put('assessment/1.json', V1);
  put('assessment/2.json', V2);
  await createTopics([{ name: TOPIC, partitions: 3 }, { name: DLQ, partitions: 1 }]);
  const env = { KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: TOPIC, DLQ_TOPIC: DLQ, SCHEMA_DIR: dir, SCHEMA_RELOAD_MS: '250', RUN_DIR: join(dir, '..', `run-${suffix}`) };
  // Two processes reading one folder, as PM2 runs them: each must pick up a change by itself.
  [a, b] = await Promise.all([startCollector({ ...env, INSTANCE_ID: '0' }), startCollector({ ...env, INSTANCE_ID: '1' })]);
  await Promise.all([waitHealthy(a.url, 60_000), waitHealthy(b.url, 60_000)]);
});
t.teardown(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
  rmSync(dir, { recursive: true, force: true });
});

const post = async (url: string, events: unknown[]) => {
  const r = await fetch(`${url}/api/v1/collect`, { method: 'POST', body: JSON.stringify(events), headers: { 'content-type': 'application/json' } });
  return { status: r.status, body: (await r.json()) as { accepted_count: number; dlq_events: { index: number; errors: { code: string; path: string }[] }[] } };
};
const schemas = async (url: string) => (await (await fetch(`${url}/api/v1/schemas`)).json()) as SchemasDocument;
const versionsOf = async (url: string) => (await schemas(url)).types.find((x) => x.event_type === 'assessment')?.versions.map((v) => v.version);
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
  return Date.now() - started;
}

for (const [path, pad] of [['main thread (small body)', 0], ['decode worker (body over INLINE_DECODE_MAX_BYTES)', 1200]] as const) {
  t.test(`v1 and v2 events in one batch, each judged by its own version: ${path}`, async (t) => {
    const events = [
      event({ score: 7 }, 1, pad),
      event({ score: 8, attempt: 2 }, 2, pad),
      event({ score: 9, attempt: 3 }, undefined, pad), // default: the latest, v2
      event({ score: 1, attempt: 2 }, 1, pad), // attempt is not a v1 field
      event({ score: 1 }, 9, pad), // no v9
      event({ attempt: 1 }, 2, pad), // score missing
    ];
    // Large enough that the body goes to a worker when padded (> 64 KiB).
    const filler = pad ? Array.from({ length: 60 }, () => event({ score: 5 }, 1, pad)) : [];
    const res = await post(a.url, [...events, ...filler]);
    t.equal(res.status, 207);
    t.equal(res.body.accepted_count, 3 + filler.length);
    t.same(res.body.dlq_events.map((d) => [d.index, d.errors[0]!.code, d.errors[0]!.path]), [
      [3, 'unexpected_field', '/event_data/attempt'],
      [4, 'unknown_schema_version', '/schema_version'],
      [5, 'missing_field', '/event_data/score'],
    ]);
    const records = await readUntilIds(bootstrap, TOPIC, events.slice(0, 3).map((e) => e.event_id));
    const byId = new Map(records.map((r) => [(JSON.parse(r.value) as { event_id: string }).event_id, r]));
    t.same(events.slice(0, 3).map((e) => byId.get(e.event_id)?.headers.schema_version), ['1', '2', '2'], 'schema_version headers');
    t.equal(byId.get(events[0]!.event_id)?.headers.schema_id, undefined, 'no schema_id from a folder');
    t.equal(byId.get(events[0]!.event_id)?.headers.event_type, 'assessment', 'the other headers stay');
  });
}

t.test('a type without schemas keeps today\'s behaviour; GET /api/v1/schemas lists the set', async (t) => {
  const res = await post(a.url, [{ ...event({ anything: ['goes'] }), event_type: 'progress' }]);
  t.equal(res.status, 200);
  const s = await schemas(a.url);
  t.match(s, { source: 'folder', status: 'ok', generation: 1 });
  t.same(s.types.map((x) => [x.event_type, x.versions.map((v) => v.version), x.default_version, x.compatibility]), [['assessment', [1, 2], 2, 'BACKWARD']]);
});

t.test('a breaking v3 is refused at load; the previous set keeps serving and the refusal is reported', async (t) => {
  put('assessment/3.json', V3_BREAKING);
  for (const c of [a, b]) {
    await until('the refusal in health', async () => {
      const h = (await (await fetch(`${c.url}/api/v1/health`)).json()) as { status: string; payload_schemas: { status: string; problems: string[] } };
      return h.payload_schemas.status === 'degraded';
    });
  }
  const h = (await (await fetch(`${a.url}/api/v1/health`)).json()) as { status: string; payload_schemas: { problems: string[]; generation: number } };
  t.equal(h.status, 'degraded');
  t.match(h.payload_schemas.problems[0], /assessment v3 refused: removes required field `score` from a closed content model: not BACKWARD compatible with v2/);
  t.equal(h.payload_schemas.generation, 1, 'previous set in force');
  t.same(await versionsOf(a.url), [1, 2]);
  t.same(await versionsOf(b.url), [1, 2]);
  const res = await post(a.url, [event({ score: 2, attempt: 1 }), event({ attempt: 1 }, 3)]);
  t.same([res.status, res.body.dlq_events.map((d) => d.errors[0]!.code)], [207, ['unknown_schema_version']]);
  const prom = await (await fetch(`${a.url}/metrics`)).text();
  t.match(prom, /collector_schema_reloads_total\{result="refused"[^}]*\} [1-9]/);
  t.match(prom, /collector_schema_events_total\{event_type="assessment",schema_version="2",outcome="valid"[^}]*\} [1-9]/);
  unlinkSync(join(dir, 'assessment/3.json'));
  await until('the problem cleared', async () => (await schemas(a.url)).status === 'ok');
});

t.test('a compatible v3 dropped in under load: used within seconds by every process, no failed request', async (t) => {
  let stop = false;
  const statuses = new Map<number, number>();
  let errors = 0;
  const sent: string[] = [];
  const load = async (url: string) => {
    while (!stop) {
      const batch = Array.from({ length: 20 }, (_, i) => event({ score: i, attempt: 1 + (i % 3) }));
      try {
        const r = await post(url, batch);
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status === 200) sent.push(...batch.map((e) => e.event_id));
      } catch {
        errors++;
      }
    }
  };
  const clients = [load(a.url), load(b.url), load(a.url), load(b.url)];
  await sleep(1000);
  put('assessment/3.json', V3);
  const seen = await Promise.all([a, b].map((c) => until(`v3 in ${c.url}`, async () => {
    const r = await post(c.url, [event({ score: 1, hint_used: true }, 3)]);
    return r.status === 200;
  })));
  t.comment(`v3 accepted by both processes ${seen.join(' / ')} ms after it was written`);
  await sleep(1000);
  stop = true;
  await Promise.all(clients);
  t.equal(errors, 0, 'no request failed');
  t.same([...statuses.keys()], [200], `every load request answered 200: ${JSON.stringify([...statuses])}`);
  t.ok(sent.length > 0);
  for (const c of [a, b]) {
    const s = await schemas(c.url);
    t.same(s.types[0]!.versions.map((v) => v.version), [1, 2, 3]);
    t.equal(s.types[0]!.default_version, 3, 'the latest is the default');
  }
  // Whichever process answers lists every process's generation: both moved to 2 (one applied reload).
  await until('both generations in the cluster view', async () => {
    const p = (await schemas(a.url)).processes;
    return p.length === 2 && p.every((x) => x.generation === 2);
  });
  const use = (await schemas(b.url)).in_use;
  t.ok(use.some((u) => u.event_type === 'assessment' && u.schema_version === '3' && u.valid > 0), 'v3 in use, host-wide');
  // After the switch, events without schema_version are judged by (and labelled) v3.
  const last = event({ score: 3, hint_used: false });
  t.equal((await post(b.url, [last])).status, 200);
  const records = await readUntilIds(bootstrap, TOPIC, [last.event_id]);
  t.equal(records.find((r) => r.value.includes(last.event_id))?.headers.schema_version, '3');
});
