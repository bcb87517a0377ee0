/**
 * The shipped payload schemas (schemas/) accept every payload the spec accepts: known fields are
 * checked when present, any other field is kept. Regression: they were closed, so the quick-start
 * event with one more event_data field was answered 422 and dead-lettered.
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { sharedBroker } from '../helpers/broker.js';
import { startCollector } from '../helpers/collector.js';
import { readUntilIds } from '../helpers/consumer.js';

const SHIPPED = fileURLToPath(new URL('../../../schemas', import.meta.url));

function quickStart(event_data: Record<string, unknown>, event_type = 'interaction'): Record<string, unknown> {
  return {
    event_id: randomUUID(), learner_id: 'learner_001', tenant_id: 'tenant_alpha', event_type,
    timestamp: '2024-01-15T10:30:00Z', source_service: 'learning-app', event_data, metadata: {},
  };
}

t.test('extra event_data fields, and payloads without the example fields, are accepted and written unchanged', async (t) => {
  const { bootstrap } = sharedBroker();
  const c = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, SCHEMA_DIR: SHIPPED });
  t.teardown(() => c.stop());
  const events = [
    quickStart({ action: 'click', element: 'next_button', page: 'home' }),
    quickStart({ action: 'click', element: 'next_button', n: 1 }),
    quickStart({ custom_fields: { any: 'thing' }, extra: [1, 2] }),
    quickStart({}, 'progress'),
    quickStart({ lesson: 'l1', percent: 40, streak: 3 }, 'progress'),
    quickStart({ score: 9, rubric: 'b' }, 'assessment'),
    quickStart({ code: 'E1', stack: 'x' }, 'error'),
    quickStart({ component: 'api', region: 'eu' }, 'system'),
  ];
  const r = await fetch(`${c.url}/api/v1/collect`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(events) });
  const body = (await r.json()) as { accepted_count: number; dlq_events: unknown[] };
  t.equal(r.status, 200, JSON.stringify(body.dlq_events));
  t.equal(body.accepted_count, events.length);
  const got = await readUntilIds(bootstrap, 'events', events.map((e) => e.event_id as string));
  const byId = new Map(got.map((x) => [(JSON.parse(x.value) as { event_id: string }).event_id, JSON.parse(x.value) as Record<string, unknown>]));
  for (const e of events) t.same(byId.get(e.event_id as string)?.event_data, e.event_data, 'event_data unchanged');
});

t.test('a known field of the wrong type is still refused, naming its path', async (t) => {
  const { bootstrap } = sharedBroker();
  const c = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, SCHEMA_DIR: SHIPPED });
  t.teardown(() => c.stop());
  const r = await fetch(`${c.url}/api/v1/collect`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([quickStart({ action: 42 })]) });
  t.equal(r.status, 422);
  t.match(await r.json(), { dlq_events: [{ errors: [{ path: '/event_data/action' }] }] });
});
