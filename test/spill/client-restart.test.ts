/**
 * A spill worker thread that dies is replaced: appends in flight fail (never acknowledged unless durable), later
 * ones settle on the fresh worker, which recovers the log on the same directory; past the restart budget the
 * client gives up loudly (onFatal: the process exits) instead of leaving every later append pending for ever.
 */
import t from 'tap';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { SpillClient, SpillFailure } from '../../src/spill/client.js';

const log = pino({ level: 'silent' });
const payload = (i: number) => Buffer.from(JSON.stringify({ batch: i, pad: 'x'.repeat(200) }));
const within = <T>(p: Promise<T>, ms: number, what: string): Promise<T> =>
  Promise.race([p, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`${what}: not settled within ${ms} ms`)), ms))]);

t.test('appends around a worker crash all settle; what was durable is still there', async (t) => {
  const dir = mkdtempSync(join(os.tmpdir(), 'spill-restart-'));
  const spill = new SpillClient({ baseDir: dir, instance: 'restart-test', maxBytes: 64 << 20, segmentBytes: 1 << 20 }, log);
  t.teardown(async () => {
    await spill.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });
  await spill.ready;
  const durable: number[] = [];
  for (let i = 0; i < 20; i++) durable.push((await spill.append([payload(i)], [1])).lastSeq);

  // Load in flight while the thread dies.
  const inFlight = Array.from({ length: 50 }, (_, i) => spill.append([payload(100 + i)], [1]));
  await spill.killWorkerForTest();
  const outcomes = await within(Promise.allSettled(inFlight), 10_000, 'appends in flight at the crash');
  const failed = outcomes.filter((o) => o.status === 'rejected');
  t.ok(failed.every((o) => o.reason instanceof SpillFailure && o.reason.code === 'COLLECTOR_ERR_SPILL_IO'), `${failed.length} failed with COLLECTOR_ERR_SPILL_IO, ${outcomes.length - failed.length} were durable first`);

  // Later appends settle, on a fresh worker that recovered the log.
  const after = await within(spill.append([payload(999)], [1]), 10_000, 'an append after the crash');
  t.ok(after.lastSeq > durable.at(-1)!, `the log goes on after seq ${durable.at(-1)} (now ${after.lastSeq})`);
  const own = spill.sources[0]!;
  const records = await within(spill.read(own.source, 0, 1000, 64 << 20), 10_000, 'a read after the crash');
  const batches = new Set(records.map((r) => (JSON.parse(Buffer.from(r.payload).toString()) as { batch: number }).batch));
  t.same(Array.from({ length: 20 }, (_, i) => i).filter((i) => !batches.has(i)), [], 'every append confirmed before the crash is in the log');
  t.ok(batches.has(999), 'and the one after it');
  const confirmed = outcomes.flatMap((o, i) => (o.status === 'fulfilled' ? [100 + i] : []));
  t.same(confirmed.filter((i) => !batches.has(i)), [], 'every append confirmed at the crash is in the log too');
});

t.test('a worker that keeps dying: onFatal, and calls fail at once rather than hang', async (t) => {
  const dir = mkdtempSync(join(os.tmpdir(), 'spill-fatal-'));
  const spill = new SpillClient({ baseDir: dir, instance: 'fatal-test', maxBytes: 16 << 20, segmentBytes: 1 << 20 }, log);
  let fatal: Error | null = null;
  spill.onFatal = (err) => (fatal = err);
  t.teardown(async () => {
    await spill.close().catch(() => {});
    rmSync(dir, { recursive: true, force: true });
  });
  await spill.ready;
  for (let i = 0; i < 4 && fatal === null; i++) {
    await within(spill.append([payload(i)], [1]), 10_000, `append ${i}`);
    await spill.killWorkerForTest();
    await new Promise((r) => setTimeout(r, 50));
  }
  t.ok(fatal, 'gave up after the restart budget');
  await t.rejects(within(spill.append([payload(7)], [1]), 10_000, 'append after giving up'), { code: 'COLLECTOR_ERR_SPILL_IO' });
});
