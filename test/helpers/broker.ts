// The Kafka shared by the test run (started by test/setup/broker-up, tap's `before` hook).
// Deliberately does not load node-rdkafka: tests choose their own clients.
import { readFileSync } from 'node:fs';
import { testBrokerStateFile } from '../../kafka/paths.js';

export function sharedBroker(): { bootstrap: string } {
  const file = testBrokerStateFile();
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    throw new Error(`no shared Kafka: ${file} is missing. Run the suite through tap (its before hook ` +
      `dist/test/setup/broker-up.js starts one) or: node dist/kafka/cli.js up --state ${file} --topic events:3 --topic events-dlq:1`);
  }
  const { bootstrap } = JSON.parse(text) as { bootstrap: string };
  return { bootstrap };
}
