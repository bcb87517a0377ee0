/**
 * Micro-benchmark: what AUTH_MODE=api_key and a tenant quota add to one 100-event batch, on
 * the main thread, next to what the collector spends on such a batch anyway (bench/README:
 * ~10–15 ms of collector CPU per 1k events, i.e. ~1–1.5 ms per 100-event batch).
 *
 *   node dist/bench/micro/auth.js
 *
 * Cases (each timed over many iterations, best of 5 rounds: noise only ever slows a round down):
 *   key check        Keyring.verify of a valid key (SHA-256 + timingSafeEqual + map lookup)
 *   presented key    reading it from the Authorization header value
 *   quota charge     QuotaPolicy.charge of 100 records of one tenant (group by tenant + one shared-memory take)
 *   decode binding   decodeBatch of 100 events with a tenant list vs without (the Set lookup per event)
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { Keyring } from '../../src/auth/keyring.js';
import { digestOf, newKey } from '../../src/auth/secret.js';
import { presentedKey } from '../../src/auth/presented.js';
import { QuotaPolicy, parseQuotas } from '../../src/quota/policy.js';
import { QuotaTable } from '../../src/quota/table.js';
import { decodeBatch } from '../../src/codec/decode.js';
import { syntheticBatch } from '../../src/pipeline/synthetic.js';

function bench(name: string, iterations: number, fn: () => unknown): number {
  let best = Infinity;
  for (let round = 0; round < 5; round++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < iterations; i++) fn();
    const us = Number(process.hrtime.bigint() - t0) / 1000 / iterations;
    best = Math.min(best, us);
  }
  console.log(`${name.padEnd(44)} ${best.toFixed(2).padStart(8)} µs per batch`);
  return best;
}

const key = newKey('benchkey1');
const ring = new Keyring({
  version: 1,
  keys: Array.from({ length: 1000 }, (_, i) => ({ id: `key${String(i).padStart(5, '0')}`, tenants: [`t${i}`], sha256: digestOf(newKey(`key${String(i).padStart(5, '0')}`)).toString('hex'), created_at: '' }))
    .concat([{ id: 'benchkey1', tenants: ['tenant_alpha'], sha256: digestOf(key).toString('hex'), created_at: '' }]),
});
const header = `Bearer ${key}`;
const verify = bench('key check (1,001 keys in the file)', 200_000, () => ring.verify(presentedKey(header, '')));

const policy = new QuotaPolicy(QuotaTable.open(join(mkdtempSync(join(os.tmpdir(), 'bench-quota-')), 'q.table')));
policy.replace(parseQuotas({ tenant_alpha: { events_per_second: 1e12, bytes_per_second: 1e15 } }));
const body = Buffer.from(JSON.stringify(syntheticBatch(100)));
const limits = { maxDecodedBytes: 4 << 20, maxEvents: 1000, maxEventBytes: 65536 };
const decoded = decodeBatch({ body, gzip: false, receivedAt: Date.now(), instance: 'bench', limits });
if (!decoded.ok) throw new Error(decoded.code);
const charge = bench('quota charge (100 records, 1 tenant)', 200_000, () => policy.charge(decoded.batch.accepted));

// Interleaved (JIT warm-up and the box's noise otherwise favour whichever runs second); best of each.
let plain = Infinity;
let bound = Infinity;
for (let i = 0; i < 3; i++) {
  plain = Math.min(plain, bench('decode 100 events, no tenant binding', 2_000, () => decodeBatch({ body, gzip: false, receivedAt: Date.now(), instance: 'bench', limits })));
  bound = Math.min(bound, bench('decode 100 events, tenant binding', 2_000, () => decodeBatch({ body, gzip: false, receivedAt: Date.now(), instance: 'bench', limits, tenants: ['tenant_alpha'] })));
}
const added = verify + charge + Math.max(0, bound - plain);
console.log(`\nadded per 100-event batch: ${added.toFixed(2)} µs (key ${verify.toFixed(2)} + quota ${charge.toFixed(2)} + binding ${(bound - plain).toFixed(2)});` +
  ` decode alone is ${plain.toFixed(0)} µs, i.e. +${((added / plain) * 100).toFixed(1)} % of the decode, less of the whole batch`);
