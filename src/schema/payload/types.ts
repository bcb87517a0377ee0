/**
 * The payload schema set: versioned JSON Schemas for `event_data`, per event type, as a
 * plain JSON value. It is what a source (src/schema/payload/folder.ts) loads, what the
 * main thread publishes to the decode workers (src/schema/payload/channel.ts) and what
 * GET /api/v1/schemas shows. Pure types: safe to import anywhere.
 */

export const COMPATIBILITY_MODES = [
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
  'NONE',
] as const;
export type CompatibilityMode = (typeof COMPATIBILITY_MODES)[number];

export function isCompatibilityMode(v: unknown): v is CompatibilityMode {
  return typeof v === 'string' && (COMPATIBILITY_MODES as readonly string[]).includes(v);
}

export type JsonSchema = boolean | { [k: string]: unknown };

export interface PayloadSchemaVersion {
  version: number;
  /** id the registry assigned; null for the folder source */
  id: number | null;
  schema: JsonSchema;
}

/**
 * One declarative step of an upcast, on a top-level field of event_data: `rename` moves a value
 * (absent stays absent), `default` sets a value where the field is absent, `drop` removes one.
 */
export type UpcastStep = { rename: { from: string; to: string } } | { default: { field: string; value: unknown } } | { drop: string };

export interface Upcast {
  /** the version every event of the type is written in (a loaded version) */
  to: number;
  /** from-version → the steps that turn it into the next loaded version */
  steps: Record<string, UpcastStep[]>;
}

export interface TypeSchemas {
  eventType: string;
  compatibility: CompatibilityMode;
  /** the version an event without `schema_version` is judged by */
  defaultVersion: number;
  /** true when the default is set explicitly, false when it is the latest */
  pinned: boolean;
  /** ascending */
  versions: PayloadSchemaVersion[];
  /** folder only (config.json `upcast`): events of earlier versions are rewritten to `to` */
  upcast?: Upcast;
}

export interface SchemaSetSnapshot {
  /** bumps on every successful load in this process */
  generation: number;
  source: 'folder' | 'registry' | 'none';
  /** the folder, resolved, or the registry URL without credentials */
  location: string;
  loadedAt: string;
  types: TypeSchemas[];
}

export const EMPTY_SNAPSHOT: SchemaSetSnapshot = { generation: 0, source: 'none', location: '', loadedAt: new Date(0).toISOString(), types: [] };

/** A version the loader refused, and why (health detail, log, metric). */
export interface SchemaProblem {
  eventType: string;
  version: number | null;
  file?: string;
  message: string;
}
