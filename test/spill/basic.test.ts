import * as fs from 'node:fs';
import t from 'tap';
import { isSpillError, SpillLog } from '../../src/spill/index.js';
import { checkFrame, encodeBatch, HEADER_BYTES } from '../../src/spill/frame.js';
import { open, readAll, segFiles, tmpDir } from './helpers.js';

t.test('frame: a byte change anywhere in a frame is caught', async (t) => {
  const p = Buffer.from('{"verb":"answered","score":0.75}'.repeat(8));
  const { buf } = encodeBatch([p], 42, [9], true);
  const ok = checkFrame(buf, 0, buf.length);
  t.match(ok, { kind: 'ok', seq: 42, events: 9, rawLen: p.length });
  t.ok(buf.length < HEADER_BYTES + p.length, 'compressed');
  let caught = 0;
  for (let i = 0; i < buf.length; i++) {
    for (let bit = 0; bit < 8; bit++) {
      const b = Buffer.from(buf);
      b[i]! ^= 1 << bit;
      if (checkFrame(b, 0, b.length).kind !== 'ok') caught++;
    }
  }
  t.equal(caught, buf.length * 8, 'every single-bit flip is detected');
});

t.test('frame: seqs up to 2^53-1 round-trip', async (t) => {
  const seq = Number.MAX_SAFE_INTEGER - 1;
  const { buf } = encodeBatch([Buffer.from('a'), Buffer.from('b')], seq, [1, 1], false);
  t.match(checkFrame(buf, 0, buf.length), { kind: 'ok', seq });
  t.match(checkFrame(buf, HEADER_BYTES + 1, buf.length), { kind: 'ok', seq: seq + 1 });
});

t.test('append/read/ack round trip, across segments and reopen', async (t) => {
  const dir = tmpDir('basic');
  const log = open(dir, { segmentBytes: 512 });
  const payloads = Array.from({ length: 50 }, (_, i) => Buffer.from(`event-${i}-`.repeat(i % 13)));
  const r1 = log.append(payloads.slice(0, 20), Array.from({ length: 20 }, (_, i) => i));
  t.same(r1, { firstSeq: 1, lastSeq: 20 });
  const r2 = log.append(payloads.slice(20, 22));
  t.same(r2, { firstSeq: 21, lastSeq: 22 });
  for (const p of payloads.slice(22)) log.append([p]);
  t.ok(segFiles(dir).length > 2, 'rolled (a whole batch always lands in one segment)');
  const all = readAll(log);
  t.same(all.map((r) => r.seq), Array.from({ length: 50 }, (_, i) => i + 1));
  t.ok(all.every((r, i) => r.payload.equals(payloads[i]!)), 'payloads byte-exact');
  t.same(all.slice(0, 20).map((r) => r.events), Array.from({ length: 20 }, (_, i) => i));
  t.equal(all[30]!.events, 1, 'default event count is 1');
  t.ok(fs.statSync(segFiles(dir)[0]!).size > 512, 'an oversized batch is not split');
  t.equal(log.stats().events, 190 + 30);

  t.same(log.read(45, 100).map((r) => r.seq), [45, 46, 47, 48, 49, 50], 'read from the middle');
  t.same(log.read(51, 10), [], 'nothing past the end');
  t.same(log.read(1, 0), [], 'maxRecords 0');
  const sizes = log.read(21, 100, 1).map((r) => r.seq);
  t.same(sizes, [21], 'maxBytes below one record still yields one record (progress)');

  const before = segFiles(dir).length;
  log.ack(30);
  t.equal(log.stats().ackedSeq, 30);
  t.equal(log.read(1, 1)[0]!.seq, 31, 'acked records are not read again');
  t.ok(segFiles(dir).length < before, 'fully acked segments deleted');
  t.equal(log.stats().records, 20);
  t.equal(log.stats().events, 20);
  log.ack(10); // below the checkpoint: a no-op
  t.throws(() => log.ack(51), { code: 'COLLECTOR_ERR_SPILL_INVALID_ARG' }, 'cannot ack the future');
  log.close();

  const again = open(dir, { segmentBytes: 512 });
  t.same(again.recovery.quarantined, []);
  t.equal(again.recovery.records, 20);
  t.equal(again.recovery.events, 20);
  t.same(readAll(again).map((r) => r.seq), Array.from({ length: 20 }, (_, i) => i + 31));
  t.same(again.append([Buffer.from('next')]), { firstSeq: 51, lastSeq: 51 });
  again.ack(51);
  t.equal(again.stats().segments, 0, 'everything acked: no segment left');
  again.close();
  const third = open(dir);
  t.equal(third.stats().nextSeq, 52, 'seqs are not reused after a full drain');
  t.throws(() => third.append([Buffer.from('x')], [1, 2]), { code: 'COLLECTOR_ERR_SPILL_INVALID_ARG' });
  t.same(third.append([]), { firstSeq: 52, lastSeq: 51 }, 'empty append is a no-op');
  third.close();
  t.throws(() => third.read(0, 1), { code: 'COLLECTOR_ERR_SPILL_CLOSED' });
});

t.test('compress: false stores raw, incompressible payloads stay raw', async (t) => {
  const dir = tmpDir('raw');
  const log = open(dir, { compress: false });
  const p = Buffer.alloc(1000, 'a');
  log.append([p]);
  t.equal(log.stats().segments, 1);
  t.equal(fs.statSync(segFiles(dir)[0]!).size, HEADER_BYTES + 1000);
  t.ok(log.read(1, 1)[0]!.payload.equals(p));
  log.close();
  const z = open(tmpDir('z'));
  z.append([p]);
  t.ok(z.stats().bytes < 500, 'compressed by default');
  z.close();
});

t.test('a read that meets rot after open throws CORRUPT; reopen recovers around it', async (t) => {
  const dir = tmpDir('rot');
  const log = open(dir);
  log.append([Buffer.from('one'), Buffer.from('two'), Buffer.from('three')]);
  const file = segFiles(dir)[0]!;
  const b = fs.readFileSync(file);
  b[HEADER_BYTES + 3 + HEADER_BYTES]! ^= 0xff; // payload of record 2
  fs.writeFileSync(file, b);
  t.same(log.read(1, 1).map((r) => r.payload.toString()), ['one']);
  try {
    log.read(2, 1);
    t.fail('should throw');
  } catch (err) {
    t.ok(isSpillError(err, 'COLLECTOR_ERR_SPILL_CORRUPT'));
  }
  log.close();
  const again = SpillLog.open({ dir, maxBytes: 1 << 20, fsync: false });
  t.same(readAll(again).map((r) => r.payload.toString()), ['one', 'three']);
  t.same(again.recovery.lostRanges, [{ from: 2, to: 2 }]);
  t.equal(again.recovery.quarantined.length, 1);
  again.close();
});

t.test('a long backlog does not pin one descriptor per segment', async (t) => {
  const dir = tmpDir('fds');
  const log = open(dir, { segmentBytes: 64, compress: false });
  for (let i = 0; i < 200; i++) log.append([Buffer.alloc(100, i)]);
  t.ok(segFiles(dir).length >= 200);
  t.equal(readAll(log, 3).length, 200);
  const held = fs.readdirSync('/proc/self/fd').filter((fd) => {
    try {
      return fs.readlinkSync(`/proc/self/fd/${fd}`).startsWith(dir);
    } catch {
      return false;
    }
  });
  t.ok(held.length <= 3, `${held.length} descriptors into the log dir`);
  log.close();
});

t.test('open creates missing parent directories (durably, with fsync on)', async (t) => {
  const dir = `${tmpDir('nested')}/a/b/instance-1`;
  const log = SpillLog.open({ dir, maxBytes: 1 << 20 });
  log.append([Buffer.from('x')]);
  log.close();
  t.ok(fs.existsSync(`${dir}/LOCK`) === false && segFiles(dir).length === 1);
});
