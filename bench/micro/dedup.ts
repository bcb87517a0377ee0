/**
 * Micro-benchmark of the cross-process dedup table (native/dedup + src/dedup/table.ts).
 *
 *   node dist/bench/micro/dedup.js [capacity=4194304]
 *
 * The table is first filled to the design point (10 min at 2,000 events/s = 1.2 M live
 * entries) so lookups see a realistic load factor and cache misses. Cases:
 *   single process: claimBatch of fresh ids (all new) and of seen ids (all duplicate), string
 *   UUIDs in batches of 1 / 100 / 1000, packed binary keys, claim + release.
 *   two processes: both claim their own fresh ids at once (the normal case), and both claim
 *   the same ids (every id raced).
 * Ids are generated before timing; each case is one pass over its ids (fresh ids cannot be
 * replayed); the rate is ids per second of claimBatch/release calls.
 */
import { fork } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { unlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as os from 'node:os';
import { DedupTable } from '../../src/dedup/table.js';

const CAPACITY = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 4 * 1024 * 1024);
const FILL = 1_200_000;
const self = fileURLToPath(import.meta.url);

/**
 * n random UUIDs as the collector sees them: flat strings out of JSON.parse. (randomUUID()
 * builds each one as a rope of ~20 concatenations; the first join() over those flattens them,
 * which costs ~10x the join itself and is not what decoded request bodies look like.)
 */
function uuids(n: number): string[] {
  const out = new Array<string>(n);
  for (let i = 0; i < n; i++) out[i] = randomUUID();
  return JSON.parse(JSON.stringify(out)) as string[];
}

/** The i-th UUID of a run (8 hex digits): both processes of the shared case build the same list. */
function uuidsOf(run: string, n: number): string[] {
  const out = new Array<string>(n);
  for (let i = 0; i < n; i++) {
    const h = i.toString(16).padStart(15, '0');
    out[i] = `${run}-${h.slice(0, 4)}-4${h.slice(4, 7)}-8${h.slice(7, 10)}-${h.slice(10)}0000000`;
  }
  return JSON.parse(JSON.stringify(out)) as string[];
}

function chunk<T>(a: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < a.length; i += size) out.push(a.slice(i, i + size));
  return out;
}

/** One pass over the batches; ids per second. */
interface Rate {
  wall: number;
  cpu: number;
}
function timed(batches: (string[] | Uint8Array)[], per: number, op: (b: string[] | Uint8Array) => void): Rate {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  for (const b of batches) op(b);
  const wall = (performance.now() - t0) / 1000;
  const c = process.cpuUsage(c0);
  const n = batches.length * per;
  return { wall: n / wall, cpu: n / ((c.user + c.system) / 1e6) };
}

const fmt = (r: number): string => `${(r / 1e6).toFixed(2)} M/s`;
/** Per wall second and per CPU second of this process (the machine may be shared). */
const fmtR = (r: Rate): string => `${fmt(r.wall)} wall, ${fmt(r.cpu)} per CPU-s`;

async function child(): Promise<void> {
  type Job = { path: string; capacity: number; n: number; shared: string | null; batch: number };
  process.once('message', (job: Job) => {
    const table = DedupTable.open({ path: job.path, capacity: job.capacity });
    const ids = job.shared ? uuidsOf(job.shared, job.n) : uuids(job.n);
    const batches = chunk(ids, job.batch);
    process.send!('ready');
    process.once('message', (go: { startAt: number }) => {
      while (Date.now() < go.startAt) {
        /* spin to a common start */
      }
      let won = 0;
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      for (const b of batches) {
        const r = table.claimBatch(b);
        for (let i = 0; i < r.length; i++) won += r[i]!;
      }
      const secs = (performance.now() - t0) / 1000;
      const c = process.cpuUsage(c0);
      const cpuRate = ids.length / ((c.user + c.system) / 1e6);
      const s = table.stats();
      table.close();
      process.send!({ rate: ids.length / secs, cpuRate, secs, won, contended: s.lockContended }, () => process.exit(0));
    });
  });
}

async function twoProcesses(path: string, n: number, shared: boolean): Promise<string> {
  const run = shared ? randomUUID().slice(0, 8) : null;
  const kids = [0, 1].map(() =>
    fork(self, ['--child'], { execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }),
  );
  const answers = kids.map(
    (k) =>
      new Promise<{ rate: number; cpuRate: number; secs: number; won: number; contended: number }>((resolve) =>
        k.on('message', (m: unknown) => {
          if (m && typeof m === 'object' && 'rate' in m) resolve(m as never);
        }),
      ),
  );
  await Promise.all(
    kids.map(
      (k) =>
        new Promise<void>((resolve) => {
          k.once('message', () => resolve());
          k.send({ path, capacity: CAPACITY, n, shared: run, batch: 100 });
        }),
    ),
  );
  const startAt = Date.now() + 200;
  for (const k of kids) k.send({ startAt });
  const [a, b] = await Promise.all(answers);
  const wall = Math.max(a!.secs, b!.secs);
  const total = shared ? n : 2 * n;
  return (
    `A ${fmt(a!.rate)} wall / ${fmt(a!.cpuRate)} per CPU-s, ` +
    `B ${fmt(b!.rate)} wall / ${fmt(b!.cpuRate)} per CPU-s, together ${fmt(total / wall)} wall; ` +
    `won A ${a!.won} + B ${b!.won} = ${a!.won + b!.won} of ${total}; lock waits ${a!.contended}+${b!.contended}`
  );
}

async function main(): Promise<void> {
  const path = `/dev/shm/evc-dedup-bench-${process.pid}.dedup`;
  const table = DedupTable.open({ path, capacity: CAPACITY });
  try {
    console.log(
      `dedup micro-bench: capacity ${CAPACITY} slots (${(table.fileBytes / 2 ** 20).toFixed(0)} MiB), ` +
        `node ${process.version}, ${process.arch}, load average ${os.loadavg()[0]!.toFixed(1)}`,
    );
    const t0 = performance.now();
    for (const b of chunk(uuids(FILL), 1000)) table.claimBatch(b);
    const st = table.stats({ sampleBuckets: 0 });
    console.log(
      `filled ${FILL} ids in ${((performance.now() - t0) / 1000).toFixed(2)} s (incl. generating them); ` +
        `load factor ${st.loadFactor.toFixed(3)}, evictions ${st.evictions}`,
    );

    const perCase = 1_000_000; // fresh ids per case: keeps the load factor below ~0.55
    for (const batch of [1, 100, 1000]) {
      const n = batch === 1 ? 200_000 : perCase;
      const fresh = chunk(uuids(n), batch);
      const rNew = timed(fresh, batch, (b) => table.claimBatch(b));
      const rDup = timed(fresh, batch, (b) => table.claimBatch(b));
      console.log(`single process, batch ${String(batch).padStart(4)}: new ${fmtR(rNew)};  duplicate ${fmtR(rDup)}`);
      for (const b of fresh) table.release(b as string[]);
    }
    {
      const ids = uuids(perCase);
      const packed = chunk(ids, 100).map((b) => Buffer.concat(b.map((id) => DedupTable.keyOf(id))));
      const r = timed(packed, 100, (b) => table.claimBatch(b));
      console.log(`single process, batch  100, packed 16-byte keys: new ${fmtR(r)}`);
      const batches = chunk(ids, 100);
      const rr = timed(batches, 100, (b) => table.release(b));
      console.log(`single process, batch  100, release: ${fmtR(rr)}`);
    }
    {
      const batches = chunk(uuids(perCase), 100);
      const r = timed(batches, 100, (b) => {
        const res = table.claimBatch(b);
        table.release(b, res);
      });
      console.log(`single process, batch  100, claim + release (a failed batch): ${fmtR(r)}`);
    }
    const s = table.stats();
    console.log(`after: load factor ~${s.loadFactor.toFixed(3)}, evictions ${s.evictions}`);

    console.log(`two processes, distinct ids (600 k each): ${await twoProcesses(path, 600_000, false)}`);
    console.log(`two processes, the same 1 M ids (every id raced): ${await twoProcesses(path, 1_000_000, true)}`);
  } finally {
    table.close();
    unlinkSync(path);
  }
}

if (process.argv.includes('--child')) void child();
else await main();
