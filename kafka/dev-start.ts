// `npm start`: the collector cluster under pm2-runtime, in the foreground. When
// KAFKA_BOOTSTRAP_SERVERS is unset it first starts a local single-node Kafka (and its
// topics) and stops it again on exit; when set, that cluster is used as it is.
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { LocalBroker } from './broker.js';
import { repoRoot } from './paths.js';
import net from 'node:net';

const require = createRequire(import.meta.url);

function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

async function main(): Promise<void> {
  const env = { ...process.env };
  let broker: LocalBroker | undefined;
  if (!env.KAFKA_BOOTSTRAP_SERVERS) {
    console.log('KAFKA_BOOTSTRAP_SERVERS is unset: starting a local Kafka broker (first run downloads its jars with mvn)…');
    // 9092 as the spec's examples when it is free; any free port otherwise.
    broker = await LocalBroker.start((await portFree(9092)) ? { port: 9092 } : {});
    await broker.createTopics([
      { name: env.KAFKA_TOPIC || 'events', partitions: 3 },
      { name: env.DLQ_TOPIC || 'events-dlq', partitions: 1 },
    ]);
    env.KAFKA_BOOTSTRAP_SERVERS = broker.bootstrap;
    // ecosystem.config.js sets NODE_ENV=production, which turns the synthetic-load endpoint off by default;
    // a collector on a throwaway local broker is a trial run, where the quick start uses that endpoint.
    env.TEST_ENDPOINTS_ENABLED ??= 'true';
    console.log(`local Kafka at ${broker.bootstrap} (data in ${broker.dataDir})`);
  }
  const pm2Runtime = join(require.resolve('pm2/package.json'), '..', 'bin', 'pm2-runtime');
  const child = spawn(process.execPath, [pm2Runtime, 'start', join(repoRoot(), 'ecosystem.config.js')], {
    env,
    stdio: 'inherit',
    cwd: repoRoot(),
  });
  const forward = (sig: NodeJS.Signals) => child.kill(sig);
  process.on('SIGINT', forward);
  process.on('SIGTERM', forward);
  const code = await new Promise<number>((resolve) => child.once('exit', (c) => resolve(c ?? 1)));
  if (broker) await broker.destroy();
  process.exit(code);
}

main().catch((err: unknown) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});
