/**
 * Schema patterns run in linear time: a catastrophic-backtracking pattern in a payload schema cannot stall the
 * thread that judges (the main thread, for small bodies), and a pattern only a backtracking engine can run is
 * refused when the schema is compiled, not accepted and then slow.
 */
import t from 'tap';
import { compilePayloadSchema } from '../../src/codec/payload.js';

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
  t.throws(() => compilePayloadSchema({ type: 'string', pattern: '^(?=a)a+$' }), /\(\?=a\)|lookahead|invalid|Invalid/, 'lookahead');
  t.throws(() => compilePayloadSchema({ type: 'string', pattern: '^(a)\\1$' }), /\\1|backreference|invalid|Invalid/, 'backreference');
});

t.test('unicode classes and ordinary patterns keep their meaning', async (t) => {
  const letters = compilePayloadSchema({ type: 'string', pattern: '^\\p{L}+$' });
  t.equal(letters('Ünïcødé'), true);
  t.equal(letters('abc1'), false);
  const iso = compilePayloadSchema({ type: 'string', pattern: '^[A-Z]{2}-\\d{3}$' });
  t.equal(iso('AB-123'), true);
  t.equal(iso('AB-12'), false);
});
