/**
 * GET /api/v1/schemas: the payload schemas this process judges events by — per event
 * type its versions, default version, compatibility rule — where they come from, and
 * what the last load or reload refused. Its shape is SchemasResponseSchema
 * (src/ops/api-schemas.ts), tied to SchemasDocument at compile time.
 */
import type { Config } from '../config/schema.js';
import type { PayloadSchemas } from '../schema/payload/service.js';
import type { CompatibilityMode, JsonSchema } from '../schema/payload/types.js';

export interface SchemasDocument {
  source: 'folder' | 'none';
  location: string;
  default_compatibility: CompatibilityMode;
  generation: number;
  loaded_at: string;
  status: 'ok' | 'degraded';
  problems: { event_type: string; version: number | null; message: string }[];
  last_reload: { at: string; result: 'applied' | 'refused' | 'failed' | 'unchanged' } | null;
  types: {
    event_type: string;
    compatibility: CompatibilityMode;
    default_version: number;
    pinned: boolean;
    versions: { version: number; schema_id: number | null; schema: JsonSchema }[];
  }[];
}

export function schemasDocument(schemas: PayloadSchemas, config: Pick<Config, 'SCHEMA_COMPATIBILITY'>): SchemasDocument {
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
    types: snap.types.map((t) => ({
      event_type: t.eventType,
      compatibility: t.compatibility,
      default_version: t.defaultVersion,
      pinned: t.pinned,
      versions: t.versions.map((v) => ({ version: v.version, schema_id: v.id, schema: v.schema })),
    })),
  };
}
