// tap `before` hook: one detached Kafka for the whole test run (a JVM start per test file would
// cost seconds each). Tests find it through test/helpers/broker.ts -> .kafka/test-broker.json.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { ensureJars, startDetached, stopDetached } from '../../kafka/broker.js';
import { testBrokerStateFile } from '../../kafka/paths.js';

const stateFile = testBrokerStateFile(); // <repo>/.kafka/test-broker.json unless KAFKA_TEST_STATE
// The tap runner is the parent of this hook, of every test file and of the after hook: it owns the broker.
const owner = process.ppid;
const alive = (pid: number) => { try { process.kill(pid, 0); return true; } catch { return false; } };

if (existsSync(stateFile)) {
  const prev = JSON.parse(readFileSync(stateFile, 'utf8')) as { owner?: number };
  // Another tap run in this checkout is using that broker: killing it would fail that run.
  if (prev.owner && prev.owner !== owner && alive(prev.owner)) {
    throw new Error(`${stateFile} belongs to a running tap (pid ${prev.owner}); wait for it, ` +
      `or give this run its own broker with KAFKA_TEST_STATE=<other file>`);
  }
  await stopDetached(stateFile).catch(() => {}); // left over by a crashed run: stop it, don't leak it
}

const t0 = Date.now();
await ensureJars();
const state = await startDetached(stateFile, [
  { name: 'events', partitions: 3 },
  { name: 'events-dlq', partitions: 1 },
]);
writeFileSync(stateFile, JSON.stringify({ ...state, owner }, null, 2) + '\n');
console.error(`# kafka ${state.bootstrap} up in ${Date.now() - t0} ms (pid ${state.pid}, ${state.dataDir})`);
