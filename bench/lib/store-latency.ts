/**
 * How long the collector's calls to the shared store took during one scenario, from the
 * `collector_shared_store_call_seconds` histogram on /metrics (cluster-wide): the difference of
 * two scrapes, so earlier scenarios on the same cluster do not count. Quantiles are bucket upper
 * bounds (what a Prometheus histogram can say), so "≤ 0.5 ms" means somewhere in (0.25, 0.5].
 */
type Buckets = Map<string, Map<number, number>>;

export async function scrapeStoreCalls(url: string): Promise<Buckets> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const out: Buckets = new Map();
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
export function storeCallQuantiles(before: Buckets, after: Buckets): Record<string, { calls: number; p50Ms: number; p99Ms: number }> {
  const result: Record<string, { calls: number; p50Ms: number; p99Ms: number }> = {};
  for (const [call, buckets] of after) {
    const les = [...buckets.keys()].sort((a, b) => a - b);
    const counts = les.map((le) => buckets.get(le)! - (before.get(call)?.get(le) ?? 0));
    const total = counts[counts.length - 1] ?? 0;
    if (total <= 0) continue;
    const at = (q: number) => les[counts.findIndex((c) => c >= q * total)]! * 1000;
    result[call] = { calls: total, p50Ms: at(0.5), p99Ms: at(0.99) };
  }
  return result;
}

export function describeStoreCalls(q: ReturnType<typeof storeCallQuantiles>): string {
  return Object.entries(q)
    .map(([call, v]) => `${call} ${v.calls} calls, p50 ≤ ${v.p50Ms} ms, p99 ≤ ${v.p99Ms} ms`)
    .join('; ');
}
