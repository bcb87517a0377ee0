/** Topics of one test file, so files running in parallel never read each other's records. */
import { readFileSync } from 'node:fs';
import { LocalBroker, type BrokerState, type TopicSpec } from '../../kafka/broker.js';
import { testBrokerStateFile } from '../../kafka/paths.js';

/** Creates topics on the suite's shared broker and waits for their leaders. */
export async function createTopics(topics: TopicSpec[]): Promise<void> {
  const state = JSON.parse(readFileSync(testBrokerStateFile(), 'utf8')) as BrokerState;
  await LocalBroker.attach(state).createTopics(topics);
}
