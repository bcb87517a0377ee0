/**
 * Sequential clients for fault tests: each owns a few learners, sends one batch at a
 * time (waiting for each answer, as a careful client does) and records which events
 * were acknowledged (2xx) and in which order per learner.
 */
import { randomUUID } from 'node:crypto';
import { syntheticEvent } from '../../src/pipeline/synthetic.js';

export interface LoadResult {
  acked: Map<string, { learner: string; seq: number }>;
  statuses: Map<number, number>;
  buffered: number;
  errors: number;
}

export interface LoadOptions {
  urls: () => string[];
  clients: number;
  batchSize: number;
  /** stop when this resolves */
  until: Promise<void>;
  /** pause between a client's requests */
  pauseMs?: number;
}

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const result: LoadResult = { acked: new Map(), statuses: new Map(), buffered: 0, errors: 0 };
  let stop = false;
  void o.until.then(() => (stop = true));
  const client = async (c: number) => {
    let seq = 0;
    let n = 0;
    while (!stop) {
      const urls = o.urls();
      const url = urls[n++ % urls.length]!;
      const events = [];
      for (let i = 0; i < o.batchSize; i++) {
        const learner = `learner_c${c}_${i % 3}`;
        events.push({ ...syntheticEvent(i), event_id: randomUUID(), learner_id: learner, event_data: { seq: seq++ } });
      }
      try {
        const r = await fetch(`${url}/api/v1/collect`, {
          method: 'POST',
          body: JSON.stringify(events),
          headers: { 'content-type': 'application/json' },
          signal: AbortSignal.timeout(15_000),
        });
        result.statuses.set(r.status, (result.statuses.get(r.status) ?? 0) + 1);
        const body = (await r.json()) as { buffered?: boolean };
        if (r.status >= 200 && r.status < 300) {
          if (body.buffered) result.buffered++;
          for (const e of events) result.acked.set(e.event_id, { learner: e.learner_id, seq: e.event_data.seq });
        }
      } catch {
        result.errors++;
        await new Promise((r) => setTimeout(r, 50));
      }
      if (o.pauseMs) await new Promise((r) => setTimeout(r, o.pauseMs));
    }
  };
  await Promise.all(Array.from({ length: o.clients }, (_, c) => client(c)));
  return result;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls the collector's health until its spill log is empty. */
export async function waitDrained(url: string, timeoutMs = 90_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    try {
      // A health check that does not answer within seconds is itself the finding (a blocked event loop):
      // without a bound, fetch would wait undici's 300 s for the headers.
      const h = (await (await fetch(`${url}/api/v1/health`, { signal: AbortSignal.timeout(5_000) })).json()) as { buffer_status: { buffered_events: number }; circuit_state: string };
      if (h.buffer_status.buffered_events === 0 && h.circuit_state === 'closed') return;
      last = JSON.stringify({ circuit_state: h.circuit_state, buffer_status: h.buffer_status });
    } catch (e) {
      last = `health failed: ${(e as Error).message}`; // restarting, or not answering
    }
    if (Date.now() > end) throw new Error(`spill log not drained after ${timeoutMs} ms; last health: ${last}`);
    await sleep(250);
  }
}

/** Per learner, the seqs in Kafka offset order (first occurrence only) must be increasing. */
export function orderViolations(records: { key: string | null; value: string }[]): string[] {
  const seen = new Set<string>();
  const last = new Map<string, number>();
  const bad: string[] = [];
  for (const r of records) {
    const v = JSON.parse(r.value) as { event_id: string; event_data: { seq: number } };
    if (seen.has(v.event_id)) continue;
    seen.add(v.event_id);
    const prev = last.get(r.key ?? '') ?? -1;
    if (v.event_data.seq < prev) bad.push(`${r.key}: ${v.event_data.seq} after ${prev}`);
    last.set(r.key ?? '', v.event_data.seq);
  }
  return bad;
}
