import t from 'tap';
import { createHash } from 'node:crypto';
import { deadLetterValue, shrunkDeadLetter, type DeadLetterInput } from '../../src/codec/dead-letter.js';

const input = (original: unknown): DeadLetterInput => ({
  reason: 'validation',
  errors: [{ code: 'invalid_value', path: '/event_type', message: 'Expected union value' }],
  retryCount: 0,
  failedAt: '2026-01-01T00:00:00.000Z',
  batchId: 'b-1',
  instance: 'test/0',
  tenantId: 't',
  eventIndex: 3,
  original,
});

interface Value {
  reason: string;
  event_index: number;
  original_event: unknown;
  original_event_truncated?: { bytes: number; sha256: string; head: string };
}

t.test('a small dead letter carries its original whole, as before', async (t) => {
  const ev = { event_id: 'x', event_data: { a: 1 } };
  const v = JSON.parse(deadLetterValue(input(ev), 4096)) as Value;
  t.same(v.original_event, ev);
  t.equal(v.original_event_truncated, undefined);
  t.equal(JSON.parse(deadLetterValue(input(undefined))).original_event, null);
});

t.test('over the bound: size, digest and a head of the original, and the record fits', async (t) => {
  for (const [name, blob] of [
    ['ascii', 'x'.repeat(200_000)],
    ['quotes (2 bytes each escaped)', '"'.repeat(200_000)],
    ['control characters (6 bytes each escaped)', '\u0001'.repeat(200_000)],
    ['multi-byte', 'é€😀'.repeat(50_000)],
  ] as const) {
    for (const max of [4096, 65_536]) {
      const ev = { event_id: 'x', event_data: { blob } };
      const value = deadLetterValue(input(ev), max);
      t.ok(Buffer.byteLength(value) <= max, `${name}, max ${max}: ${Buffer.byteLength(value)} bytes`);
      const v = JSON.parse(value) as Value;
      const full = JSON.stringify(ev);
      t.equal(v.original_event, null);
      t.equal(v.original_event_truncated?.bytes, Buffer.byteLength(full));
      t.equal(v.original_event_truncated?.sha256, createHash('sha256').update(full).digest('hex'));
      const head = v.original_event_truncated?.head ?? '';
      t.ok(full.startsWith(head), 'the head is a prefix of the original JSON');
      t.ok(Buffer.byteLength(JSON.stringify(head)) > max / 8, `${name}, max ${max}: the head uses the room (${head.length} chars)`);
      t.equal(v.event_index, 3, 'the envelope is intact');
    }
  }
});

t.test('a dead letter refused anyway shrinks to size and digest', async (t) => {
  const ev = { event_id: 'x', event_data: { blob: 'x'.repeat(10_000) } };
  const v = JSON.parse(shrunkDeadLetter(deadLetterValue(input(ev)), 'Broker: Message size too large')) as Value & { dlq_refused: string };
  t.equal(v.original_event, null);
  t.equal(v.original_event_truncated?.bytes, Buffer.byteLength(JSON.stringify(ev)));
  t.equal(v.original_event_truncated?.head, '');
  t.equal(v.dlq_refused, 'Broker: Message size too large');
  t.equal(v.reason, 'validation');
  const twice = JSON.parse(shrunkDeadLetter(deadLetterValue(input(ev), 4096), 'again')) as Value;
  t.equal(twice.original_event_truncated?.bytes, Buffer.byteLength(JSON.stringify(ev)), 'an already cut one keeps the original size');
});
