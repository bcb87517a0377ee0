/**
 * How long the collector's calls to the shared store took during one scenario, from the
 * `collector_shared_store_call_seconds` histogram on /metrics (cluster-wide): the difference of
 * two scrapes, so earlier scenarios on the same cluster do not count. Quantiles are bucket upper
 * bounds (what a Prometheus histogram can say), so "≤ 0.5 ms" means somewhere in (0.25, 0.5].
 */
import { randomUUID } from 'node:crypto';
import pino from 'pino';
import { SharedStore } from '../../src/shared-store/store.js';
import { SharedClaims } from '../../src/shared-store/claims.js';

type Buckets = Map<string, Map<number, number>>;

export async function scrapeStoreCalls(url: string): Promise<Buckets> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Buckets = new Map();
  // Calls judged by the host alone (timed out, or skipped while degraded): kept as the bucket le = -1.
  const fell = /^collector_shared_store_fallbacks_total\{([^}]*)\} (\d+(?:\.\d+)?)$/gm;
  for (let m = fell.exec(text); m; m = fell.exec(text)) {
    const call = /call="([^"]*)"/.exec(m[1]!)?.[1] ?? '';
    if (!out.has(call)) out.set(call, new Map());
    out.get(call)!.set(-1, (out.get(call)!.get(-1) ?? 0) + Number(m[2]));
  }
  const line = /^collector_shared_store_call_seconds_bucket\{([^}]*)\} (\d+(?:\.\d+)?)$/gm;
  for (let m = line.exec(text); m; m = line.exec(text)) {
    const labels = Object.fromEntries([...m[1]!.matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1], l[2]]));
    const le = labels.le === '+Inf' ? Number.POSITIVE_INFINITY : Number(labels.le);
    const call = labels.call ?? '';
    if (!out.has(call)) out.set(call, new Map());
    out.get(call)!.set(le, (out.get(call)!.get(le) ?? 0) + Number(m[2]));
  }
  return out;
}

/** Per call: calls made between the scrapes and the bucket bounds holding p50 and p99 (ms). */
export function storeCallQuantiles(before: Buckets, after: Buckets): Record<string, { calls: number; p50Ms: number; p99Ms: number; local: number }> {
  const result: Record<string, { calls: number; p50Ms: number; p99Ms: number; local: number }> = {};
  for (const [call, buckets] of after) {
    const delta = (le: number) => (buckets.get(le) ?? 0) - (before.get(call)?.get(le) ?? 0);
    const local = delta(-1);
    const les = [...buckets.keys()].filter((le) => le >= 0).sort((a, b) => a - b);
    const counts = les.map(delta);
    const total = counts[counts.length - 1] ?? 0;
    if (total <= 0 && local <= 0) continue;
    const at = (q: number) => (total > 0 ? les[counts.findIndex((c) => c >= q * total)]! * 1000 : 0);
    result[call] = { calls: total, p50Ms: at(0.5), p99Ms: at(0.99), local };
  }
  return result;
}

export function describeStoreCalls(q: ReturnType<typeof storeCallQuantiles>): string {
  return Object.entries(q)
    .map(([call, v]) => `${call} ${v.calls} calls, p50 ≤ ${v.p50Ms} ms, p99 ≤ ${v.p99Ms} ms, ${v.local} judged by the host alone`)
    .join('; ');
}

/**
 * The floor under the collector's store calls: the same claim script (src/shared-store/claims.ts), `keys` new
 * event ids per call, paced like the scenario, from the bench's own process right after the scenario (the
 * collectors idle: calls sent beside the load, paced alike, reached the store in the same milliseconds as the
 * collectors' and queued them). What the collector's calls take beyond this is the collector's; this much any
 * client pays for one round trip to a store process on this machine.
 */
export async function rawClaimRoundTrips(url: string, ratePerS: number, seconds: number, keys: number): Promise<{ calls: number; p50Ms: number; p99Ms: number; tookUs: number[] }> {
  const store = new SharedStore({ url, timeoutMs: 10_000, keyPrefix: `bench-raw-${process.pid}:`, log: pino({ level: 'silent' }) });
  await store.connected();
  const claims = new SharedClaims(store, 60_000, 30_000);
  const took: number[] = [];
  const total = Math.round(ratePerS * seconds);
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / ratePerS;
    const wait = due - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const ids = Array.from({ length: keys }, (_, k) => ({ tenant: 'bench', eventId: `${i}-${k}-${randomUUID()}` }));
    const t0 = performance.now();
    pending.push(
      claims.claim(ids).then((c) => {
        took.push(performance.now() - t0);
        c?.commit();
      }),
    );
  }
  await Promise.all(pending);
  await store.close();
  took.sort((a, b) => a - b);
  const at = (q: number) => Math.round((took[Math.min(took.length - 1, Math.floor(q * took.length))] ?? 0) * 100) / 100;
  return { calls: took.length, p50Ms: at(0.5), p99Ms: at(0.99), tookUs: took.map((t) => Math.round(t * 1000)) };
}

/** q-quantile (0..1) of samples in µs, as ms with 2 decimals (nearest rank). */
function quantileMs(us: number[], q: number): number {
  const sorted = [...us].sort((a, b) => a - b);
  return Math.round(sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0) / 1000;
}

export interface StoreCost {
  scenario: string;
  rounds: number;
  answers: { quota: number; redis: number };
  /** client-side latency, all rounds pooled: without the store (-quota), with it (-redis), and what it added */
  clientMs: { p50: [number, number, number]; p99: [number, number, number] };
  /** the collector's processing_time_ms, pooled the same way */
  serverMs: { p50: [number, number, number]; p99: [number, number, number] };
  /** the bare claim round trip from the bench process (after each -redis round), pooled */
  floorMs?: { p50: number; p99: number; calls: number };
}

/**
 * What the store adds, from the -quota/-redis pairs of a paced scenario with every round's answers pooled: one
 * round of 600 answers puts its p99 on the 6th slowest, and two rounds of the same cluster differ by 1-2.5 ms
 * there on this box (2026-12-05 runs), more than the difference sought.
 */
export function storeCost(
  reports: { name: string; load?: { samples?: { clientUs: number[]; serverUs: number[] } } }[],
  floors: Map<string, number[]>,
): StoreCost[] {
  const out: StoreCost[] = [];
  const bases = new Set(reports.filter((r) => r.name.endsWith('-redis') && r.load?.samples).map((r) => r.name.slice(0, -'-redis'.length)));
  for (const base of bases) {
    const pool = (suffix: string, which: 'clientUs' | 'serverUs') => reports.filter((r) => r.name === `${base}-${suffix}`).flatMap((r) => r.load?.samples?.[which] ?? []);
    const qc = pool('quota', 'clientUs');
    const rc = pool('redis', 'clientUs');
    if (qc.length === 0 || rc.length === 0) continue;
    const triple = (a: number[], b: number[], q: number): [number, number, number] => {
      const x = quantileMs(a, q);
      const y = quantileMs(b, q);
      return [x, y, Math.round((y - x) * 100) / 100];
    };
    const qs = pool('quota', 'serverUs');
    const rs = pool('redis', 'serverUs');
    const floor = floors.get(base) ?? [];
    out.push({
      scenario: base,
      rounds: reports.filter((r) => r.name === `${base}-redis`).length,
      answers: { quota: qc.length, redis: rc.length },
      clientMs: { p50: triple(qc, rc, 0.5), p99: triple(qc, rc, 0.99) },
      serverMs: { p50: triple(qs, rs, 0.5), p99: triple(qs, rs, 0.99) },
      ...(floor.length ? { floorMs: { p50: quantileMs(floor, 0.5), p99: quantileMs(floor, 0.99), calls: floor.length } } : {}),
    });
  }
  return out;
}

export function describeStoreCost(c: StoreCost): string {
  const t = ([a, b, d]: [number, number, number]) => `${a} → ${b} (${d >= 0 ? '+' : ''}${d})`;
  return `${c.scenario}, ${c.rounds} round(s) pooled (${c.answers.quota} / ${c.answers.redis} answers): client p50 ${t(c.clientMs.p50)} ms, p99 ${t(c.clientMs.p99)} ms; ` +
    `in the collector p50 ${t(c.serverMs.p50)} ms, p99 ${t(c.serverMs.p99)} ms` +
    (c.floorMs ? `; floor (bare claim round trip) p50 ${c.floorMs.p50} ms, p99 ${c.floorMs.p99} ms over ${c.floorMs.calls} calls` : '');
}
