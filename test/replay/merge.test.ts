/**
 * The host-wide merge (#14): the leader sends a record only when it can prove it is the oldest
 * the host still owes. Failure paths first: what must stop the merge.
 */
import t from 'tap';
import { mergeChunk, type MergeLog } from '../../src/replay/index.js';
import { SLOTS } from '../../src/replay/index.js';

type R = { key: number; events: number };
const recs = (...keys: number[]): R[] => keys.map((key) => ({ key, events: 1 }));
const noHolds = () => new Float64Array(SLOTS);
const keysOf = (logs: MergeLog<R>[], picks: [number, number][]) => picks.map(([i, k]) => logs[i]!.buf[k]!.key);

t.test('an append in progress elsewhere (its hold) stops everything newer, not what is older', async (t) => {
  const logs = [{ slot: 0, buf: recs(10, 20, 30), end: true }];
  const holds = noHolds();
  holds[1] = 25;
  t.same(keysOf(logs, mergeChunk(logs, holds, 1e9, 256, 1e9)), [10, 20]);
  holds[1] = 5;
  t.same(mergeChunk(logs, holds, 1e9, 256, 1e9), [], 'a hold older than every record: nothing goes');
});

t.test('a log\'s own pinned first copy: the pinned record itself goes, nothing newer of it', async (t) => {
  const logs = [{ slot: 3, buf: recs(10, 20, 30), end: true }];
  const holds = noHolds();
  holds[3] = 20;
  t.same(keysOf(logs, mergeChunk(logs, holds, 1e9, 256, 1e9)), [10, 20]);
});

t.test('equal keys: the lower slot first, for records and holds alike', async (t) => {
  const logs = [{ slot: 5, buf: recs(10), end: true }, { slot: 2, buf: recs(10), end: true }];
  t.same(mergeChunk(logs, noHolds(), 1e9, 256, 1e9), [[1, 0], [0, 0]]);
  const holds = noHolds();
  holds[2] = 10;
  const one = [{ slot: 5, buf: recs(10), end: true }];
  t.same(mergeChunk(one, holds, 1e9, 256, 1e9), [], 'a hold of a lower slot with the same key goes first');
  holds[2] = 0;
  holds[7] = 10;
  t.same(mergeChunk(one, holds, 1e9, 256, 1e9), [[0, 0]], 'of a higher slot: after');
});

t.test('nothing stamped at or after the horizon goes (an older append may not be visible yet)', async (t) => {
  const logs = [{ slot: 0, buf: recs(10, 20, 30), end: true }];
  t.same(keysOf(logs, mergeChunk(logs, noHolds(), 30, 256, 1e9)), [10, 20]);
});

t.test('a log whose read was cut short stops the merge once its records run out', async (t) => {
  const logs = [{ slot: 0, buf: recs(10, 20), end: false }, { slot: 1, buf: recs(15, 25, 35), end: true }];
  // after 20 the next record of log 0 is unknown: 25 may not be the oldest
  t.same(keysOf(logs, mergeChunk(logs, noHolds(), 1e9, 256, 1e9)), [10, 15, 20]);
  logs[0]!.end = true;
  t.same(keysOf(logs, mergeChunk(logs, noHolds(), 1e9, 256, 1e9)), [10, 15, 20, 25, 35], 'read to its end: the rest goes');
});

t.test('interleaved logs merge into one order in one chunk, within the record and event budgets', async (t) => {
  const logs = [
    { slot: 0, buf: recs(1, 4, 7, 10), end: true },
    { slot: 1, buf: recs(2, 5, 8, 11), end: true },
    { slot: 9, buf: recs(3, 6, 9, 12), end: true },
  ];
  t.same(keysOf(logs, mergeChunk(logs, noHolds(), 1e9, 256, 1e9)), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  t.same(keysOf(logs, mergeChunk(logs, noHolds(), 1e9, 5, 1e9)), [1, 2, 3, 4, 5], 'max records');
  const big = [{ slot: 0, buf: [{ key: 1, events: 600 }, { key: 2, events: 600 }], end: true }];
  t.same(mergeChunk(big, noHolds(), 1e9, 256, 1000), [[0, 0]], 'max events (at least one record)');
  t.same(mergeChunk(big, noHolds(), 1e9, 256, 0), [[0, 0]], 'no room: still one, so replay moves');
});
