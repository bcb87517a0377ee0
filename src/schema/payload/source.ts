/**
 * Where a process's payload schemas come from: the folder (SCHEMA_DIR, folder.ts) or a
 * Confluent-compatible Schema Registry (SCHEMA_REGISTRY_URL, registry.ts). The schema set
 * (service.ts) asks a source for everything it holds, judges nothing itself and keeps the
 * previous set when a load throws; both sources judge every version with judge.ts.
 */
import type { SchemaProblem, SchemaSetSnapshot, TypeSchemas } from './types.js';

export interface SourceLoad {
  types: TypeSchemas[];
  /** versions refused (and why); on a reload any problem refuses the whole reload */
  problems: SchemaProblem[];
}

export interface SchemaSource {
  readonly kind: Exclude<SchemaSetSnapshot['source'], 'none'>;
  /** the folder resolved, or the registry URL without credentials */
  readonly location: string;
  /**
   * Changes when the source may hold something new (a poll that finds the same value skips the
   * load); null when only a load can tell (the registry: its cache expires every refresh).
   */
  fingerprint(): string | null;
  /** Everything the source holds now; throws when it cannot be read at all. */
  load(): Promise<SourceLoad>;
}
