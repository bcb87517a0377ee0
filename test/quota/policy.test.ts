import t from 'tap';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { QuotaTable } from '../../src/quota/table.js';
import { QuotaPolicy, parseQuotas, quotasOfFileText } from '../../src/quota/policy.js';
import { PackedBuilder } from '../../src/codec/packed.js';

const records = (tenants: string[], size = 100) => {
  const b = new PackedBuilder();
  tenants.forEach((tenant, i) => { b.add('x'.repeat(size), 'l', [tenant, 'e', 'b', 'r'], `id${i}`, i); });
  return b.build();
};

t.test('per tenant, events and bytes, "*" for the rest; all or nothing', async (t) => {
  const policy = new QuotaPolicy(QuotaTable.open(join(mkdtempSync(join(os.tmpdir(), 'quota-')), 'p.quota'), 64));
  t.same(policy.charge(records(['a', 'a'])), { ok: true }, 'no quotas: no limit');
  policy.replace(parseQuotas({ a: { events_per_second: 10 }, b: { events_per_second: 0, bytes_per_second: 1000 }, '*': { events_per_second: 3 } }));
  const T = 1e12;
  t.same(policy.charge(records(Array(10).fill('a')), 0, T), { ok: true });
  const r = policy.charge(records(['a']), 0, T);
  t.ok(!r.ok && r.retryAfterS === 1 && /tenant 'a' is over its quota; the batch fits in 100 ms/.test(r.detail), JSON.stringify(r));
  t.same(policy.charge(records(Array(10).fill('b'), 100), 0, T), { ok: true }, '1000 bytes of b');
  t.notOk(policy.charge(records(['b'], 1), 0, T).ok, 'b is out of bytes');
  t.same(policy.charge(records(['x', 'x', 'x', 'y', 'y', 'y']), 0, T), { ok: true }, '"*": each tenant its own 3');
  t.notOk(policy.charge(records(['z', 'x']), 0, T).ok, 'x is empty: the batch with z is refused whole…');
  t.same(policy.charge(records(['z', 'z', 'z']), 0, T), { ok: true }, '…and z was not charged for it');
  const never = policy.charge(records(Array(11).fill('a')), 0, T + 60e6);
  t.ok(!never.ok && never.retryAfterS === undefined && /more than its quota allows at once/.test(never.detail), 'larger than the burst: no Retry-After');
  t.same(policy.tenants.sort(), ['a', 'b']);
});

t.test('quota files are checked', async (t) => {
  t.same(quotasOfFileText('{"version":1,"keys":[]}', 'f').size, 0, 'a keys file without quotas');
  t.throws(() => quotasOfFileText('{"quotas": {"a": {"events_per_second": -1}}}', 'f'), /events_per_second/);
  t.throws(() => quotasOfFileText('{"quotas": {"a": {"burst_seconds": 0}}}', 'f'), /burst_seconds/);
  t.throws(() => quotasOfFileText('{"quotas": []}', 'f'), /object/);
  t.throws(() => quotasOfFileText('nope', 'f'), /not JSON/);
});

t.test('dead letters cost what accepted events cost: a throttled tenant is refused whatever it sends', async (t) => {
  const policy = new QuotaPolicy(QuotaTable.open(join(mkdtempSync(join(os.tmpdir(), 'quota-')), 'd.quota'), 64));
  policy.replace(parseQuotas({ t: { events_per_second: 10, bytes_per_second: 0, burst_seconds: 1 } }, 'test'));
  const T = 1e12;
  const deadLetters = (tenants: string[]) => {
    const b = new PackedBuilder();
    tenants.forEach((tenant, i) => { b.add('{"reason":"validation"}', 'l', ['validation', 'b', tenant, 'r'], `d${i}`, i); });
    return b.build();
  };
  const none = records([]);
  t.same(policy.charge(none, 0, T, deadLetters(Array(10).fill('t'))), { ok: true }, '10 invalid events take the 10 tokens');
  const r = policy.charge(none, 0, T, deadLetters(['t']));
  t.notOk(r.ok, 'the 11th invalid event is refused like a valid one');
  t.notOk(policy.charge(records(['t']), 0, T).ok, 'and so is a valid one: the bucket is the same');
  t.equal(policy.charge(none, 0, T, deadLetters(Array(11).fill('t'))).ok, false, 'more dead letters than the burst: never');
  t.same(policy.charge(records(['other']), 0, T, deadLetters(['other'])), { ok: true }, 'a tenant without a quota is not limited');
});
