/**
 * Replay markers: one record per replayed dead letter, keyed by where the dead letter sits
 * (topic:partition:offset), in a compacted topic beside the DLQ. A replay writes each event and its
 * marker in one Kafka transaction, so a marker exists exactly when its event was written: a second
 * run skips what has a marker, and a run killed half-way leaves an open transaction that the next
 * run's initTransactions aborts — neither the events nor the markers of it are ever read (consumers
 * of the events topic read_committed: librdkafka's default; the Java client's default is
 * read_uncommitted, say isolation.level=read_committed there).
 */
import Kafka from 'node-rdkafka';
import { TopicReader } from './reader.js';

const TOPIC_ALREADY_EXISTS = 36;

/** Creates the marker topic if it is missing (compacted: a marker is kept as long as the topic lives). */
export async function ensureMarkerTopic(bootstrap: string, topic: string, extra: Record<string, unknown>): Promise<'created' | 'exists'> {
  const admin = Kafka.AdminClient.create({ ...(extra as Kafka.GlobalConfig), 'bootstrap.servers': bootstrap });
  try {
    return await new Promise((resolve, reject) =>
      admin.createTopic(
        // -1: the broker's default.replication.factor, as a production cluster sets it.
        { topic, num_partitions: 1, replication_factor: -1, config: { 'cleanup.policy': 'compact' } },
        30_000,
        (err) => (!err ? resolve('created') : err.code === TOPIC_ALREADY_EXISTS ? resolve('exists') : reject(err)),
      ),
    );
  } finally {
    admin.disconnect();
  }
}

/** The ids of every dead letter replayed so far (committed transactions only). */
export async function readMarkers(bootstrap: string, topic: string, extra: Record<string, unknown>): Promise<Set<string>> {
  const done = new Set<string>();
  // A topic created a moment ago can take a while to show its partition leader in metadata.
  let reader: TopicReader | undefined;
  for (let attempt = 0; ; attempt++) {
    try {
      reader = await TopicReader.open({ bootstrap, topic, extra });
      break;
    } catch (err) {
      if (attempt >= 20 || !/does not exist/.test((err as Error).message)) throw err;
      await new Promise((r) => setTimeout(r, 250));
    }
  }
  try {
    for await (const batch of reader.batches()) for (const m of batch) if (m.key) done.add(m.key);
  } finally {
    await reader.close();
  }
  return done;
}
