// Start/stop a local Kafka that outlives this command (dev shells, CI steps, tap before/after hooks).
//   node dist/kafka/cli.js up   --state <file> [--topic events:3 --topic events-dlq:1] [--port N] [--heap-mb N] [--data-dir D]
//   node dist/kafka/cli.js down --state <file>
// `up` prints the bootstrap address and writes {bootstrap, pid, dataDir, port, controllerPort} to the state file.
// `down` stops that pid (SIGTERM, SIGKILL after 15 s), removes the data dir and the state file.
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { startDetached, stopDetached, type TopicSpec } from './broker.js';

function parseTopic(s: string): TopicSpec {
  const m = /^([\w.-]+):(\d+)$/.exec(s);
  if (!m) throw new Error(`--topic wants name:partitions, got "${s}"`);
  return { name: m[1]!, partitions: Number(m[2]) };
}

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv, allowPositionals: true,
    options: {
      state: { type: 'string' }, topic: { type: 'string', multiple: true },
      port: { type: 'string' }, 'heap-mb': { type: 'string' }, 'data-dir': { type: 'string' },
    },
  });
  const cmd = positionals[0];
  if (!values.state || (cmd !== 'up' && cmd !== 'down')) {
    throw new Error('usage: cli.js up|down --state <file> [--topic name:partitions]... [--port N] [--heap-mb N] [--data-dir D]');
  }
  if (cmd === 'down') return stopDetached(values.state);
  const t0 = Date.now();
  const state = await startDetached(values.state, (values.topic ?? []).map(parseTopic), {
    ...(values.port && { port: Number(values.port) }),
    ...(values['heap-mb'] && { heapMb: Number(values['heap-mb']) }),
    ...(values['data-dir'] && { dataDir: resolve(values['data-dir']) }),
  });
  console.log(`kafka up at ${state.bootstrap} (pid ${state.pid}, ${Date.now() - t0} ms, data ${state.dataDir})`);
}

// Explicit exit: a librdkafka handle that is still closing must not keep the CLI alive.
main(process.argv.slice(2)).then(
  () => process.exit(0),
  (e: unknown) => { console.error(e instanceof Error ? e.message : e); process.exit(1); },
);
