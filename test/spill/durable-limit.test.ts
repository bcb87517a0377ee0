/**
 * A bad last frame is a torn write only when it was never acknowledged: the host table's durable limit (the first
 * seq its writer had not fsynced and answered) tells a crash mid-append from damage to acknowledged frames, which
 * is quarantined and reported with the seqs lost instead of being cut silently.
 */
import * as fs from 'node:fs';
import t from 'tap';
import { open, payload, prng, readAll, segFiles, tmpDir } from './helpers.js';

/** A log of 5 records in one segment; returns its directory and the last segment file. */
function fixture(): { dir: string; file: string } {
  const dir = tmpDir('durable-limit');
  const rand = prng(11);
  const log = open(dir, { segmentBytes: 1 << 20 });
  for (let i = 0; i < 5; i++) log.append([payload(`r${i + 1}`, rand, 200)], [1]);
  log.close();
  return { dir, file: segFiles(dir).at(-1)! };
}

/** Flips a byte inside the last frame's payload (its length intact: a CRC failure, not a short write). */
function corruptLastFrame(file: string): void {
  const b = fs.readFileSync(file);
  b[b.length - 10] = b[b.length - 10]! ^ 0xff;
  fs.writeFileSync(file, b);
}

t.test('a corrupt last frame below the durable limit: acknowledged and lost, quarantined, reported', async (t) => {
  const { dir, file } = fixture();
  corruptLastFrame(file);
  const log = open(dir, { durableLimit: 6 }); // seqs 1–5 were durable and answered
  const r = log.recovery;
  t.equal(r.truncatedAcknowledged, 'yes');
  t.same(r.lostRanges, [{ from: 5, to: 5 }], 'seq 5 is named lost');
  t.equal(r.acknowledgedLost, 1);
  t.equal(r.quarantined.length, 1, 'the evidence is kept');
  t.same(readAll(log).map((x) => x.seq), [1, 2, 3, 4], 'the good frames stay');
  log.close();
});

t.test('the same bytes past the durable limit: a crash mid-append, truncated, nothing acknowledged lost', async (t) => {
  const { dir, file } = fixture();
  corruptLastFrame(file);
  const log = open(dir, { durableLimit: 5 }); // seq 5 was being written, never answered
  const r = log.recovery;
  t.equal(r.truncatedAcknowledged, 'no');
  t.same(r.lostRanges, []);
  t.equal(r.acknowledgedLost, 0);
  t.same(r.quarantined, []);
  t.ok(r.truncatedBytes > 0);
  log.close();
});

t.test('a torn tail (short write) below the limit is damage too; without a limit it is not known', async (t) => {
  const a = fixture();
  fs.truncateSync(a.file, fs.statSync(a.file).size - 7);
  const torn = open(a.dir, { durableLimit: 6 });
  t.equal(torn.recovery.truncatedReason, 'torn');
  t.equal(torn.recovery.truncatedAcknowledged, 'yes', 'fsynced and answered, then cut: the disk lost it');
  t.equal(torn.recovery.acknowledgedLost, 1);
  torn.close();
  const b = fixture();
  corruptLastFrame(b.file);
  const unknown = open(b.dir);
  t.equal(unknown.recovery.truncatedAcknowledged, 'unknown', 'no durable limit recorded: not claimed either way');
  t.same(unknown.recovery.lostRanges, []);
  unknown.close();
});
