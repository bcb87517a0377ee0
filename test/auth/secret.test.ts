/**
 * The key comparison: always one SHA-256 of the presented key and one constant-time
 * comparison of two 32-byte digests, whatever the presented key is — so where its first
 * wrong character sits cannot change the work done. Checked structurally (what is compared),
 * not by timing.
 */
import t from 'tap';
import { timingSafeEqual } from 'node:crypto';
import { digestOf, keyIdOf, keyMatches, newKey, newKeyId } from '../../src/auth/secret.js';

t.test('keys: evc_<id>_<256-bit secret>; the id is readable, the secret is not derivable', async (t) => {
  const id = newKeyId();
  t.match(id, /^[a-z0-9]{12}$/);
  const key = newKey(id);
  t.match(key, new RegExp(`^evc_${id}_[A-Za-z0-9_-]{43}$`));
  t.equal(keyIdOf(key), id);
  t.not(newKey(id), key, 'two keys for one id differ');
  t.equal(keyIdOf('Bearer nonsense'), null);
  t.equal(keyIdOf('evc_'), null);
  t.equal(keyIdOf('evc_a_b'), null, 'ids are at least 4 characters');
  t.throws(() => newKey('bad id'));
});

t.test('comparison: every candidate, however many leading characters match, costs one digest comparison of equal length', async (t) => {
  const key = newKey('abcd1234');
  const stored = digestOf(key);
  const calls: [number, number][] = [];
  const recording = (a: Buffer, b: Buffer) => {
    calls.push([a.length, b.length]);
    return timingSafeEqual(a, b);
  };
  const candidates = [
    '', 'x', key.slice(0, 1), key.slice(0, 10), key.slice(0, key.length - 1), // prefixes
    key.slice(0, -1) + (key.endsWith('A') ? 'B' : 'A'), // all but the last character right
    'Z' + key.slice(1), // only the first wrong
    key + 'extra', // longer
    'x'.repeat(500),
  ];
  for (const c of candidates) {
    calls.length = 0;
    t.equal(keyMatches(c, stored, recording), false, `rejects a candidate of ${c.length} chars`);
    t.same(calls, [[32, 32]], 'one comparison of two 32-byte digests');
  }
  calls.length = 0;
  t.equal(keyMatches(key, stored, recording), true, 'the key itself matches');
  t.same(calls, [[32, 32]]);
  calls.length = 0;
  t.equal(keyMatches(key, null, recording), false, 'no stored digest (unknown id): compared against a dummy');
  t.same(calls, [[32, 32]], 'the same work for an unknown id');
  t.equal(keyMatches(key, Buffer.alloc(5), recording), false, 'a malformed stored digest never matches');
});

t.test('the verdict comes from the constant-time comparison, not from the strings', async (t) => {
  const key = newKey('abcd1234');
  // A comparison that always says "equal" makes any candidate match a real digest: nothing else decides.
  t.equal(keyMatches('wrong', digestOf(key), () => true), true);
  // …but never the dummy (unknown id).
  t.equal(keyMatches('wrong', null, () => true), false);
});
