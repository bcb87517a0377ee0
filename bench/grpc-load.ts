/**
 * The gRPC load driver (our own, grpc-js): `streams` CollectStream calls, each on its own
 * HTTP/2 connection (so SO_REUSEPORT spreads them over the collectors like HTTP connections),
 * each keeping up to `inFlight` batches outstanding; or, with `rate`, a fixed overall batch rate
 * spread over the streams. Latency per batch is write → its answer, in our HDR histogram (µs).
 * Every event_id is fresh (the collector dedupes). Typed events (Struct, Timestamp, enums),
 * built from the same synthetic events as the HTTP bodies.
 */
import * as grpc from '@grpc/grpc-js';
import * as hdr from 'hdr-histogram-js';
import { randomUUID } from 'node:crypto';
import { packageDefinition, SERVICE_NAME } from '../src/grpc/contract.js';
import type { CollectResponse } from '../src/grpc/ingest.js';
import { syntheticBatch } from '../src/pipeline/synthetic.js';
import { loadFigures, type LoadResult, type Scenario } from './scenarios.js';

type Value = Record<string, unknown>;
function toValue(v: unknown): Value {
  if (v === null || v === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(toValue) } };
  return { structValue: toStruct(v as Record<string, unknown>) };
}
function toStruct(o: Record<string, unknown>): { fields: Record<string, Value> } {
  const fields: Record<string, Value> = {};
  for (const [k, v] of Object.entries(o)) fields[k] = toValue(v);
  return { fields };
}

/** Typed events from the synthetic ones; event_id replaced per batch. */
function typedTemplates(batch: number): Record<string, unknown>[] {
  return (syntheticBatch(batch, {}, 0) as unknown as Record<string, unknown>[]).map((e) => {
    const ms = Date.parse(e.timestamp as string);
    return {
      learner_id: e.learner_id,
      tenant_id: e.tenant_id,
      event_type: `EVENT_TYPE_${String(e.event_type).toUpperCase()}`,
      ...(e.priority ? { priority: `PRIORITY_${String(e.priority).toUpperCase()}` } : {}),
      timestamp: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 },
      source_service: e.source_service,
      event_data: toStruct(e.event_data as Record<string, unknown>),
      metadata: toStruct((e.metadata ?? {}) as Record<string, unknown>),
    };
  });
}

export interface GrpcLoadOptions {
  streams: number;
  /** batches outstanding per stream (closed loop) */
  inFlight: number;
}

export async function runGrpcLoad(port: number, s: Scenario, durationS: number, o: GrpcLoadOptions): Promise<LoadResult> {
  const Ctor = grpc.makeClientConstructor(packageDefinition[SERVICE_NAME] as grpc.ServiceDefinition, SERVICE_NAME);
  const templates = typedTemplates(s.batch);
  const hist = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 120e6, numberOfSignificantValueDigits: 3 });
  const byStatus: Record<string, number> = {};
  let ok = 0;
  let spilled = 0;
  let duplicates = 0;
  let errors = 0;
  const errorKinds: Record<string, number> = {};
  const started = performance.now();
  const endAt = started + durationS * 1000;
  // Fixed rate: one tick per batch, round-robin over the streams.
  const interval = s.rate ? 1000 / s.rate : 0;

  const one = (i: number) =>
    new Promise<void>((resolve) => {
      // A client per stream with its own subchannel pool: one HTTP/2 connection each.
      const client = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), { 'grpc.use_local_subchannel_pool': 1 });
      const call = (client as unknown as { CollectStream(): grpc.ClientDuplexStream<object, CollectResponse> }).CollectStream();
      const sentAt: number[] = [];
      let outstanding = 0;
      let closed = false;
      const send = () => {
        if (closed) return;
        if (performance.now() >= endAt) {
          closed = true;
          call.end();
          return;
        }
        outstanding++;
        sentAt.push(performance.now());
        call.write({ events: templates.map((t) => ({ event: { event_id: randomUUID(), ...t } })) });
      };
      call.on('data', (a: CollectResponse) => {
        const t0 = sentAt.shift()!;
        outstanding--;
        const code = a.error ? a.error.code : a.outcome;
        byStatus[code] = (byStatus[code] ?? 0) + 1;
        if (a.outcome === 'OUTCOME_ACCEPTED') {
          ok++;
          hist.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
          if (a.buffered) spilled++;
          duplicates += a.duplicate_count ?? 0;
        }
        if (!interval) send();
      });
      call.on('error', (e: grpc.ServiceError) => {
        errors++;
        errorKinds[String(e.code)] = (errorKinds[String(e.code)] ?? 0) + 1;
        client.close();
        resolve();
      });
      call.on('end', () => {
        client.close();
        resolve();
      });
      if (interval) {
        // This stream's share of the rate: every streams × interval ms, offset by its index.
        const period = interval * o.streams;
        const tick = () => {
          if (performance.now() >= endAt) return send(); // ends the stream
          send();
          setTimeout(tick, period);
        };
        setTimeout(tick, i * interval);
      } else {
        for (let k = 0; k < o.inFlight; k++) send();
      }
      void outstanding;
    });

  await Promise.all(Array.from({ length: o.streams }, (_, i) => one(i)));
  const seconds = (performance.now() - started) / 1000;
  const out: LoadResult = {
    seconds,
    ok,
    spilled,
    duplicates,
    non2xx: Object.entries(byStatus).filter(([k]) => k !== 'OUTCOME_ACCEPTED').reduce((a, [, v]) => a + v, 0),
    byStatus,
    errors,
    errorKinds,
    timeouts: 0,
    ...loadFigures(hist, s.batch, ok, duplicates, seconds),
  };
  hist.destroy();
  return out;
}
