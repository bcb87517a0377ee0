/**
 * Failure path 1: a crash can cut the last segment at any byte. Reopening must keep
 * every complete record before the cut, never throw, and leave the log appendable.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import t from 'tap';
import { checkFrame } from '../../src/spill/frame.js';
import { open, payload, prng, readAll, segFiles, tmpDir } from './helpers.js';

const SEG = 400;

/** Frame start offsets of a segment file, plus its size as the final boundary. */
function boundaries(file: string): number[] {
  const b = fs.readFileSync(file);
  const out: number[] = [];
  let off = 0;
  while (off < b.length) {
    out.push(off);
    const c = checkFrame(b, off, b.length);
    if (c.kind !== 'ok') throw new Error('fixture is damaged');
    off += c.frameBytes;
  }
  out.push(b.length);
  return out;
}

function fixture(): { dir: string; sealed: string; active: string; payloads: Buffer[] } {
  const dir = tmpDir('torn-src');
  const rand = prng(7);
  const log = open(dir, { segmentBytes: SEG });
  const payloads: Buffer[] = [];
  for (let i = 0; i < 14; i++) {
    const p = payload(`r${i + 1}`, rand, 120 + i * 10);
    payloads.push(p);
    log.append([p], [i + 1]);
  }
  log.close();
  const files = segFiles(dir);
  if (files.length < 2) throw new Error('fixture needs a sealed and an active segment');
  return { dir, sealed: files[0]!, active: files[files.length - 1]!, payloads };
}

t.test('cut the active segment at EVERY byte offset', async (t) => {
  const src = fixture();
  const bounds = boundaries(src.active);
  const activeBytes = fs.readFileSync(src.active);
  const firstActiveSeq = Number(path.basename(src.active).slice(0, 16));
  const total = src.payloads.length;
  let cases = 0;
  for (let cut = 0; cut < activeBytes.length; cut++) {
    const dir = tmpDir('torn');
    for (const f of segFiles(src.dir)) fs.copyFileSync(f, path.join(dir, path.basename(f)));
    fs.writeFileSync(path.join(dir, path.basename(src.active)), activeBytes.subarray(0, cut));
    const whole = bounds.filter((b) => b <= cut).length - 1; // complete records kept
    const expectLast = firstActiveSeq + whole - 1;
    const boundary = bounds[whole]!;
    const log = open(dir, { segmentBytes: SEG });
    const got = readAll(log);
    const ok =
      got.length === expectLast &&
      got.every((r, i) => r.seq === i + 1 && r.payload.equals(src.payloads[i]!) && r.events === i + 1) &&
      log.recovery.truncatedBytes === cut - boundary &&
      log.recovery.truncatedReason === (cut > boundary ? 'torn' : null) &&
      log.recovery.quarantined.length === 0 &&
      log.stats().nextSeq === expectLast + 1;
    if (!ok) t.fail(`cut at ${cut}: got ${got.length} records, report ${JSON.stringify(log.recovery)}`);
    // The log must be appendable right after a truncation, and the new record must survive.
    const seq = log.append([Buffer.from('after')]).lastSeq;
    log.close();
    const again = open(dir, { segmentBytes: SEG });
    const last = readAll(again).pop();
    if (last?.seq !== seq || last.payload.toString() !== 'after' || again.recovery.truncatedBytes !== 0) {
      t.fail(`cut at ${cut}: append after recovery was not durable`);
    }
    again.close();
    fs.rmSync(dir, { recursive: true });
    cases++;
  }
  t.equal(cases, activeBytes.length, `every one of ${activeBytes.length} offsets reopened without a throw`);
  t.ok(total - firstActiveSeq + 1 >= 3, `the active segment held ${total - firstActiveSeq + 1} records`);
});

t.test('a zero-filled or garbage tail (size grew, data never landed) is truncated', async (t) => {
  for (const fill of ['zeros', 'garbage'] as const) {
    const src = fixture();
    const before = fs.statSync(src.active).size;
    const tail = fill === 'zeros' ? Buffer.alloc(4096) : Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 131 + 7) & 0xff));
    fs.appendFileSync(src.active, tail);
    const log = open(src.dir, { segmentBytes: SEG });
    t.equal(readAll(log).length, src.payloads.length, `${fill}: all records kept`);
    t.equal(log.recovery.truncatedBytes, 4096);
    t.equal(log.recovery.truncatedReason, 'corrupt');
    t.same(log.recovery.quarantined, []);
    log.close();
    t.equal(fs.statSync(src.active).size, before, `${fill}: file cut back to the last good frame`);
  }
});

t.test('a bad crc on the final record of the active segment truncates it and says so', async (t) => {
  const src = fixture();
  const b = fs.readFileSync(src.active);
  b[b.length - 1]! ^= 0x10;
  fs.writeFileSync(src.active, b);
  const log = open(src.dir, { segmentBytes: SEG });
  t.equal(readAll(log).length, src.payloads.length - 1);
  t.equal(log.recovery.truncatedReason, 'corrupt');
  t.ok(log.recovery.truncatedBytes > 0);
  log.close();
});
