/**
 * Issue #17.5: a collector SIGKILLed during an outage, whose sibling adopted its spill log,
 * comes back while the sibling still holds that log: it must start and serve (before: exit 1
 * on SPILL_LOCKED, a restart loop for as long as Kafka stayed down). When Kafka is back,
 * every acknowledged event of all three logs (the sibling's own, the adopted one, the fresh
 * one the returning owner spilled to) is in Kafka.
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { LocalBroker } from '../../kafka/broker.js';
import { startCollector } from '../helpers/collector.js';
import { readUntilIds, eventIds } from '../helpers/consumer.js';
import { sleep } from '../helpers/load.js';
import { syntheticEvent } from '../../src/pipeline/synthetic.js';

t.setTimeout(300_000);

async function send(url: string, acked: Set<string>): Promise<{ status: number; buffered: boolean }> {
  const events = Array.from({ length: 20 }, (_, i) => ({ ...syntheticEvent(i), event_id: randomUUID() }));
  const r = await fetch(`${url}/api/v1/collect`, { method: 'POST', body: JSON.stringify(events), headers: { 'content-type': 'application/json' } });
  const body = (await r.json()) as { buffered?: boolean };
  if (r.status === 200) events.forEach((e) => { acked.add(e.event_id); });
  return { status: r.status, buffered: body.buffered === true };
}

function lockPid(dir: string): number | null {
  try {
    return (JSON.parse(readFileSync(join(dir, 'LOCK'), 'utf8')) as { pid: number }).pid;
  } catch {
    return null;
  }
}

t.test('a returning instance starts and serves while its sibling holds its adopted log', async (t) => {
  const broker = await LocalBroker.start({ heapMb: 384 });
  t.teardown(() => broker.destroy());
  const topic = `events-return-${randomUUID().slice(0, 8)}`;
  await broker.createTopics([{ name: topic, partitions: 3 }, { name: `${topic}-dlq`, partitions: 1 }]);
  const bufferDir = mkdtempSync(join(os.tmpdir(), 'collector-return-'));
  const env = { KAFKA_BOOTSTRAP_SERVERS: broker.bootstrap, KAFKA_TOPIC: topic, DLQ_TOPIC: `${topic}-dlq`, BUFFER_DIR: bufferDir, SPILL_AFTER_MS: '500', CIRCUIT_PROBE_MS: '300' };
  await broker.kill();

  const a = await startCollector({ ...env, INSTANCE_ID: '0' });
  const b = await startCollector({ ...env, INSTANCE_ID: '1' });
  t.teardown(() => b.stop());
  const acked = new Set<string>();
  for (let i = 0; i < 10; i++) t.match(await send(a.url, acked), { status: 200, buffered: true }, 'instance 0 spills while Kafka is down');
  await a.kill();

  // The sibling finds the dead instance's log and adopts it (it blocks the host's order otherwise).
  const deadline = Date.now() + 120_000;
  while (lockPid(join(bufferDir, '0')) !== b.proc.pid && Date.now() < deadline) await sleep(200);
  t.equal(lockPid(join(bufferDir, '0')), b.proc.pid, 'instance 1 adopted the log of instance 0');

  // Instance 0 comes back while Kafka is still down and its directory is held.
  const again = await startCollector({ ...env, INSTANCE_ID: '0' });
  t.teardown(() => again.stop());
  t.pass('instance 0 started while its sibling holds its log');
  t.match(again.logs.join(''), /held by a sibling/, 'it says it spills to a fresh directory meanwhile');
  for (let i = 0; i < 5; i++) t.match(await send(again.url, acked), { status: 200, buffered: true }, 'and it serves: batches are spilled');
  for (let i = 0; i < 5; i++) t.match(await send(b.url, acked), { status: 200, buffered: true }, 'the sibling serves too');

  await broker.restart();
  const records = await readUntilIds(broker.bootstrap, topic, acked, 150_000);
  const found = eventIds(records);
  t.same([...acked].filter((id) => !found.has(id)), [], `all ${acked.size} acknowledged events are in Kafka`);
});
