/**
 * What the shared store adds, pooled over rounds (bench/lib/store-latency.ts storeCost): one round's p99 is
 * its 6th slowest answer, so the pairs are judged on every round's answers together.
 */
import t from 'tap';
import { storeCost } from '../../bench/lib/store-latency.js';

const us = (ms: number[]) => ms.map((m) => m * 1000);
const round = (name: string, clientMs: number[], serverMs: number[] = clientMs) => ({ name, load: { samples: { clientUs: us(clientMs), serverUs: us(serverMs) } } });

t.test('no figure without both sides of a pair', async (t) => {
  t.same(storeCost([], new Map()), []);
  t.same(storeCost([round('steady-2k-redis', [1, 2, 3])], new Map()), [], 'a -redis round without its -quota twin');
  t.same(storeCost([round('steady-2k-quota', [1, 2, 3]), { name: 'steady-2k-redis' }], new Map()), [], 'a -redis report without samples');
});

t.test('rounds are pooled before the quantile, not averaged after it', async (t) => {
  // Round 1 of each side is fast, round 2 slow: per-round p50s would be 1 and 9, the pooled p50 is a slow answer.
  const fast = Array.from({ length: 100 }, () => 1);
  const slow = Array.from({ length: 100 }, () => 9);
  const reports = [
    round('steady-2k', [50]),
    round('steady-2k-quota', fast),
    round('steady-2k-redis', fast.map((x) => x + 1)),
    round('steady-2k-quota', slow),
    round('steady-2k-redis', slow.map((x) => x + 1), slow.map((x) => x + 0.5)),
  ];
  const [cost, ...rest] = storeCost(reports, new Map([['steady-2k', us([0.5, 0.7, 3])]]));
  t.equal(rest.length, 0, 'one pair, however many rounds');
  t.equal(cost!.scenario, 'steady-2k');
  t.equal(cost!.rounds, 2);
  t.same(cost!.answers, { quota: 200, redis: 200 });
  t.same(cost!.clientMs.p50, [9, 10, 1], 'the 100th of 200 pooled answers, and what the store added');
  t.same(cost!.clientMs.p99, [9, 10, 1]);
  t.same(cost!.serverMs.p50, [9, 9.5, 0.5], 'the collector\'s own figures are pooled apart from the client\'s');
  t.same(cost!.floorMs, { p50: 0.7, p99: 3, calls: 3 });
});
