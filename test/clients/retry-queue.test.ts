/**
 * The JS client's pieces without a collector: what each answer means, the backoff and its
 * Retry-After floor, and the offline queue's bounds and order. Failure paths first.
 */
import t from 'tap';

type Retry = typeof import('../../clients/js/dist/retry.js');
type Queue = typeof import('../../clients/js/dist/queue.js');
const dist = (f: string) => new URL(`../../../clients/js/dist/${f}`, import.meta.url).href;
const { backoffMs, retryAfterMs, verdictOf } = (await import(dist('retry.js'))) as Retry;
const { EventQueue, memoryStore } = (await import(dist('queue.js'))) as Queue;

t.test('never retried: 400, 401, 403, 415, 422, a 413 of one event; split: a 413 of several', async (t) => {
  for (const s of [400, 401, 403, 404, 415]) t.equal(verdictOf(s, 10).kind, 'refused', String(s));
  t.equal(verdictOf(413, 1).kind, 'refused');
  t.equal(verdictOf(413, 2).kind, 'split');
  t.equal(verdictOf(422, 5).kind, 'done', '422: every event dead-lettered, reported, not retried');
  for (const s of [408, 429, 500, 502, 503, 504]) t.equal(verdictOf(s, 10).kind, 'retry', String(s));
  for (const s of [200, 207]) t.equal(verdictOf(s, 10).kind, 'done', String(s));
});

t.test('Retry-After: seconds or an HTTP date; garbage is no floor', async (t) => {
  t.equal(retryAfterMs('2'), 2000);
  t.equal(retryAfterMs('0'), 0);
  t.equal(retryAfterMs(null), undefined);
  t.equal(retryAfterMs('soon'), undefined);
  t.equal(retryAfterMs('-1'), undefined);
  const now = Date.parse('2026-01-01T00:00:00Z');
  t.equal(retryAfterMs('Thu, 01 Jan 2026 00:00:05 GMT', now), 5000);
});

t.test('backoff: full jitter under an exponential ceiling, never below Retry-After', async (t) => {
  const o = { baseMs: 100, maxMs: 1000 };
  t.equal(backoffMs(0, o, undefined, () => 0.999), 99.9);
  t.equal(backoffMs(3, o, undefined, () => 1), 800);
  t.equal(backoffMs(20, o, undefined, () => 1), 1000, 'capped');
  for (const r of [0, 0.5, 1]) t.ok(backoffMs(0, o, 3000, () => r) >= 3000, 'Retry-After is a floor, whatever the attempt');
  t.ok(backoffMs(0, o, 3000, () => 1) <= 3600, 'with a little jitter above it');
});

t.test('the queue drops the NEW event when full, counts it, and keeps the order of the rest', async (t) => {
  const q = new EventQueue<number>(memoryStore(), { maxEvents: 3, maxBytes: 100 }, () => {});
  await q.open();
  t.ok(q.push(1, 10) && q.push(2, 10) && q.push(3, 10));
  t.notOk(q.push(4, 10), 'count bound');
  t.equal(q.dropped, 1);
  q.ack(q.head(1, 100)[0]!.seq);
  t.notOk(q.push(5, 81), 'byte bound');
  t.ok(q.push(6, 10));
  t.same(q.head(10, 1000).map((s) => s.event), [2, 3, 6]);
  t.same(q.head(10, 15).map((s) => s.event), [2], 'a batch stops at its byte budget');
  t.same(q.head(10, 1).map((s) => s.event), [2], 'but holds at least one event');
});

t.test('events tracked before the store answered go after what an earlier run left', async (t) => {
  let release!: () => void;
  const gate = new Promise<void>((r) => (release = r));
  const stored: { seq: number; event: string; bytes: number }[] = [];
  const store = {
    load: async () => {
      await gate;
      return [{ seq: 7, event: 'old-7', bytes: 1 }, { seq: 8, event: 'old-8', bytes: 1 }];
    },
    append: async (items: { seq: number; event: string; bytes: number }[]) => void stored.push(...items.map((s) => ({ ...s }))),
    removeUpTo: async () => {},
  };
  const q = new EventQueue<string>(store, { maxEvents: 10, maxBytes: 100 }, () => {});
  const opening = q.open();
  q.push('new-a', 1);
  q.push('new-b', 1);
  release();
  await opening;
  await q.persisted();
  t.same(q.head(10, 100).map((s) => [s.seq, s.event]), [[7, 'old-7'], [8, 'old-8'], [9, 'new-a'], [10, 'new-b']]);
  t.same(stored.map((s) => s.seq), [9, 10], 'written with their new seqs, after the old ones');
});
