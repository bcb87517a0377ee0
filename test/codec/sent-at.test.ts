/**
 * The batch's sent_at (the client's clock when the batch left) and each event's
 * derived_timestamp = received_at - (sent_at - timestamp): on both decode paths (the C
 * envelope scanner and JSON.parse), with the original timestamp untouched, a sent_at that is
 * not RFC 3339 refused whole, and the bounds that keep an absurd clock from writing absurd times.
 */
import t from 'tap';
import { decodeBatch, type DecodeInput, type DecodeOutcome } from '../../src/codec/decode.js';
import { recordValue } from '../../src/codec/packed.js';
import { syntheticBatch } from '../../src/pipeline/synthetic.js';
import { DERIVED_MAX_AGE_MS } from '../../src/codec/clock-skew.js';

const RECEIVED = Date.parse('2026-03-01T12:00:00Z');
const HOUR = 3_600_000;
const iso = (ms: number) => new Date(ms).toISOString();

const decode = (body: unknown, nativeEnvelope: boolean): DecodeOutcome => decodeBatch({
  body: Buffer.from(JSON.stringify(body)),
  gzip: false,
  receivedAt: RECEIVED,
  instance: 'test/0',
  limits: { maxDecodedBytes: 1 << 20, maxEvents: 1000, maxEventBytes: 8192, nativeEnvelope },
} satisfies DecodeInput);

/** derived_timestamp of each accepted record, by the batch's own header names. */
function derived(o: DecodeOutcome): (string | undefined)[] {
  if (!o.ok) throw new Error(`${o.code}: ${o.detail}`);
  const at = o.batch.headerNames.indexOf('derived_timestamp');
  return o.batch.accepted.headers.map((h) => (at < 0 ? undefined : h[at]));
}

for (const nativeEnvelope of [true, false]) {
  const path = nativeEnvelope ? 'C envelope path' : 'JSON.parse path';

  t.test(`${path}: a clock 1 h ahead gives derived_timestamp 1 h behind timestamp`, async (t) => {
    // The device clock is 1 h fast: its events say 12:59 and 12:30, the batch left at 13:00 by that clock.
    const events = syntheticBatch(2);
    events[0]!.timestamp = iso(RECEIVED + HOUR - 60_000);
    events[1]!.timestamp = iso(RECEIVED + HOUR - 30 * 60_000);
    const o = decode({ sent_at: iso(RECEIVED + HOUR), events }, nativeEnvelope);
    t.same(derived(o), [iso(RECEIVED - 60_000), iso(RECEIVED - 30 * 60_000)]);
    if (!o.ok) return;
    const first = JSON.parse(recordValue(o.batch.accepted, 0).toString()) as { timestamp: string };
    t.equal(first.timestamp, events[0]!.timestamp, 'the original timestamp is untouched');
    t.same(o.batch.headerNames.slice(0, 4), ['tenant_id', 'event_type', 'batch_id', 'received_at'], 'the usual headers keep their places');
  });

  t.test(`${path}: no sent_at, no derived_timestamp header`, async (t) => {
    t.same(derived(decode({ events: syntheticBatch(2) }, nativeEnvelope)), [undefined, undefined]);
    t.same(derived(decode(syntheticBatch(1), nativeEnvelope)), [undefined]);
  });

  t.test(`${path}: offsets and fractions of RFC 3339 are honoured`, async (t) => {
    const events = syntheticBatch(1);
    events[0]!.timestamp = '2026-03-01T14:29:59.250+02:00'; // 12:29:59.250Z
    const o = decode({ sent_at: '2026-03-01t13:00:00.000000001z', events }, nativeEnvelope); // same clock as received
    t.same(derived(o), ['2026-03-01T11:29:59.250Z']);
  });

  t.test(`${path}: a sent_at that is not RFC 3339 refuses the batch`, async (t) => {
    for (const bad of ['2026-03-01 13:00', '1709290800000', '2026-02-30T00:00:00Z', '', 'yesterday']) {
      const o = decode({ sent_at: bad, events: syntheticBatch(1) }, nativeEnvelope);
      t.equal(o.ok ? 'ok' : o.code, 'COLLECTOR_ERR_SENT_AT', JSON.stringify(bad));
    }
    for (const bad of [1709290800000, null, {}, ['2026-03-01T13:00:00Z']]) {
      const o = decode({ sent_at: bad, events: syntheticBatch(1) }, nativeEnvelope);
      t.equal(o.ok ? 'ok' : o.code, 'COLLECTOR_ERR_SENT_AT', JSON.stringify(bad));
    }
  });

  t.test(`${path}: absurd clocks are bounded, never in the collector's future nor older than the bound`, async (t) => {
    const events = syntheticBatch(3);
    events[0]!.timestamp = iso(RECEIVED + 10 * HOUR); // after the batch left by the same clock
    events[1]!.timestamp = '1970-01-01T00:00:00Z'; // a reset clock, with sent_at today
    events[2]!.timestamp = iso(RECEIVED - 2 * HOUR);
    const o = decode({ sent_at: iso(RECEIVED), events }, nativeEnvelope);
    t.same(derived(o), [iso(RECEIVED), iso(RECEIVED - DERIVED_MAX_AGE_MS), iso(RECEIVED - 2 * HOUR)]);
  });
}
