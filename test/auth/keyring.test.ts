import t from 'tap';
import { Keyring } from '../../src/auth/keyring.js';
import { parseKeysFile, type KeysFile } from '../../src/auth/keys-file.js';
import { digestOf, newKey } from '../../src/auth/secret.js';
import { presentedKey } from '../../src/auth/presented.js';

const a = newKey('keya0001');
const b = newKey('keyb0002');
const star = newKey('keystar3');
const file = (revokeB = false): KeysFile => ({
  version: 1,
  keys: [
    { id: 'keya0001', tenants: ['tenant-a'], sha256: digestOf(a).toString('hex'), created_at: '2026-01-01T00:00:00Z' },
    { id: 'keyb0002', tenants: ['tenant-b', 'tenant-c'], sha256: digestOf(b).toString('hex'), created_at: '2026-01-01T00:00:00Z', revoked_at: revokeB ? '2026-01-02T00:00:00Z' : null },
    { id: 'keystar3', tenants: ['*'], sha256: digestOf(star).toString('hex'), created_at: '2026-01-01T00:00:00Z' },
  ],
});

t.test('verdicts: missing, unknown, revoked, and the principal', async (t) => {
  const ring = new Keyring(file());
  t.same(ring.verify(undefined), { ok: false, reason: 'missing' });
  t.same(ring.verify(''), { ok: false, reason: 'missing' });
  t.same(ring.verify('nonsense'), { ok: false, reason: 'unknown' });
  t.same(ring.verify(a.slice(0, -1) + (a.endsWith('x') ? 'y' : 'x')), { ok: false, reason: 'unknown' }, 'right id, wrong secret');
  t.same(ring.verify(newKey('nokey999')), { ok: false, reason: 'unknown' }, 'unknown id');
  t.same(ring.verify(a), { ok: true, principal: { keyId: 'keya0001', tenants: ['tenant-a'] } });
  t.same(ring.verify(b), { ok: true, principal: { keyId: 'keyb0002', tenants: ['tenant-b', 'tenant-c'] } });
  t.same(ring.verify(star), { ok: true, principal: { keyId: 'keystar3', tenants: null } }, '"*" may write any tenant');
  t.same([...ring.tenants].sort(), ['tenant-a', 'tenant-b', 'tenant-c']);
  t.same(ring.verify('x'.repeat(100_000)), { ok: false, reason: 'unknown' }, 'a huge header is cut, not hashed whole');
});

t.test('replace: a revoked key stops at once; revoked is told only to the key holder', async (t) => {
  const ring = new Keyring(file());
  const v = ring.version;
  ring.replace(file(true));
  t.equal(ring.version, v + 1);
  t.same(ring.verify(b), { ok: false, reason: 'revoked' });
  t.same(ring.verify(b.slice(0, -2) + 'zz'), { ok: false, reason: 'unknown' }, 'a wrong secret of a revoked id is just unknown');
  t.same(ring.size, { keys: 3, revoked: 1 });
  t.ok(ring.verify(a).ok, 'other keys unaffected');
});

t.test('the keys file is checked whole', async (t) => {
  const good = JSON.stringify(file());
  t.ok(parseKeysFile(good));
  t.throws(() => parseKeysFile('{'), /not JSON/);
  t.throws(() => parseKeysFile('{"version": 2, "keys": []}'), /version/);
  const bad = (patch: Record<string, unknown>) => JSON.stringify({ version: 1, keys: [{ ...file().keys[0], ...patch }] });
  t.throws(() => parseKeysFile(bad({ sha256: 'abc' })), /sha256/);
  t.throws(() => parseKeysFile(bad({ tenants: [] })), /tenants/);
  t.throws(() => parseKeysFile(bad({ id: 'x' })), /id/);
  t.throws(() => parseKeysFile(JSON.stringify({ version: 1, keys: [file().keys[0], file().keys[0]] })), /twice/);
  t.notMatch(good, a, 'the file never holds a key');
});

t.test('HTTP: Authorization: Bearer first, then x-api-key', async (t) => {
  t.equal(presentedKey('Bearer abc', ''), 'abc');
  t.equal(presentedKey('bearer   abc ', 'zzz'), 'abc');
  t.equal(presentedKey('', ' k1 '), 'k1');
  t.equal(presentedKey('Basic dXNlcjpwdw==', 'k1'), undefined, 'another scheme is no key of ours');
  t.equal(presentedKey('', ''), undefined);
});
