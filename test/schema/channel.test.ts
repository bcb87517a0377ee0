/**
 * The schema channel's sequence lock under contention: a worker thread reads while the main
 * thread publishes thousands of sets; every set it reads is whole (never half of one and half
 * of the next) and generations never go backwards.
 */
import t from 'tap';
import { Worker } from 'node:worker_threads';
import { SchemaChannel } from '../../src/schema/payload/channel.js';
import { EMPTY_SNAPSHOT, type SchemaSetSnapshot } from '../../src/schema/payload/types.js';

const set = (generation: number): SchemaSetSnapshot => ({
  ...EMPTY_SNAPSHOT,
  generation,
  source: 'folder',
  // Sizes vary with the generation, so a torn read would also mix lengths.
  types: Array.from({ length: 50 }, (_, i) => ({
    eventType: `t${i}`, compatibility: 'BACKWARD', defaultVersion: generation, pinned: false,
    versions: [{ version: generation, id: null, schema: { type: 'object', description: 'x'.repeat((generation * 7 + i) % 300) } }],
  })),
});

t.test('nothing published: null', async (t) => {
  t.equal(new SchemaChannel().read(), null);
});

t.test('a reader in another thread never sees a torn set', async (t) => {
  const channel = new SchemaChannel();
  channel.publish(set(1));
  const FINAL = 3000;
  const worker = new Worker(new URL('./fixtures/channel-reader.js', import.meta.url), { workerData: { sab: channel.sab, final: FINAL } });
  const messages: unknown[] = [];
  let wake = () => {};
  worker.on('message', (m) => { messages.push(m); wake(); });
  const next = async () => {
    while (messages.length === 0) await new Promise<void>((r) => (wake = r));
    return messages.shift();
  };
  worker.once('error', (err) => t.fail(String(err)));
  t.equal(await next(), 'reading');
  // Publishing yields now and then so the reader runs between sets as well as during them.
  for (let g = 2; g <= FINAL; g++) {
    channel.publish(set(g));
    if (g % 50 === 0) await new Promise((r) => setImmediate(r));
  }
  const r = (await next()) as { reads: number; torn: number; backwards: number; distinct: number; lastGeneration: number };
  await worker.terminate();
  t.comment(`${r.reads} reads, ${r.distinct} distinct generations seen`);
  t.ok(r.reads > 0, `${r.reads} reads`);
  t.equal(r.torn, 0, 'no torn set');
  t.equal(r.backwards, 0, 'generations only move forward');
  t.equal(r.lastGeneration, FINAL, 'the reader ends on the last set');
});

t.test('a set larger than the channel is refused and the previous one stays', async (t) => {
  const channel = new SchemaChannel();
  channel.publish(set(1));
  const huge = set(2);
  huge.types[0]!.versions[0]!.schema = { description: 'x'.repeat(9 * 1024 * 1024) };
  t.throws(() => channel.publish(huge), /at most \d+ fit/);
  t.equal(channel.read()!.snapshot.generation, 1);
});
