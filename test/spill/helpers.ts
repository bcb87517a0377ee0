/** Shared fixtures for the spill log tests. */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { SpillLog, type SpillLogOptions, type SpillRecord } from '../../src/spill/index.js';

const made: string[] = [];
process.on('exit', () => {
  if (process.env.SPILL_KEEP_DIRS) return;
  for (const d of made) fs.rmSync(d, { recursive: true, force: true });
});

/** A fresh directory, removed when the test process exits (keep with SPILL_KEEP_DIRS=1). */
export function tmpDir(tag: string): string {
  const d = fs.mkdtempSync(path.join(os.tmpdir(), `spill-${tag}-`));
  made.push(d);
  return d;
}

/** mulberry32: small, fast, seedable, good enough to drive a model test. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function int(rand: () => number, lo: number, hi: number): number {
  return lo + Math.floor(rand() * (hi - lo + 1));
}

/** A payload that says which record it is, half compressible text, half noise. */
export function payload(tag: string, rand: () => number, size = int(rand, 0, 600)): Buffer {
  const head = Buffer.from(`${tag}|`);
  const body = Buffer.alloc(size);
  const noisy = rand() < 0.3;
  for (let i = 0; i < size; i++) body[i] = noisy ? Math.floor(rand() * 256) : 97 + (i % 7);
  return Buffer.concat([head, body]);
}

/** Every unacked record, following read()'s own cursor contract. */
export function readAll(log: SpillLog, batch = 7): SpillRecord[] {
  const out: SpillRecord[] = [];
  let from = 0;
  for (;;) {
    const got = log.read(from, batch);
    if (got.length === 0) return out;
    out.push(...got);
    from = got[got.length - 1]!.seq + 1;
  }
}

export function open(dir: string, extra: Partial<SpillLogOptions> = {}): SpillLog {
  return SpillLog.open({ dir, maxBytes: 64 * 1024 * 1024, fsync: false, ...extra });
}

export function segFiles(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => n.endsWith('.seg')).sort().map((n) => path.join(dir, n));
}
