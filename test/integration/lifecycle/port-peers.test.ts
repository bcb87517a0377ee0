/**
 * A stale process that still holds the port is detected, not silently load-balanced to:
 * a collector of another group (another RUN_DIR) listening on the same port is reported
 * in the log and in Prometheus, while members of the same group are not.
 */
import t from 'tap';
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { sharedBroker } from '../../helpers/broker.js';
import { createTopics } from '../../helpers/topics.js';
import { freePort, startCollector } from '../../helpers/collector.js';
import { listenersOnPort } from '../../../src/lifecycle/port-peers.js';

t.test('a collector of another group on our port is reported as a stale listener', async (t) => {
  const { bootstrap } = sharedBroker();
  const topic = `events-peers-${randomUUID().slice(0, 8)}`;
  await createTopics([{ name: topic, partitions: 1 }, { name: `${topic}-dlq`, partitions: 1 }]);
  const port = String(await freePort());
  const env = { KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: topic, DLQ_TOPIC: `${topic}-dlq`, PORT: port };
  const groupRun = mkdtempSync(join(os.tmpdir(), 'run-'));
  const a = await startCollector({ ...env, INSTANCE_ID: '0', RUN_DIR: groupRun });
  const b = await startCollector({ ...env, INSTANCE_ID: '1', RUN_DIR: groupRun });
  const stale = await startCollector({ ...env, INSTANCE_ID: '0', RUN_DIR: mkdtempSync(join(os.tmpdir(), 'run-old-')) });
  t.teardown(async () => {
    await Promise.all([a.stop(), b.stop(), stale.stop()]);
  });

  t.same(listenersOnPort(Number(port)).sort(), [a.proc.pid, b.proc.pid, stale.proc.pid].sort(), 'all three listen on the port');
  const flagged = (c: typeof a) => c.logs.join('').includes('STALE LISTENER');
  // Checks run 3 s after start, then every 5 s.
  // The deadline is generous: a loaded box runs those timers late.
  for (const end = Date.now() + 60_000; !(flagged(a) && flagged(stale)) && Date.now() < end;) await new Promise((r) => setTimeout(r, 250));
  t.ok(flagged(a), 'a member sees the stale process');
  t.match(a.logs.join(''), new RegExp(`"pid":${stale.proc.pid}`), 'and names its pid');
  t.notMatch(a.logs.join(''), new RegExp(`"foreign":\\[[^\\]]*"pid":${b.proc.pid}[,}]`), 'a member of the same group is not flagged');
  t.ok(flagged(stale), 'the stale process sees the group as foreign too');
});
