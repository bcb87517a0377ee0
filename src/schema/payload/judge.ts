/**
 * Whether one version of a type's payload schema may be loaded: it must be a JSON Schema Ajv
 * compiles, and it must keep the type's compatibility rule against the versions before it.
 * Shared by both sources (folder.ts, registry.ts), so a version is judged the same wherever
 * it lives — a registry's own rule check is not relied on (Apicurio enforces none by default,
 * and registries differ on JSON Schema compatibility).
 */
import { compilePayloadSchema, UnsafePatternError } from '../../codec/payload.js';
import { incompatibilities } from './compatibility.js';
import type { CompatibilityMode, JsonSchema, TypeSchemas } from './types.js';

/** The schema when it may be loaded, else why not. */
export function judgeSchema(schema: unknown, mode: CompatibilityMode, earlier: TypeSchemas['versions']): JsonSchema | string {
  if (typeof schema !== 'boolean' && (typeof schema !== 'object' || schema === null || Array.isArray(schema))) return 'a schema is a JSON object';
  const s = schema as JsonSchema;
  try {
    compilePayloadSchema(s);
  } catch (err) {
    // A valid JSON Schema whose pattern RE2 refuses: its own message says what to change.
    if (err instanceof UnsafePatternError) return err.message;
    return `not a valid JSON Schema: ${(err as Error).message}`;
  }
  const reasons = incompatibilities(mode, s, earlier);
  return reasons.length > 0 ? reasons.join('; ') : s;
}
