import t from 'tap';
import { eventErrors, isValidEvent } from '../../src/codec/validator.js';
import { syntheticBatch } from '../../src/pipeline/synthetic.js';

const withTimestamp = (timestamp: string) => ({ ...syntheticBatch(1)[0]!, timestamp });

// RFC 3339 §5.6 grammar plus §5.7's restrictions: a real calendar date, hour 00–23, and a
// leap second (:60) only as the last second of a minute (the RFC leaves which minutes to the
// leap-second table; we accept :60 at any minute, as the RFC's own grammar does).
const accepted = [
  '2026-01-01T00:00:00Z',
  '2026-01-01t00:00:00z',
  '2026-01-01 00:00:00Z',
  '2026-12-31T23:59:59.999999999+14:00',
  '2026-02-28T12:00:00-05:30',
  '2024-02-29T12:00:00Z', // leap year
  '2000-02-29T12:00:00Z', // divisible by 400
  '2016-12-31T23:59:60Z', // a leap second
  '1990-12-31T15:59:60-08:00', // RFC 3339's own leap-second example
  '0001-01-01T00:00:00Z',
  '9999-12-31T23:59:59Z',
  '2026-04-30T00:00:00Z',
  '2026-01-31T00:00:00Z',
];
const refused = [
  '2026-02-30T00:00:00Z', // no 30th of February
  '2026-02-29T00:00:00Z', // 2026 is not a leap year
  '1900-02-29T00:00:00Z', // divisible by 100, not by 400
  '2026-04-31T00:00:00Z', // April has 30 days
  '2026-06-31T00:00:00Z',
  '2026-09-31T00:00:00Z',
  '2026-11-31T00:00:00Z',
  '2026-01-32T00:00:00Z',
  '2026-00-10T00:00:00Z',
  '2026-13-01T00:00:00Z',
  '2026-01-00T00:00:00Z',
  '2026-01-01T24:00:00Z', // hour 24
  '2026-01-01T23:60:00Z',
  '2026-01-01T23:59:61Z',
  '2026-01-01T00:00:00+24:00',
  '2026-01-01T00:00:00+01:60',
  '2026-01-01T00:00:00', // no offset
  '2026-01-01T00:00Z',
  '2026-1-01T00:00:00Z',
  '2026-01-01T00:00:00.Z',
  '2026-01-01T00:00:00.1234567890Z',
  '2026-01-01',
  '',
  '2026-01-01T00:00:00Z ',
];

t.test('timestamps naming a real instant are accepted', async (t) => {
  for (const ts of accepted) t.ok(isValidEvent(withTimestamp(ts)), ts);
});

t.test('timestamps that name no real instant are refused per event as invalid_format', async (t) => {
  for (const ts of refused) {
    const ev = withTimestamp(ts);
    t.notOk(isValidEvent(ev), ts);
    t.same(
      eventErrors(ev).map((e) => [e.code, e.path]),
      [['invalid_format', '/timestamp']],
      `${JSON.stringify(ts)} → invalid_format at /timestamp`,
    );
  }
});
