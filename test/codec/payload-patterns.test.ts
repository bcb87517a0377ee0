/**
 * Schema patterns run in linear time: a catastrophic-backtracking pattern in a payload schema cannot stall the
 * thread that judges (the main thread, for small bodies), and a pattern only a backtracking engine can run is
 * refused when the schema is compiled, not accepted and then slow.
 */
import t from 'tap';
import { compilePayloadSchema } from '../../src/codec/payload.js';
import { BatchBodySchema } from '../../src/schema/event.js';

t.test('an adversarial value against ^(a|aa)+$ is judged at once', async (t) => {
  const validate = compilePayloadSchema({ type: 'object', properties: { code: { type: 'string', pattern: '^(a|aa)+$' } } });
  const hostile = `${'a'.repeat(39)}b`;
  const t0 = performance.now();
  const ok = validate({ code: hostile });
  const ms = performance.now() - t0;
  t.equal(ok, false, 'the value does not match');
  // Backtracking RegExp takes seconds here (2^n paths); RE2 microseconds. 50 ms leaves room for a loaded box.
  t.ok(ms < 50, `judged in ${ms.toFixed(3)} ms`);
  t.equal(validate({ code: 'aaaa' }), true, 'a matching value passes');
});

t.test('patternProperties run on the same engine', async (t) => {
  const validate = compilePayloadSchema({ type: 'object', patternProperties: { '^(x|xx)+$': { type: 'number' } } });
  const t0 = performance.now();
  t.equal(validate({ [`${'x'.repeat(39)}y`]: 'not checked: the key does not match' }), true);
  t.ok(performance.now() - t0 < 50, 'the key is matched at once');
  t.equal(validate({ xxx: 'a string' }), false, 'a matching key is judged by its schema');
});

t.test('patterns RE2 cannot run are refused at compile, with the pattern named', async (t) => {
  t.throws(() => compilePayloadSchema({ type: 'string', pattern: '^(?=a)a+$' }), { code: 'COLLECTOR_ERR_SCHEMA_PATTERN', pattern: '^(?=a)a+$' }, 'lookahead');
  t.throws(() => compilePayloadSchema({ type: 'string', pattern: '^(a)\\1$' }), { code: 'COLLECTOR_ERR_SCHEMA_PATTERN', pattern: '^(a)\\1$' }, 'backreference');
  t.throws(() => compilePayloadSchema({ type: 'object', patternProperties: { '(?<!x)y': {} } }), { code: 'COLLECTOR_ERR_SCHEMA_PATTERN', pattern: '(?<!x)y' }, 'lookbehind in a property pattern');
});

t.test('unicode classes and ordinary patterns keep their meaning', async (t) => {
  const letters = compilePayloadSchema({ type: 'string', pattern: '^\\p{L}+$' });
  t.equal(letters('Ünïcødé'), true);
  t.equal(letters('abc1'), false);
  const iso = compilePayloadSchema({ type: 'string', pattern: '^[A-Z]{2}-\\d{3}$' });
  t.equal(iso('AB-123'), true);
  t.equal(iso('AB-12'), false);
});

t.test('the envelope schema holds no pattern but the one TypeBox writes for a record', async (t) => {
  // TypeBox compiles the envelope with V8's backtracking RegExp and has no engine hook: a pattern added to
  // src/schema/event.ts would run there on every event. This list makes such a pattern a reviewed change.
  const patterns = new Set<string>();
  const walk = (s: unknown): void => {
    if (s === null || typeof s !== 'object') return;
    const o = s as Record<string, unknown>;
    if (typeof o.pattern === 'string') patterns.add(o.pattern);
    if (o.patternProperties && typeof o.patternProperties === 'object') for (const k of Object.keys(o.patternProperties)) patterns.add(k);
    for (const v of Object.values(o)) walk(v);
  };
  walk(BatchBodySchema);
  t.same([...patterns], ['^(.*)$'], 'Type.Record(Type.String(), …) keys only: linear on any key');
});
