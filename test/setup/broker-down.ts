// tap `after` hook: stop this run's shared Kafka, delete its data dir and the state file.
import { existsSync, readFileSync } from 'node:fs';
import { stopDetached } from '../../kafka/broker.js';
import { testBrokerStateFile } from '../../kafka/paths.js';

const stateFile = testBrokerStateFile();
if (existsSync(stateFile)) {
  const { owner } = JSON.parse(readFileSync(stateFile, 'utf8')) as { owner?: number };
  // Only the run that started it (same tap runner pid) stops it; another run may have replaced the file.
  if (!owner || owner === process.ppid) await stopDetached(stateFile);
  else console.error(`# ${stateFile} belongs to tap pid ${owner}, not this run: left running`);
}
