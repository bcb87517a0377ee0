/**
 * GET /api/v1/schemas: the payload schemas this process judges events by — per event
 * type its versions, default version, compatibility rule — where they come from, and
 * what the last load or reload refused. Its shape is SchemasResponseSchema
 * (src/ops/api-schemas.ts), tied to SchemasDocument at compile time.
 */
import type { Config } from '../config/schema.js';
import type { PayloadSchemas } from '../schema/payload/service.js';
import type { CompatibilityMode, JsonSchema, Upcast } from '../schema/payload/types.js';
import type { ProcessReport } from './cluster.js';

export interface SchemasDocument {
  source: 'folder' | 'registry' | 'none';
  location: string;
  default_compatibility: CompatibilityMode;
  generation: number;
  loaded_at: string;
  status: 'ok' | 'degraded';
  problems: { event_type: string; version: number | null; message: string }[];
  last_reload: { at: string; result: 'applied' | 'refused' | 'failed' | 'unchanged' } | null;
  /** events judged per type and version since each process started, summed over the host's processes */
  in_use: { event_type: string; schema_version: string; valid: number; invalid: number }[];
  /** the set each live process of the host has in force: after a reload every generation should move */
  processes: { instance: string; generation: number; status: 'ok' | 'degraded' }[];
  types: {
    event_type: string;
    compatibility: CompatibilityMode;
    default_version: number;
    pinned: boolean;
    versions: { version: number; schema_id: number | null; schema: JsonSchema }[];
    /** config.json `upcast`: events of earlier versions are written in version `to` */
    upcast: Upcast | null;
  }[];
}

type PromMetric = { name: string; values: { value: number; labels: Record<string, string | number> }[] };

/** collector_schema_events_total of every process, summed by (event_type, schema_version). */
function inUse(reports: readonly ProcessReport[]): SchemasDocument['in_use'] {
  const sums = new Map<string, SchemasDocument['in_use'][number]>();
  for (const r of reports) {
    const m = (r.prometheus as unknown as PromMetric[]).find((x) => x.name === 'collector_schema_events_total');
    for (const v of m?.values ?? []) {
      const type = String(v.labels.event_type);
      const version = String(v.labels.schema_version);
      const k = `${type}|${version}`;
      const row = sums.get(k) ?? { event_type: type, schema_version: version, valid: 0, invalid: 0 };
      if (v.labels.outcome === 'valid') row.valid += v.value;
      else row.invalid += v.value;
      sums.set(k, row);
    }
  }
  return [...sums.values()].sort((a, b) => a.event_type.localeCompare(b.event_type) || a.schema_version.localeCompare(b.schema_version, 'en', { numeric: true }));
}

export function schemasDocument(schemas: PayloadSchemas, config: Pick<Config, 'SCHEMA_COMPATIBILITY'>, reports: readonly ProcessReport[]): SchemasDocument {
  const snap = schemas.snapshot;
  const st = schemas.status();
  return {
    source: snap.source,
    location: snap.location,
    default_compatibility: config.SCHEMA_COMPATIBILITY,
    generation: snap.generation,
    loaded_at: snap.loadedAt,
    status: st.status,
    problems: st.problems.map((p) => ({ event_type: p.eventType, version: p.version, message: p.message })),
    last_reload: st.last_reload,
    in_use: inUse(reports),
    processes: reports.map((r) => ({
      instance: r.instance,
      generation: r.health.payload_schemas?.generation ?? 0,
      status: r.health.payload_schemas?.status ?? 'ok',
    })),
    types: snap.types.map((t) => ({
      event_type: t.eventType,
      compatibility: t.compatibility,
      default_version: t.defaultVersion,
      pinned: t.pinned,
      versions: t.versions.map((v) => ({ version: v.version, schema_id: v.id, schema: v.schema })),
      upcast: t.upcast ?? null,
    })),
  };
}
