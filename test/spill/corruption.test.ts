/**
 * Failure path 2: damage inside a sealed segment (bit rot, a bad sector, a foreign
 * write). Recovery must quarantine the evidence, report the exact missing seqs, keep
 * every valid record on both sides of the damage and never throw.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { checkFrame } from '../../src/spill/frame.js';
import { open, payload, prng, readAll, segFiles, tmpDir } from './helpers.js';

const SEG = 1200;

function build(tag: string, n = 30): { dir: string; payloads: Buffer[] } {
  const dir = tmpDir(tag);
  const rand = prng(11);
  const log = open(dir, { segmentBytes: SEG });
  const payloads: Buffer[] = [];
  for (let i = 0; i < n; i++) {
    const p = payload(`r${i + 1}`, rand, 60 + (i % 5) * 40);
    payloads.push(p);
    log.append([p], [2]);
  }
  log.close();
  return { dir, payloads };
}

/** seq of the frame covering byte `at` of a segment file. */
function seqAt(file: string, at: number): number {
  const b = fs.readFileSync(file);
  let off = 0;
  for (;;) {
    const c = checkFrame(b, off, b.length);
    if (c.kind !== 'ok') throw new Error('fixture damaged');
    if (at < off + c.frameBytes) return c.seq;
    off += c.frameBytes;
  }
}

t.test('one flipped bit at EVERY byte of a sealed segment: only that record is lost', async (t) => {
  const src = build('flip-src');
  const files = segFiles(src.dir);
  t.ok(files.length >= 3, `${files.length} segments`);
  const victim = files[1]!; // sealed, with segments before and after it
  const orig = fs.readFileSync(victim);
  let bad = 0;
  for (let at = 0; at < orig.length; at++) {
    const dir = tmpDir('flip');
    for (const f of files) fs.copyFileSync(f, path.join(dir, path.basename(f)));
    const b = Buffer.from(orig);
    b[at]! ^= 1 << (at % 8);
    fs.writeFileSync(path.join(dir, path.basename(victim)), b);
    const lost = seqAt(victim, at);
    const log = open(dir, { segmentBytes: SEG });
    const got = readAll(log);
    const want = src.payloads.map((p, i) => ({ seq: i + 1, p })).filter((x) => x.seq !== lost);
    const r = log.recovery;
    const ok =
      got.length === want.length &&
      got.every((g, i) => g.seq === want[i]!.seq && g.payload.equals(want[i]!.p)) &&
      r.quarantined.length === 1 &&
      fs.existsSync(r.quarantined[0]!) &&
      fs.readFileSync(r.quarantined[0]!).equals(b) &&
      JSON.stringify(r.lostRanges) === JSON.stringify([{ from: lost, to: lost }]) &&
      log.stats().events === want.length * 2;
    if (!ok) {
      bad++;
      t.fail(`flip at byte ${at} (seq ${lost}): got ${got.map((g) => g.seq).join(',')} report ${JSON.stringify(r)}`);
    }
    log.close();
    // Recovery is idempotent: a second open finds a clean log.
    const again = open(dir, { segmentBytes: SEG });
    if (again.recovery.quarantined.length !== 0 || readAll(again).length !== want.length) {
      bad++;
      t.fail(`flip at byte ${at}: second open not clean`);
    }
    again.close();
    fs.rmSync(dir, { recursive: true });
    if (bad > 5) break;
  }
  t.equal(bad, 0, `all ${orig.length} single-bit flips recovered exactly`);
});

t.test('a smashed run of bytes across records: both valid sides survive', async (t) => {
  const src = build('smash');
  const files = segFiles(src.dir);
  const victim = files[0]!;
  const b = fs.readFileSync(victim);
  const from = Math.floor(b.length / 3);
  b.fill(0xee, from, from + Math.floor(b.length / 3));
  fs.writeFileSync(victim, b);
  const log = open(src.dir, { segmentBytes: SEG });
  const got = readAll(log).map((r) => r.seq);
  const r = log.recovery;
  t.equal(r.quarantined.length, 1);
  t.ok(r.salvagedRecords > 0, 'records after the damage were salvaged');
  const lost = r.lostRanges.flatMap((x) => Array.from({ length: x.to - x.from + 1 }, (_, i) => x.from + i));
  t.same([...got, ...lost].sort((a, b) => a - b), src.payloads.map((_, i) => i + 1), 'every seq is either read or reported lost');
  t.ok(got.includes(src.payloads.length), 'later segments still readable');
  log.close();
});

t.test('a sealed segment with nothing valid is moved to quarantine whole', async (t) => {
  const src = build('whole');
  const files = segFiles(src.dir);
  const victim = files[1]!;
  const first = Number(path.basename(victim).slice(0, 16));
  const next = Number(path.basename(files[2]!).slice(0, 16));
  fs.writeFileSync(victim, Buffer.alloc(fs.statSync(victim).size, 0));
  const log = open(src.dir, { segmentBytes: SEG });
  t.same(log.recovery.lostRanges, [{ from: first, to: next - 1 }]);
  t.notOk(fs.existsSync(victim), 'moved, not copied');
  t.equal(log.recovery.quarantined.length, 1);
  t.equal(readAll(log).length, src.payloads.length - (next - first));
  t.ok(log.stats().quarantineBytes > 0, 'quarantine counts against the cap');
  log.close();
});

t.test('mid-file damage in the ACTIVE segment: later valid records are salvaged, reported', async (t) => {
  const src = build('active-mid', 12);
  const files = segFiles(src.dir);
  const active = files[files.length - 1]!;
  const b = fs.readFileSync(active);
  const c = checkFrame(b, 0, b.length);
  if (c.kind !== 'ok') throw new Error('fixture');
  b[5]! ^= 0x01; // len of the first record of the active segment
  fs.writeFileSync(active, b);
  const log = open(src.dir, { segmentBytes: SEG });
  t.same(log.recovery.lostRanges, [{ from: c.seq, to: c.seq }]);
  t.equal(log.recovery.quarantined.length, 1);
  t.equal(readAll(log).length, src.payloads.length - 1);
  const next = log.append([Buffer.from('after')]);
  t.equal(next.firstSeq, src.payloads.length + 1, 'appends continue after the salvaged tail');
  log.close();
  const again = open(src.dir, { segmentBytes: SEG });
  t.equal(readAll(again).pop()!.payload.toString(), 'after');
  again.close();
});

t.test('a corrupt checkpoint means redelivery of everything on disk, never loss', async (t) => {
  const src = build('cp');
  const log = open(src.dir, { segmentBytes: SEG });
  log.ack(5);
  log.close();
  fs.writeFileSync(path.join(src.dir, 'checkpoint'), Buffer.from('garbage!garbage!'));
  const again = open(src.dir, { segmentBytes: SEG });
  t.equal(again.recovery.checkpoint, 'corrupt');
  const got = readAll(again).map((r) => r.seq);
  t.ok(got[0]! <= 6, 'nothing unacked is skipped');
  t.equal(got[got.length - 1], src.payloads.length);
  again.close();
});
