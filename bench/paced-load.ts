/**
 * Fixed-rate load, paced: request i is due at start + i / rate, whichever connection is free
 * takes it, and its latency counts from when it was due (so a collector that falls behind
 * shows the wait its clients would have had: no coordinated omission).
 *
 * Why not autocannon's `overallRate`: autocannon gives each connection its share of the rate
 * and lets it send that share back to back at the start of every second, then sit idle
 * (autocannon/lib/httpClient.js: a 1 s interval resets `reqsMadeThisSecond`). "2,000 events/s"
 * over 4 connections was 4 bursts of 5 batches each second, and "50,000 events/s" over 100
 * connections was 100 batches at once every second — a burst test, whose refusals and tail
 * latency said nothing about a steady rate.
 *
 * Requests take the connections in turn (the next free one after the last used): a pool that always
 * takes the first free connection sent a slow rate down one connection, so one collector process
 * (SO_REUSEPORT spreads connections, not requests) had all of it and the others none.
 */
import { Client, errors as undiciErrors } from 'undici';
import * as hdr from 'hdr-histogram-js';
import { loadFigures, type Bodies, type LoadResult, type Scenario } from './scenarios.js';
import { round } from './lib/proc.js';

let stopping = false;
/** Stops a running paced load (Ctrl-C): nothing more is sent, requests out are awaited. */
export function stopPacedLoad(): void { stopping = true; }

export async function runPacedLoad(url: string, s: Scenario, durationS: number, bodies: Bodies): Promise<LoadResult> {
  const rate = s.rate!;
  const headers: Record<string, string> = { 'content-type': 'application/json', ...s.headers };
  if (s.gzip) headers['content-encoding'] = 'gzip';
  const clients = Array.from({ length: s.connections }, () => new Client(url, { pipelining: 1, headersTimeout: 20_000, bodyTimeout: 20_000 }));
  const busy = new Array<number>(clients.length).fill(0);
  let turn = 0;
  /** The next free connection after the last one used; when none is free, the least loaded (its queue). */
  const pick = (): number => {
    let best = turn;
    for (let k = 0; k < clients.length; k++) {
      const i = (turn + k) % clients.length;
      if (busy[i] === 0) { best = i; break; }
      if (busy[i]! < busy[best]!) best = i;
    }
    turn = (best + 1) % clients.length;
    return best;
  };
  const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120e6, numberOfSignificantValueDigits: 3 });
  // The collector's own share: processing_time_ms of each 2xx answer (body complete → answer sent).
  const server = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120e6, numberOfSignificantValueDigits: 3 });
  const byStatus: Record<string, number> = {};
  const errorKinds: Record<string, number> = {};
  let ok = 0, non2xx = 0, errors = 0, timeouts = 0, spilled = 0, duplicates = 0;
  const out = new Set<Promise<void>>();
  const samples = { clientUs: [] as number[], serverUs: [] as number[] };

  const send = async (dueAt: number): Promise<void> => {
    const c = pick();
    busy[c] = busy[c]! + 1;
    try {
      // A copy: Bodies patches its ~200 rotating buffers in place, and a request may wait in a connection's queue.
      const res = await clients[c]!.request({ path: '/api/v1/collect', method: 'POST', headers, body: Buffer.from(bodies.take()) });
      const text = await res.body.text();
      const ms = performance.now() - dueAt;
      byStatus[res.statusCode] = (byStatus[res.statusCode] ?? 0) + 1;
      if (res.statusCode < 200 || res.statusCode >= 300) { non2xx++; return; }
      ok++;
      hist.recordValue(Math.max(1, Math.round(ms * 1000)));
      samples.clientUs.push(Math.round(ms * 1000));
      // A 2xx may mean "on disk" when the collector's Kafka circuit is open: count those apart.
      if (text.includes('"buffered":true')) spilled++;
      const took = /"processing_time_ms":([\d.]+)/.exec(text);
      if (took) {
        server.recordValue(Math.max(1, Math.round(Number(took[1]) * 1000)));
        samples.serverUs.push(Math.round(Number(took[1]) * 1000));
      }
      const dup = /"duplicate_count":(\d+)/.exec(text);
      if (dup) duplicates += Number(dup[1]);
    } catch (err) {
      errors++;
      if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) timeouts++;
      const k = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
      errorKinds[k] = (errorKinds[k] ?? 0) + 1;
    } finally {
      busy[c] = busy[c]! - 1;
    }
  };

  stopping = false;
  const interval = 1000 / rate;
  const total = Math.round(durationS * rate);
  const start = performance.now();
  let next = 0;
  await new Promise<void>((resolve) => {
    const pump = () => {
      // Every request already due goes now (a late timer sends the ones it owes at once, each timed from its due time).
      for (let due = start + next * interval; next < total && !stopping && due <= performance.now(); due = start + ++next * interval) {
        const p = send(due);
        out.add(p);
        void p.finally(() => out.delete(p));
      }
      if (next >= total || stopping) return resolve();
      setTimeout(pump, Math.max(0, start + next * interval - performance.now()));
    };
    pump();
  });
  await Promise.all(out);
  const seconds = (performance.now() - start) / 1000;
  await Promise.all(clients.map((c) => c.close()));

  const result: LoadResult = {
    seconds: round(seconds, 2),
    ok,
    spilled,
    duplicates,
    non2xx,
    byStatus,
    errors,
    errorKinds,
    timeouts,
    ...loadFigures(hist, s.batch, ok, duplicates, seconds),
    serverP50Ms: round(server.getValueAtPercentile(50) / 1000, 2),
    serverP99Ms: round(server.getValueAtPercentile(99) / 1000, 2),
    samples,
  };
  hist.destroy();
  server.destroy();
  return result;
}
