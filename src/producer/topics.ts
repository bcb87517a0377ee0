/**
 * The topics the collector will write (KAFKA_TOPIC, DLQ_TOPIC and every route) must exist: a typo in
 * TOPIC_ROUTES would otherwise show only as records failing (spilled, then replayed for ever). Asked
 * once at start with a metadata request from a short-lived client (the batch producer has no
 * metadata call of its own); null when Kafka cannot be asked.
 */
import Kafka from 'node-rdkafka';
import type { Config } from '../config/schema.js';
import { producerSettings } from './settings.js';

export async function missingTopics(config: Readonly<Config>, topics: readonly string[], timeoutMs = 10_000): Promise<string[] | null> {
  const { global } = producerSettings(config);
  const client = new Kafka.Producer({ ...global, dr_cb: false, 'client.id': `${config.KAFKA_CLIENT_ID}-topic-check` });
  try {
    await new Promise<void>((resolve, reject) => client.connect({ timeout: timeoutMs }, (err) => (err ? reject(err) : resolve())));
    const md = await new Promise<Kafka.Metadata>((resolve, reject) => client.getMetadata({ timeout: timeoutMs }, (err, m) => (err ? reject(err) : resolve(m))));
    const have = new Set(md.topics.map((t) => t.name));
    return topics.filter((t) => !have.has(t));
  } catch {
    return null;
  } finally {
    await new Promise((r) => client.disconnect(5_000, r));
  }
}
