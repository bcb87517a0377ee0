/**
 * What one Node client (clients/js) pushes through the real collector: events/s from the first
 * track() to the last acknowledgement, and the client's own CPU per event (this process runs
 * only the client). One collector process (PM2, as in production) on a local broker, or on
 * KAFKA_BOOTSTRAP_SERVERS. `npm run build && node dist/bench/client.js` (BENCH_CLIENT_EVENTS,
 * default 200,000; BENCH_CLIENT_BATCH, default 1000 events per request).
 */
import os from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { LocalBroker } from '../kafka/broker.js';
import { repoRoot } from '../kafka/paths.js';
import { Cluster } from './lib/cluster.js';

type NodeClient = typeof import('../clients/js/dist/node.js');
const { createCollector } = (await import(new URL('../../clients/js/dist/node.js', import.meta.url).href)) as NodeClient;

const events = Number(process.env.BENCH_CLIENT_EVENTS ?? 200_000);
const batch = Number(process.env.BENCH_CLIENT_BATCH ?? 1000);

async function main(): Promise<void> {
  const load = os.loadavg().map((x) => x.toFixed(2)).join(' ');
  let broker: LocalBroker | undefined;
  if (!process.env.KAFKA_BOOTSTRAP_SERVERS) {
    broker = await LocalBroker.start({ heapMb: 512 });
    await broker.createTopics([{ name: 'events', partitions: 3 }, { name: 'events-dlq', partitions: 1 }]);
    process.env.KAFKA_BOOTSTRAP_SERVERS = broker.bootstrap;
  }
  const root = repoRoot();
  const cluster = await Cluster.start({ KAFKA_BOOTSTRAP_SERVERS: process.env.KAFKA_BOOTSTRAP_SERVERS!, LOG_LEVEL: 'warn' }, 1, root, join(root, 'bench/results/tmp/client.log'));
  try {
    const client = createCollector({
      endpoint: cluster.url, tenantId: 'tenant-bench', sourceService: 'bench-client', maxBatchEvents: batch, flushIntervalMs: 50,
      maxQueueEvents: events, maxQueueBytes: 1 << 30,
    });
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    // Tracked in slices, so sending starts while the rest is being tracked (as an application would).
    for (let i = 0; i < events; i += 1000) {
      for (let j = i; j < Math.min(events, i + 1000); j++) {
        client.track({ learner_id: `learner-${j % 500}`, event_type: 'progress', event_data: { lesson: 'fractions', percent: j % 101 } });
      }
      await new Promise((r) => setImmediate(r));
    }
    await client.flush();
    const s = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const st = client.stats();
    await client.close();
    console.log(JSON.stringify({
      events, batch, seconds: Number(s.toFixed(2)), events_per_s: Math.round(events / s),
      client_cpu_us_per_event: Number(((cpu.user + cpu.system) / events).toFixed(2)),
      delivered: st.delivered, retries: st.retries, rejected: st.rejected, loadavg_at_start: load, cores: os.cpus().length,
    }));
  } finally {
    await cluster.stop();
    await broker?.destroy();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
