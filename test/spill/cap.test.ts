/** Failure path 5: the disk cap. FULL means nothing of the batch touched the disk. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { isSpillError } from '../../src/spill/index.js';
import { open, payload, prng, readAll, tmpDir } from './helpers.js';

/** Every byte under dir, recursively (what an operator's `du --apparent-size` sees). */
function diskBytes(dir: string): number {
  let n = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    n += e.isDirectory() ? diskBytes(p) : fs.statSync(p).size;
  }
  return n;
}

function snapshot(dir: string): string {
  return fs
    .readdirSync(dir)
    .sort()
    .map((n) => `${n}:${fs.statSync(path.join(dir, n)).size}`)
    .join(',');
}

t.test('FULL is thrown before anything is written; the cap holds for every byte on disk', async (t) => {
  const dir = tmpDir('cap');
  const max = 8 * 1024;
  const log = open(dir, { maxBytes: max, segmentBytes: 1024 });
  const rand = prng(5);
  let fulls = 0;
  let appended = 0;
  for (let i = 0; i < 400; i++) {
    const batch = Array.from({ length: 1 + (i % 4) }, (_, k) => payload(`b${i}.${k}`, rand, 100 + ((i * 37) % 300)));
    const before = snapshot(dir);
    const stats = log.stats();
    try {
      log.append(batch);
      appended += batch.length;
    } catch (err) {
      t.ok(isSpillError(err, 'COLLECTOR_ERR_SPILL_FULL'), 'only FULL');
      fulls++;
      if (snapshot(dir) !== before) t.fail('FULL changed the directory');
      if (JSON.stringify(log.stats()) !== JSON.stringify(stats)) t.fail('FULL changed stats');
      // Drain a little, as the owner would once Kafka is back.
      if (fulls % 3 === 0) log.ack(log.stats().ackedSeq + Math.ceil(log.stats().records / 2));
    }
    const used = diskBytes(dir);
    if (used > max) t.fail(`disk ${used} > cap ${max}`);
    if (log.stats().bytes !== used) t.fail(`stats.bytes ${log.stats().bytes} != disk ${used}`);
    if (log.stats().fillRatio > 1) t.fail('fillRatio > 1');
  }
  t.ok(fulls > 10, `${fulls} FULLs`);
  t.ok(appended > 100, `${appended} records appended`);
  const owed = log.stats().records;
  log.close();
  const again = open(dir, { maxBytes: max, segmentBytes: 1024 });
  t.equal(readAll(again).length, owed, 'a FULL never left a partial record behind');
  t.equal(again.recovery.truncatedBytes, 0);
  again.close();
});

t.test('a batch larger than the whole cap is refused on an empty log', async (t) => {
  const dir = tmpDir('cap-big');
  const log = open(dir, { maxBytes: 4096, compress: false });
  t.throws(() => log.append([Buffer.alloc(5000)]), { code: 'COLLECTOR_ERR_SPILL_FULL' });
  t.equal(log.stats().records, 0);
  t.equal(fs.readdirSync(dir).filter((n) => n.endsWith('.seg')).length, 0, 'no segment was even created');
  log.append([Buffer.alloc(1000)]);
  t.equal(log.stats().records, 1);
  log.close();
});
