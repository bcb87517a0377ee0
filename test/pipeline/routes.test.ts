import t from 'tap';
import { TopicRoutes, topicRoutes, RouteError } from '../../src/pipeline/routes.js';
import { PackedBuilder, recordValue } from '../../src/codec/packed.js';
import { loadConfig } from '../../src/config/load.js';

t.test('a route that is not tenant=topic, a bad topic name, a tenant routed twice: refused naming the setting', async (t) => {
  t.throws(() => TopicRoutes.parse('tenant_alpha', 'events', 'TOPIC_ROUTES'), new RouteError('TOPIC_ROUTES: "tenant_alpha" is not tenant=topic'));
  t.throws(() => TopicRoutes.parse('a=events alpha', 'events', 'TOPIC_ROUTES'), /"events alpha" is not a Kafka topic name/);
  t.throws(() => TopicRoutes.parse('a=x,a=y', 'events', 'DLQ_TOPIC_ROUTES'), /DLQ_TOPIC_ROUTES: tenant a is routed twice/);
  t.throws(() => loadConfig({ TOPIC_ROUTES: '=events' }), /TOPIC_ROUTES: "=events" is not tenant=topic/, 'at start, with the other problems');
});

t.test('tenants without a route, and *, go to the fallback; * overrides it', async (t) => {
  const r = TopicRoutes.parse(' tenant_alpha = events-alpha , ', 'events', 'TOPIC_ROUTES');
  t.equal(r.topicOf('tenant_alpha'), 'events-alpha');
  t.equal(r.topicOf('tenant_beta'), 'events');
  t.equal(r.topicOf(null), 'events');
  t.same(r.topics, ['events', 'events-alpha']);
  t.ok(r.routed);
  const star = TopicRoutes.parse('*=all-events', 'events', 'TOPIC_ROUTES');
  t.equal(star.topicOf('x'), 'all-events');
  t.notOk(star.routed, 'one topic for everyone: nothing to split');
  const { events, dlq } = topicRoutes({ TOPIC_ROUTES: '', DLQ_TOPIC_ROUTES: 'tenant_alpha=dlq-alpha', KAFKA_TOPIC: 'ev', DLQ_TOPIC: 'ev-dlq' });
  t.equal(events.topicOf('tenant_alpha'), 'ev');
  t.equal(dlq.topicOf('tenant_alpha'), 'dlq-alpha');
});

t.test('split keeps each topic\'s records in batch order, with their keys, headers and indexes', async (t) => {
  const b = new PackedBuilder();
  const tenants = ['tenant_alpha', 'tenant_beta', 'tenant_alpha', 'tenant_gamma', 'tenant_alpha'];
  tenants.forEach((tenant, i) => { b.add(`{"n":${i}}`, `learner_${i % 2}`, [tenant, 'interaction', 'b1', 'now'], `id-${i}`, i); });
  const records = b.build();
  const r = TopicRoutes.parse('tenant_alpha=events-alpha', 'events', 'TOPIC_ROUTES');
  const groups = r.split(records, 0);
  t.same(groups.map((g) => g.topic), ['events-alpha', 'events']);
  const alpha = groups[0]!.records;
  t.same(alpha.indexes, [0, 2, 4]);
  t.same(Array.from({ length: alpha.count }, (_, i) => recordValue(alpha, i).toString()), ['{"n":0}', '{"n":2}', '{"n":4}']);
  t.same(alpha.keys, ['learner_0', 'learner_0', 'learner_0']);
  t.same(groups[1]!.records.eventIds, ['id-1', 'id-3']);
  const unrouted = TopicRoutes.parse('', 'events', 'TOPIC_ROUTES').split(records, 0);
  t.equal(unrouted.length, 1);
  t.equal(unrouted[0]!.records, records, 'nothing routed: the records as they are, no copy');
});
