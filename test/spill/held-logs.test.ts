/**
 * The logs the spill thread holds, after a write or fsync error on the own log: nothing uses it until it
 * has been reopened, and the request that finds the reopen due is served by the reopened log, not by the
 * closed one it replaced.
 */
import t from 'tap';
import { HeldLogs } from '../../src/spill/index.js';
import { tmpDir } from './helpers.js';

const open = (baseDir: string) =>
  HeldLogs.open({ baseDir, instance: 'held', maxBytes: 16 << 20, segmentBytes: 1 << 20, durableLimit: () => 0 }).held;

/** What an I/O error inside an append or ack does to the own log (a real EIO/ENOSPC is not made here). */
const ioError = (held: HeldLogs) => (held as unknown as { backoff: { failed(): void } }).backoff.failed();

t.test('after an I/O error, the read that reopens the own log reads the reopened one', async (t) => {
  const held = open(tmpDir('held-read'));
  t.teardown(() => held.closeAll());
  const { firstSeq } = held.append([Buffer.from('one'), Buffer.from('two')], [1, 1]);
  ioError(held);
  t.same(held.read('held', firstSeq, 10, 1 << 20), { ok: true, records: [] }, 'before the reopen is due: nothing is read');
  await new Promise((r) => setTimeout(r, 120));
  const got = held.read('held', firstSeq, 10, 1 << 20);
  t.equal(got.ok, true, 'the read that reopens it succeeds');
  t.same(got.ok && got.records.map((r) => Buffer.from(r.payload).toString()), ['one', 'two'], 'with the records from the reopened log');
});

t.test('after an I/O error, the ack that reopens the own log acks the reopened one', async (t) => {
  const held = open(tmpDir('held-ack'));
  t.teardown(() => held.closeAll());
  const { lastSeq } = held.append([Buffer.from('one'), Buffer.from('two')], [1, 1]);
  ioError(held);
  t.throws(() => held.ack('held', lastSeq), /recovering from an I\/O error/, 'before the reopen is due: refused');
  await new Promise((r) => setTimeout(r, 120));
  t.doesNotThrow(() => held.ack('held', lastSeq), 'the ack that reopens it succeeds');
  t.equal(held.sources().find((s) => s.source === 'held')?.records, 0, 'and the log holds nothing any more');
});
