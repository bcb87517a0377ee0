/**
 * `pm2 reload` under steady load: zero failed requests and zero lost events. The
 * cluster runs exactly as users run it (ecosystem.config.js, fork mode, 2 processes on
 * one port), with a private PM2_HOME so the test never touches a user's PM2 daemon.
 */
import t from 'tap';
import { randomUUID } from 'node:crypto';
import { sharedBroker } from '../helpers/broker.js';
import { createTopics } from '../helpers/topics.js';
import { startPm2Cluster } from '../helpers/pm2.js';
import { startCollector } from '../helpers/collector.js';
import { readUntilIds, eventIds } from '../helpers/consumer.js';
import { runLoad, sleep, waitDrained } from '../helpers/load.js';

t.test('pm2 reload under load: no failed request, no lost event', async (t) => {
  const { bootstrap } = sharedBroker();
  const topic = `events-reload-${randomUUID().slice(0, 8)}`;
  await createTopics([{ name: topic, partitions: 3 }, { name: `${topic}-dlq`, partitions: 1 }]);
  const { url, pm } = await startPm2Cluster(t, bootstrap, topic, { COLLECTOR_INSTANCES: '2' });

  let stop!: () => void;
  const loading = runLoad({ urls: () => [url], clients: 4, batchSize: 20, until: new Promise<void>((r) => (stop = r)), pauseMs: 5 });
  await sleep(1500);
  const t0 = Date.now();
  await pm('reload', 'event-collector');
  const reloadMs = Date.now() - t0;
  await sleep(1500);
  stop();
  const load = await loading;

  const { stdout } = await pm('jlist');
  const procs = JSON.parse(stdout) as { pm2_env: { status: string; restart_time: number } }[];
  t.equal(procs.filter((p) => p.pm2_env.status === 'online').length, 2, 'two processes online after the reload');
  t.equal(load.errors, 0, `no request failed at the network level (reload took ${reloadMs} ms)`);
  t.same([...load.statuses.keys()].filter((s) => s < 200 || s >= 300), [], `only 2xx: ${JSON.stringify([...load.statuses])}`);
  t.ok(load.acked.size > 200, `${load.acked.size} events acknowledged`);
  const records = await readUntilIds(bootstrap, topic, load.acked.keys());
  const found = eventIds(records);
  t.same([...load.acked.keys()].filter((id) => !found.has(id)), [], 'every acknowledged event is in Kafka');
});

t.test('SIGTERM under load: in-flight batches finish, exit 0, nothing acknowledged is lost', async (t) => {
  const { bootstrap } = sharedBroker();
  const topic = `events-sigterm-${randomUUID().slice(0, 8)}`;
  await createTopics([{ name: topic, partitions: 3 }, { name: `${topic}-dlq`, partitions: 1 }]);
  const c = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: topic, DLQ_TOPIC: `${topic}-dlq` });
  let stop!: () => void;
  const loading = runLoad({ urls: () => [c.url], clients: 4, batchSize: 50, until: new Promise<void>((r) => (stop = r)) });
  await sleep(1500);
  const t0 = Date.now();
  const code = await c.stop();
  const tookMs = Date.now() - t0;
  stop();
  const load = await loading;
  t.equal(code, 0, 'exit code 0');
  t.ok(tookMs < 25_000, `drained in ${tookMs} ms (PM2 kill_timeout is 25 s)`);
  t.ok(load.acked.size > 0);
  // A batch Kafka did not acknowledge within SPILL_AFTER_MS (a loaded box: CI saw 52 such events; the circuit then
  // opens and the batches after it queue behind the log too) was answered from the spill log: acknowledged, durable, and delivered when the instance comes back on its
  // BUFFER_DIR (PM2 restarts it; Kubernetes keeps the volume). So the proof is: come back, drain, then read.
  t.comment(`${load.buffered} batch(es) answered from the spill log`);
  const back = await startCollector({ KAFKA_BOOTSTRAP_SERVERS: bootstrap, KAFKA_TOPIC: topic, DLQ_TOPIC: `${topic}-dlq`, BUFFER_DIR: c.bufferDir });
  t.teardown(() => back.stop());
  await waitDrained(back.url);
  const records = await readUntilIds(bootstrap, topic, load.acked.keys());
  const found = eventIds(records);
  t.same([...load.acked.keys()].filter((id) => !found.has(id)), [], `all ${load.acked.size} acknowledged events are in Kafka`);
});
