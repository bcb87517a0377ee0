/**
 * Issue #14 part 1: per-learner order across all processes of a host. The default PM2
 * cluster (2 processes on one port), four clients that each own their learners and wait for
 * every answer, through pooled keep-alive connections (undici Agents) that the kernel spreads
 * over both processes; the broker SIGKILLed, one collector process SIGKILLed while spilling,
 * the broker back. Then: every acknowledged event in Kafka, no learner's events out of order
 * (first copies), and the copies in Kafka no more than the collectors counted as possible.
 */
import t, { type Test } from 'tap';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Agent, request } from 'undici';
import { LocalBroker } from '../../kafka/broker.js';
import { startPm2Cluster } from '../helpers/pm2.js';
import { readUntilIds, eventIds } from '../helpers/consumer.js';
import { orderViolations, sleep } from '../helpers/load.js';
import { syntheticEvent } from '../../src/pipeline/synthetic.js';


t.setTimeout(480_000);

interface Load {
  acked: Set<string>;
  statuses: Map<string, number>;
  /** requests sent so far: the phases of the test advance on this, not on the clock */
  sent: number;
}

/** One client: owns learner_c<c>_{0,1,2}, one 50-event batch at a time, over three pooled Agents in turn. */
async function client(c: number, url: string, load: Load, stopped: () => boolean): Promise<void> {
  const agents = [0, 1, 2].map(() => new Agent({ connections: 2, keepAliveTimeout: 30_000 }));
  let seq = 0;
  let n = 0;
  try {
    while (!stopped()) {
      const events = [];
      for (let i = 0; i < 50; i++) {
        events.push({ ...syntheticEvent(i), event_id: randomUUID(), learner_id: `learner_c${c}_${i % 3}`, event_data: { seq: seq++ } });
      }
      load.sent++;
      try {
        const r = await request(`${url}/api/v1/collect`, {
          method: 'POST', body: JSON.stringify(events), headers: { 'content-type': 'application/json' },
          dispatcher: agents[n++ % agents.length], headersTimeout: 30_000, bodyTimeout: 30_000,
        });
        const body = (await r.body.json()) as { buffered?: boolean };
        const key = `${r.statusCode}${body.buffered ? ' buffered' : ''}`;
        load.statuses.set(key, (load.statuses.get(key) ?? 0) + 1);
        if (r.statusCode === 200) for (const e of events) load.acked.add(e.event_id);
        else await sleep(100);
      } catch (err) {
        // The SIGKILLed process takes its connections with it: the client sees an error and goes on.
        const key = `error ${(err as { code?: string }).code ?? (err as Error).message}`;
        load.statuses.set(key, (load.statuses.get(key) ?? 0) + 1);
        await sleep(50);
      }
    }
  } finally {
    await Promise.all(agents.map((a) => a.close()));
  }
}

function heads(bufferDir: string): number[] {
  let b: Buffer;
  try {
    b = readFileSync(join(bufferDir, '.order', 'heads'));
  } catch {
    return []; // no host order table (a collector without one): nothing to wait for here
  }
  return Array.from(new Float64Array(b.buffer, b.byteOffset, b.length / 8)).filter((v) => v > 0);
}

interface Phases {
  name: string;
  /** what happens between the broker's death and its return, and after it */
  middle: (ctx: { bufferDir: string; pids: () => Promise<{ pid: number }[]>; at: (sent: number) => Promise<void>; broker: LocalBroker; t: Test }) => Promise<void>;
}

function leaderPid(bufferDir: string): number | null {
  try {
    return (JSON.parse(readFileSync(join(bufferDir, '.order', 'replayer', 'LOCK'), 'utf8')) as { pid: number }).pid;
  } catch {
    return null;
  }
}

/** Some log of the host has a replay marker: the leader has had at least one chunk acknowledged. */
function replayBegun(bufferDir: string): boolean {
  try {
    return readdirSync(bufferDir).some((d) => existsSync(join(bufferDir, d, 'replayed')));
  } catch {
    return false;
  }
}

async function scenario(t: Test, phases: Phases): Promise<void> {
  const broker = await LocalBroker.start({ heapMb: 384 });
  t.teardown(() => broker.destroy());
  const topic = `events-order-${randomUUID().slice(0, 8)}`;
  await broker.createTopics([{ name: topic, partitions: 3 }, { name: `${topic}-dlq`, partitions: 1 }]);
  // The default cluster (COLLECTOR_INSTANCES unset), spilling after 1 s and probing Kafka every 500 ms.
  const { url, bufferDir, online: pids } = await startPm2Cluster(t, broker.bootstrap, topic,
    { COLLECTOR_INSTANCES: undefined, SPILL_AFTER_MS: '1000', CIRCUIT_PROBE_MS: '500' });
  const before = await pids();
  t.equal(before.length, 2, 'two collector processes online (the default)');

  const load: Load = { acked: new Set(), statuses: new Map(), sent: 0 };
  let stop = false;
  const loading = Promise.all([0, 1, 2, 3].map((c) => client(c, url, load, () => stop)));
  const at = async (sent: number) => {
    // Progress is counted in requests, not seconds, so a slow machine stretches the phases instead of skipping them.
    while (load.sent < sent) await sleep(50);
  };
  await at(40);
  await broker.kill();
  await phases.middle({ bufferDir, pids, at, broker, t });
  stop = true;
  await loading;

  const statuses = JSON.stringify([...load.statuses]);
  t.ok((load.statuses.get('200 buffered') ?? 0) > 0, `batches were spilled: ${statuses}`);
  t.ok(load.acked.size >= 5000, `${load.acked.size} events acknowledged`);
  t.same([...load.statuses.keys()].filter((k) => !k.startsWith('200') && !k.startsWith('error') && !k.startsWith('503')), [], `only 200, 503 or the killed process's connection errors: ${statuses}`);

  // Drained: every log of the host owes nothing (the order table is all zero).
  const end = Date.now() + 180_000;
  while (heads(bufferDir).length > 0 && Date.now() < end) await sleep(500);
  t.same(heads(bufferDir), [], 'the host order table is empty: every log of the host drained');

  const records = await readUntilIds(broker.bootstrap, topic, load.acked, 120_000);
  const found = eventIds(records);
  t.same([...load.acked].filter((id) => !found.has(id)), [], `all ${load.acked.size} acknowledged events are in Kafka`);
  const inversions = orderViolations(records);
  t.same(inversions.slice(0, 20), [], `per-learner order holds (${inversions.length} inversions)`);
  const m = (await (await fetch(`${url}/api/v1/metrics`)).json()) as { possible_duplicates_total: number };
  const copies = records.length - found.size;
  t.ok(copies <= m.possible_duplicates_total, `copies in Kafka (${copies}) ≤ counted as possible duplicates (${m.possible_duplicates_total})`);
}

t.test('the replay leader SIGKILLed mid-replay: a survivor takes over; 0 lost, 0 per-learner inversions', (t) =>
  scenario(t, {
    name: 'leader',
    middle: async ({ bufferDir, at, broker, t }) => {
      await at(240);
      await broker.restart();
      // Mid-replay: the first chunk is acknowledged (a marker exists) and the host still owes.
      const end = Date.now() + 120_000;
      while (!replayBegun(bufferDir) && Date.now() < end) await sleep(5);
      const leader = leaderPid(bufferDir);
      t.ok(leader !== null, `a replay leader holds the lock (pid ${leader})`);
      t.ok(heads(bufferDir).length > 0, 'killed while the host still owes (mid-replay)');
      process.kill(leader!, 'SIGKILL');
      await at(380);
      const handed = Date.now() + 120_000;
      while ((leaderPid(bufferDir) === leader || leaderPid(bufferDir) === null) && Date.now() < handed) await sleep(100);
      t.not(leaderPid(bufferDir), leader, 'another process leads the replay now');
    },
  }),
);

t.test('default cluster, broker and one collector SIGKILLed: 0 lost, 0 per-learner inversions', (t) =>
  scenario(t, {
    name: 'spilling',
    middle: async ({ pids, at, broker }) => {
      const before = await pids();
      await at(140);
      process.kill(before[0]!.pid, 'SIGKILL');
      await at(260);
      await broker.restart();
      await at(400);
    },
  }),
);
