/**
 * A value is never changed silently on its way to Kafka: a number JSON.stringify would write
 * as another value (1e400 → null, 12345678901234567890123 → 1.2345678901234568e+22) refuses
 * its event with `inexact_number`, on the forwarded-bytes path (minified events) and on the
 * JSON.stringify path (whitespace, an escaped key, a body the scanner cannot map) alike;
 * every other number reaches Kafka with its value.
 */
import t from 'tap';
import { decodeBatch, type DecodeOutcome } from '../../src/codec/decode.js';
import { recordValue } from '../../src/codec/packed.js';
import { syntheticBatch } from '../../src/pipeline/synthetic.js';

const limits = { maxDecodedBytes: 1 << 22, maxEvents: 1000, maxEventBytes: 65_536 };
const decode = (body: string): DecodeOutcome =>
  decodeBatch({ body: Buffer.from(body), gzip: false, receivedAt: Date.parse('2026-01-01T00:00:00Z'), instance: 't/0', limits });

/** The decimal value a number's text denotes, as [significant digits without leading/trailing zeros, exponent]. */
function decimal(text: string): [string, number] {
  const m = /^-?(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/.exec(text);
  if (!m) throw new Error(`not a number: ${text}`);
  const all = `${m[1] ?? ''}${m[2] ?? ''}`;
  const lead = all.length - all.replace(/^0+/, '').length;
  const digits = all.slice(lead).replace(/0+$/, '');
  if (digits === '') return ['', 0];
  return [digits, (m[1] ?? '').length - lead + Number(m[3] ?? 0)];
}
/** The oracle: JavaScript's own round trip keeps the decimal value. */
const survives = (text: string): boolean => {
  const v = Number(text);
  if (!Number.isFinite(v)) return false;
  const [a, b] = [decimal(text), decimal(String(v))];
  return a[0] === b[0] && (a[0] === '' || a[1] === b[1]);
};

const LAYOUTS = {
  forwarded: (ev: object, n: string) => `[${JSON.stringify(ev).replace('"@N"', n)}]`,
  'whitespace (JSON.stringify path)': (ev: object, n: string) => `[${JSON.stringify(ev, null, 1).replace('"@N"', n)}]`,
  'escaped key (JSON.stringify path)': (ev: object, n: string) => `[${JSON.stringify(ev).replace('"@N"', n).replace('"learner_id"', '"learner\\u005fid"')}]`,
} as const;

const inexact = [
  '1e400', '-1e400', '1e-400', '1E+999999999', '12345678901234567890123', '9007199254740993', '-9007199254740993',
  '123456789012345678', '0.1000000000000000055511151231257827', '3.14159265358979323846', '1.7976931348623159e308',
  '4.9e-324', '1.00000000000000000001',
];
const exact = [
  '0', '-0', '0.0', '0e999999999', '1', '-1', '1.50', '1E2', '1e-7', '0.30000000000000004', '9007199254740992',
  '9007199254740991', '1234567890123456', '5e-324', '2.2250738585072014e-308', '1.7976931348623157e308',
  '123456789012345000000000', '0.1', '100000000000000000000000000000', '1.0000000000000000000',
];

t.test('the oracle agrees with the tables', async (t) => {
  for (const n of inexact) t.notOk(survives(n), `${n} does not survive`);
  for (const n of exact) t.ok(survives(n), `${n} survives`);
});

for (const [layout, body] of Object.entries(LAYOUTS)) {
  t.test(`${layout}: inexact numbers refuse the event with inexact_number, its path and the text`, async (t) => {
    for (const n of inexact) {
      const [good, ev] = syntheticBatch(2);
      const o = decode(body([good, { ...ev, event_data: { score: { raw: [1, '@N'] } } }] as unknown as object, n).replace(/^\[\[/, '[').replace(/\]\]$/, ']'));
      if (!o.ok) {
        t.fail(`${n}: ${o.code}`);
        continue;
      }
      t.equal(o.batch.accepted.count, 1, `${n}: its neighbour is accepted`);
      t.same(o.batch.rejected.map((r) => [r.index, r.reason]), [[1, 'validation']], `${n}: refused`);
      const err = o.batch.rejected[0]?.errors[0];
      t.equal(err?.code, 'inexact_number', `${n}: inexact_number`);
      t.equal(err?.path, '/event_data/score/raw/1', `${n}: path`);
      t.ok(err?.message.includes(n), `${n}: the message quotes the number as written`);
    }
  });

  t.test(`${layout}: exact numbers reach the record with their value`, async (t) => {
    for (const n of exact) {
      const [ev] = syntheticBatch(1);
      const o = decode(body({ ...ev, event_data: { v: '@N' } }, n));
      if (!o.ok) {
        t.fail(`${n}: ${o.code}`);
        continue;
      }
      t.equal(o.batch.accepted.count, 1, `${n}: accepted`);
      const raw = recordValue(o.batch.accepted, 0).toString();
      const written = /"v":([^,}]+)/.exec(raw)?.[1] ?? '';
      t.same(decimal(written), decimal(n), `${n}: written ${written}, the same value`);
    }
  });
}

t.test('an event that is invalid anyway also names its inexact number', async (t) => {
  const [ev] = syntheticBatch(1);
  const o = decode(`[${JSON.stringify({ ...ev, event_type: 'teleport', event_data: { a: '@N' } }).replace('"@N"', '1e400')}]`);
  if (!o.ok) return t.fail(o.code);
  t.same(o.batch.rejected[0]?.errors.map((e) => e.code).sort(), ['inexact_number', 'invalid_value']);
});

t.test('a body the scanner cannot map: an inexact number refuses the batch', async (t) => {
  const [ev] = syntheticBatch(1);
  const events = `[${JSON.stringify({ ...ev, event_data: { a: '@N' } })}]`;
  const o = decode(`{"\\u0065vents":${events.replace('"@N"', '12345678901234567890123')}}`);
  t.equal(o.ok ? 'ok' : o.code, 'COLLECTOR_ERR_INEXACT_NUMBER');
  if (!o.ok) t.match(o.detail, /12345678901234567890123/);
  const fine = decode(`{"\\u0065vents":${events.replace('"@N"', '123')}}`);
  t.equal(fine.ok && fine.batch.accepted.count, 1, 'exact numbers pass there too');
});

t.test('fuzz: the decision matches the oracle on both paths', async (t) => {
  let seed = 42;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed % n;
  };
  const digits = (k: number) => Array.from({ length: k }, () => String(rnd(10))).join('');
  let mismatches = 0;
  let refused = 0;
  const N = 3000;
  for (let k = 0; k < N; k++) {
    const int = digits(1 + rnd(20));
    const frac = rnd(3) === 0 ? '' : `.${digits(1 + rnd(20))}`;
    const exp = rnd(2) === 0 ? '' : `e${rnd(2) ? '-' : ''}${rnd(330)}`;
    const n = `${rnd(4) === 0 ? '-' : ''}${int.replace(/^0+(?=\d)/, '')}${frac}${exp}`;
    const [ev] = syntheticBatch(1);
    const layout = k % 2 === 0 ? LAYOUTS.forwarded : LAYOUTS['whitespace (JSON.stringify path)'];
    const o = decode(layout({ ...ev, event_data: { v: '@N' } }, n));
    const accepted = o.ok && o.batch.accepted.count === 1;
    if (!accepted) refused++;
    if (accepted !== survives(n)) {
      mismatches++;
      if (mismatches <= 5) t.fail(`${n}: accepted=${accepted}, survives=${survives(n)}`);
    }
  }
  t.equal(mismatches, 0, `${N} random numbers, ${refused} refused: every decision matches JavaScript's own round trip`);
  t.ok(refused > N / 10 && refused < N - N / 10, 'the corpus has both kinds');
});
