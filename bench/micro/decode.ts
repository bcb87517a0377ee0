/**
 * Micro-benchmark of the collect path's CPU-bound pieces, in one thread, no I/O:
 *  - decodeBatch (src/codec/decode.ts: gunzip, UTF-8, JSON.parse, validation, packing)
 *    on a 100-event batch, plain and gzip: events/s and input MB/s;
 *  - decodeBatch on a 100-event batch with payload schemas off (none loaded) and on (the shipped
 *    examples, all five types), alternated off/on/off/on so drift on a shared box shows;
 *  - decodeBatch with the C envelope validator (CODEC_NATIVE_ENVELOPE) off and on, alternated,
 *    on 100-event plain and gzip batches, a 1000-event batch, and with payload schemas on;
 *  - gunzip of a 1000-event batch with node:zlib vs fflate (a devDependency): MB/s of
 *    output, which is what decides whether fflate earns its place.
 * Run: npm run build && node dist/bench/micro/decode.js [secondsPerCase=2]
 */
import { gunzipSync as fflateGunzip } from 'fflate';
import { gunzipSync, gzipSync } from 'node:zlib';
import { loadConfig } from '../../src/config/load.js';
import { decodeBatch } from '../../src/codec/decode.js';
import { syntheticBatch } from '../../src/pipeline/synthetic.js';
import { PayloadValidators } from '../../src/codec/payload.js';
import { loadFolder } from '../../src/schema/payload/folder.js';
import { EMPTY_SNAPSHOT } from '../../src/schema/payload/types.js';
import { repoRoot } from '../../kafka/paths.js';
import { join } from 'node:path';

const SECONDS = Number(process.argv[2] ?? 2);
const config = loadConfig({});
const limits = { maxDecodedBytes: config.MAX_DECODED_BYTES, maxEvents: config.MAX_EVENTS_PER_BATCH, maxEventBytes: config.MAX_EVENT_BYTES };

/**
 * CPU time of the process per call in the last rate(), in µs: on a shared, loaded box wall time
 * counts the time this process waited for a core; CPU time mostly does not.
 */
let lastCpuUs = 0;
const cpu = () => lastCpuUs.toFixed(1);

/** Runs fn for SECONDS (after a quarter of that as JIT warm-up); returns calls per second. */
function rate(fn: () => void): number {
  const spin = (ms: number) => {
    let n = 0;
    const end = performance.now() + ms;
    // Check the clock every 16 calls: performance.now() is not free at ~µs per call.
    while (performance.now() < end) for (let i = 0; i < 16; i++, n++) fn();
    return n;
  };
  spin(SECONDS * 250);
  const t = performance.now();
  const c = process.cpuUsage();
  const n = spin(SECONDS * 1000);
  const used = process.cpuUsage(c);
  lastCpuUs = (used.user + used.system) / n;
  return n / ((performance.now() - t) / 1000);
}

const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
const mb = (bytesPerS: number) => (bytesPerS / 1e6).toFixed(1);
const rows: string[][] = [];

// --- decodeBatch, 100 events ---
const json100 = Buffer.from(JSON.stringify(syntheticBatch(100)));
const gz100 = gzipSync(json100);
for (const [name, body, gzip] of [['decodeBatch 100 plain', json100, false], ['decodeBatch 100 gzip', gz100, true]] as const) {
  const probe = decodeBatch({ body, gzip, receivedAt: Date.now(), instance: 'micro', limits });
  if (!probe.ok || probe.batch.accepted.count !== 100) throw new Error(`${name}: the batch does not decode cleanly`);
  const r = rate(() => decodeBatch({ body, gzip, receivedAt: Date.now(), instance: 'micro', limits }));
  rows.push([name, fmt(r * 100), fmt(r), mb(r * body.length), mb(r * json100.length), `${body.length} B in`, cpu()]);
}

// --- payload schemas off vs on, 100 events ---
const shipped = loadFolder(join(repoRoot(), 'schemas'), 'BACKWARD');
if (shipped.problems.length || shipped.types.length !== 5) throw new Error(`shipped schemas: ${JSON.stringify(shipped.problems)}`);
const payloads = {
  off: new PayloadValidators(EMPTY_SNAPSHOT),
  on: new PayloadValidators({ ...EMPTY_SNAPSHOT, generation: 1, source: 'folder', types: shipped.types }),
};
for (const round of [1, 2]) {
  for (const which of ['off', 'on'] as const) {
    const payload = payloads[which];
    const probe = decodeBatch({ body: json100, gzip: false, receivedAt: Date.now(), instance: 'micro', limits, payload });
    if (!probe.ok || probe.batch.accepted.count !== 100) throw new Error(`schemas ${which}: the batch does not decode cleanly`);
    const r = rate(() => decodeBatch({ body: json100, gzip: false, receivedAt: Date.now(), instance: 'micro', limits, payload }));
    rows.push([`decodeBatch 100, schemas ${which} (${round})`, fmt(r * 100), fmt(r), mb(r * json100.length), mb(r * json100.length), `${json100.length} B in`, cpu()]);
  }
}

// --- the C envelope validator off vs on, alternated so drift on a shared box shows ---
const limitsC = { ...limits, nativeEnvelope: true };
const json1000e = Buffer.from(JSON.stringify(syntheticBatch(1000)));
const envelopeCases = [
  ['100 plain', json100, false, undefined, 100],
  ['100 gzip', gz100, true, undefined, 100],
  ['1000 plain', json1000e, false, undefined, 1000],
  ['100 schemas on', json100, false, payloads.on, 100],
] as const;
for (const round of [1, 2]) {
  for (const [name, body, gzip, payload, n] of envelopeCases) {
    for (const [mode, l] of [['off', limits], ['on', limitsC]] as const) {
      const probe = decodeBatch({ body, gzip, receivedAt: Date.now(), instance: 'micro', limits: l, payload });
      if (!probe.ok || probe.batch.accepted.count !== n) throw new Error(`envelope ${mode} ${name}: the batch does not decode cleanly`);
      const r = rate(() => decodeBatch({ body, gzip, receivedAt: Date.now(), instance: 'micro', limits: l, payload }));
      rows.push([`decodeBatch ${name}, C envelope ${mode} (${round})`, fmt(r * n), fmt(r), mb(r * body.length), mb(r * (gzip ? json100.length : body.length)), `${body.length} B in`, cpu()]);
    }
  }
}

// --- gunzip, 1000 events ---
const json1000 = Buffer.from(JSON.stringify(syntheticBatch(1000)));
const gz1000 = gzipSync(json1000);
if (!Buffer.from(fflateGunzip(gz1000)).equals(json1000) || !gunzipSync(gz1000).equals(json1000)) throw new Error('gunzip mismatch');
for (const [name, fn] of [
  ['gunzip 1000 node:zlib', () => gunzipSync(gz1000, { maxOutputLength: limits.maxDecodedBytes })],
  ['gunzip 1000 fflate', () => fflateGunzip(gz1000)],
] as const) {
  const r = rate(fn);
  rows.push([name, fmt(r * 1000), fmt(r), mb(r * gz1000.length), mb(r * json1000.length), `${gz1000.length} B in, ${json1000.length} B out`, cpu()]);
}

const head = ['case', 'events/s', 'calls/s', 'MB/s in', 'MB/s out', 'sizes', 'CPU µs/call'];
const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
const line = (r: string[]) => r.map((c, i) => (i === 0 || i === 5 ? c.padEnd(w[i]!) : c.padStart(w[i]!))).join('  ');
console.log(`node ${process.version}, ${SECONDS} s per case, one thread (MB = 10^6 bytes)`);
console.log([line(head), w.map((n) => '-'.repeat(n)).join('  '), ...rows.map(line)].join('\n'));
