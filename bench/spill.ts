/**
 * Micro-benchmark of the disk spill log: append throughput with real fsync (group
 * commit: one fdatasync per append call), bytes on disk per event, replay speed.
 * Payload = one collector batch: 100 JSON learner events of ~350 bytes.
 * Run: node dist/bench/spill.js [secondsPerCase=3]   (SPILL_BENCH_DIR picks the disk)
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as zlib from 'node:zlib';
import { SpillLog } from '../src/spill/index.js';

const SECONDS = Number(process.argv[2] ?? 3);
const EVENTS_PER_PAYLOAD = 100;
const base = process.env.SPILL_BENCH_DIR ?? os.tmpdir();

const verbs = ['viewed', 'answered', 'completed', 'attempted', 'passed', 'failed', 'paused', 'seeked'];
let rng = 12345;
const rnd = (n: number): number => {
  rng = (rng * 1103515245 + 12345) & 0x7fffffff;
  return rng % n;
};
const hex = (n: number): string => Array.from({ length: n }, () => '0123456789abcdef'[rnd(16)]).join('');

function event(i: number): Record<string, unknown> {
  return {
    event_id: `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`,
    learner_id: `u_${100000 + rnd(900000)}`,
    verb: verbs[rnd(verbs.length)],
    object: { type: 'activity', id: `https://lms.example.edu/courses/c${rnd(500)}/modules/m${rnd(40)}/items/${rnd(10000)}` },
    result: { score: rnd(101) / 100, duration_ms: rnd(600000), success: rnd(2) === 1 },
    context: { session_id: hex(16), platform: rnd(2) ? 'web' : 'ios', app_version: `5.${rnd(20)}.${rnd(10)}` },
    timestamp: new Date(1718000000000 + i * 1371 + rnd(1000)).toISOString(),
  };
}

function makePayload(k: number): Buffer {
  const evs = Array.from({ length: EVENTS_PER_PAYLOAD }, (_, i) => event(k * EVENTS_PER_PAYLOAD + i));
  return Buffer.from(JSON.stringify(evs));
}

const payloads = Array.from({ length: 64 }, (_, k) => makePayload(k));
const avgPayload = payloads.reduce((a, p) => a + p.length, 0) / payloads.length;

function codecs(): void {
  console.log(`payload: ${EVENTS_PER_PAYLOAD} events, ${avgPayload.toFixed(0)} B (${(avgPayload / EVENTS_PER_PAYLOAD).toFixed(0)} B/event)`);
  const cases: [string, (b: Buffer) => Buffer][] = [
    ['deflateRaw level 1', (b) => zlib.deflateRawSync(b, { level: 1 })],
    ['deflateRaw level 6', (b) => zlib.deflateRawSync(b, { level: 6 })],
    ['gzip level 1', (b) => zlib.gzipSync(b, { level: 1 })],
  ];
  for (const [name, fn] of cases) {
    let out = 0;
    let n = 0;
    const t0 = performance.now();
    while (performance.now() - t0 < 1000) {
      out += fn(payloads[n % payloads.length]!).length;
      n++;
    }
    const ms = performance.now() - t0;
    console.log(`  ${name.padEnd(20)} ratio ${(out / (n * avgPayload)).toFixed(3)}  ${((n * avgPayload) / 1e6 / (ms / 1000)).toFixed(0)} MB/s in, ${(ms / n).toFixed(3)} ms/payload`);
  }
}

function appendCase(batch: number, compress: boolean, fsync: boolean): void {
  const dir = fs.mkdtempSync(path.join(base, 'spill-bench-'));
  const log = SpillLog.open({ dir, maxBytes: 8 * 1024 ** 3, compress, fsync });
  const counts = new Array<number>(batch).fill(EVENTS_PER_PAYLOAD);
  let calls = 0;
  let raw = 0;
  const lat: number[] = [];
  const t0 = performance.now();
  while (performance.now() - t0 < SECONDS * 1000) {
    const b = Array.from({ length: batch }, (_, k) => payloads[(calls * batch + k) % payloads.length]!);
    const s = performance.now();
    log.append(b, counts);
    lat.push(performance.now() - s);
    raw += b.reduce((a, p) => a + p.length, 0);
    calls++;
  }
  const secs = (performance.now() - t0) / 1000;
  const st = log.stats();
  lat.sort((a, b) => a - b);
  const pct = (q: number): string => lat[Math.min(lat.length - 1, Math.floor(q * lat.length))]!.toFixed(2);
  console.log(
    `  batch=${String(batch).padStart(2)} compress=${compress ? 'on ' : 'off'} fsync=${fsync ? 'on ' : 'off'}  ` +
      `${Math.round(st.events / secs).toLocaleString('en').padStart(10)} events/s  ${(raw / 1e6 / secs).toFixed(1).padStart(6)} MB/s raw  ` +
      `${(st.bytes / st.events).toFixed(1).padStart(6)} B/event on disk  append p50 ${pct(0.5)} ms p99 ${pct(0.99)} ms  (${calls} appends)`,
  );
  // Replay: what the drain to Kafka pays per record.
  const r0 = performance.now();
  let from = 0;
  let n = 0;
  for (;;) {
    const got = log.read(from, 64);
    if (got.length === 0) break;
    n += got.length;
    from = got[got.length - 1]!.seq + 1;
  }
  const rs = (performance.now() - r0) / 1000;
  if (batch === 16) console.log(`      replay: ${Math.round((n * EVENTS_PER_PAYLOAD) / rs).toLocaleString('en')} events/s (${n} records in ${rs.toFixed(2)} s)`);
  log.close();
  const o0 = performance.now();
  const again = SpillLog.open({ dir, maxBytes: 8 * 1024 ** 3, compress, fsync });
  if (batch === 16) console.log(`      reopen+recovery of ${(st.bytes / 1e6).toFixed(0)} MB: ${(performance.now() - o0).toFixed(0)} ms`);
  again.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

console.log(`spill bench on ${base}, node ${process.version}, ${os.cpus().length} cpus, ${SECONDS}s per case`);
codecs();
console.log('append (fsync on = one fdatasync per append call):');
for (const batch of [1, 4, 16]) appendCase(batch, true, true);
appendCase(16, false, true);
appendCase(16, true, false);
