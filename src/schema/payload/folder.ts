/**
 * The folder source of payload schemas (SCHEMA_DIR):
 *
 *   <dir>/<event_type>/<version>.json   a JSON Schema (2020-12) for event_data, version an integer ≥ 1
 *   <dir>/<event_type>/config.json      optional: {"compatibility": "FULL", "default_version": 2,
 *                                         "upcast": {"to": 3, "steps": {"1": [...], "2": [...]}}} (upcast.ts)
 *
 * Versions are taken in ascending order; each must compile and must keep the type's
 * compatibility rule against the versions before it. The first version that fails is
 * refused with every later one of that type (they were written against it), and the
 * problems say why. Also run by `npm run schemas:check`.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { EVENT_TYPES } from '../event.js';
import { judgeSchema } from './judge.js';
import { parseUpcast } from './upcast.js';
import type { SchemaSource, SourceLoad } from './source.js';
import { isCompatibilityMode, type CompatibilityMode, type JsonSchema, type SchemaProblem, type TypeSchemas } from './types.js';

const VERSION_FILE = /^([1-9]\d{0,8})\.json$/;
const CONFIG_FILE = 'config.json';

function readJson(file: string): unknown {
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** Names and sizes and mtimes of every file that matters: a reload happens when this changes. */
export function folderFingerprint(dir: string): string {
  const parts: string[] = [];
  try {
    for (const t of readdirSync(dir).sort()) {
      const td = join(dir, t);
      if (!statSync(td).isDirectory()) continue;
      for (const f of readdirSync(td).sort()) {
        const st = statSync(join(td, f));
        parts.push(`${t}/${f}:${st.size}:${st.mtimeMs}`);
      }
    }
  } catch (err) {
    return `error:${(err as NodeJS.ErrnoException).code ?? String(err)}`;
  }
  return parts.join('\n');
}

export function loadFolder(dir: string, defaultMode: CompatibilityMode): SourceLoad {
  const problems: SchemaProblem[] = [];
  const types: TypeSchemas[] = [];
  let entries: string[];
  try {
    entries = readdirSync(dir).sort();
  } catch (err) {
    problems.push({ eventType: '*', version: null, file: dir, message: `cannot read SCHEMA_DIR ${dir}: ${(err as Error).message}` });
    return { types, problems };
  }
  for (const eventType of entries) {
    // A mounted ConfigMap holds `..data` and `..<timestamp>` (the kubelet's atomic swap): not types.
    if (eventType.startsWith('.')) continue;
    const td = join(dir, eventType);
    if (!statSync(td).isDirectory()) continue;
    if (!(EVENT_TYPES as readonly string[]).includes(eventType)) {
      problems.push({ eventType, version: null, file: td, message: `${eventType} is not an event_type (${EVENT_TYPES.join(', ')})` });
      continue;
    }
    const t = loadType(td, eventType, defaultMode, problems);
    if (t) types.push(t);
  }
  return { types, problems };
}

function loadType(td: string, eventType: string, defaultMode: CompatibilityMode, problems: SchemaProblem[]): TypeSchemas | null {
  let compatibility = defaultMode;
  let pinned: number | null = null;
  let upcastRaw: unknown;
  const configFile = join(td, CONFIG_FILE);
  const files = readdirSync(td);
  if (files.includes(CONFIG_FILE)) {
    try {
      const c = readJson(configFile) as { compatibility?: unknown; default_version?: unknown; upcast?: unknown };
      upcastRaw = c.upcast;
      if (c.compatibility !== undefined) {
        if (!isCompatibilityMode(c.compatibility)) throw new Error(`compatibility must be one of BACKWARD, BACKWARD_TRANSITIVE, FORWARD, FORWARD_TRANSITIVE, FULL, FULL_TRANSITIVE, NONE; got ${JSON.stringify(c.compatibility)}`);
        compatibility = c.compatibility;
      }
      if (c.default_version !== undefined) {
        if (!Number.isInteger(c.default_version) || (c.default_version as number) < 1) throw new Error('default_version must be an integer ≥ 1');
        pinned = c.default_version as number;
      }
    } catch (err) {
      // Without its rule the type's versions cannot be judged: none of them is loaded.
      problems.push({ eventType, version: null, file: configFile, message: `${configFile}: ${(err as Error).message}` });
      return null;
    }
  }
  const numbered: { version: number; file: string }[] = [];
  for (const f of files) {
    if (f === CONFIG_FILE) continue;
    const m = VERSION_FILE.exec(f);
    if (!m) {
      if (f.endsWith('.json')) problems.push({ eventType, version: null, file: join(td, f), message: `${f}: a version file is named <integer ≥ 1>.json` });
      continue;
    }
    numbered.push({ version: Number(m[1]), file: join(td, f) });
  }
  numbered.sort((a, b) => a.version - b.version);

  const versions: TypeSchemas['versions'] = [];
  let refusedAt: number | null = null;
  for (const { version, file } of numbered) {
    if (refusedAt !== null) {
      problems.push({ eventType, version, file, message: `${eventType} v${version} refused: it follows v${refusedAt}, which was refused` });
      continue;
    }
    const why = judgeVersion(file, compatibility, versions);
    if (typeof why === 'string') {
      problems.push({ eventType, version, file, message: `${eventType} v${version} refused: ${why}` });
      refusedAt = version;
      continue;
    }
    versions.push({ version, id: null, schema: why });
  }
  if (versions.length === 0) return null;
  let defaultVersion = versions[versions.length - 1]!.version;
  if (pinned !== null) {
    if (versions.some((v) => v.version === pinned)) defaultVersion = pinned;
    else problems.push({ eventType, version: pinned, file: configFile, message: `default_version ${pinned} of ${eventType} is not loaded; the latest (v${defaultVersion}) is the default` });
  }
  const t: TypeSchemas = { eventType, compatibility, defaultVersion, pinned: pinned !== null && defaultVersion === pinned, versions };
  if (upcastRaw !== undefined) {
    const u = parseUpcast(upcastRaw, versions.map((v) => v.version));
    if (typeof u === 'string') problems.push({ eventType, version: null, file: configFile, message: `${configFile}: ${u}` });
    else t.upcast = u;
  }
  return t;
}

/** The schema when it may be loaded, else why not. */
function judgeVersion(file: string, mode: CompatibilityMode, earlier: TypeSchemas['versions']): JsonSchema | string {
  let schema: unknown;
  try {
    schema = readJson(file);
  } catch (err) {
    return `not JSON: ${(err as Error).message}`;
  }
  return judgeSchema(schema, mode, earlier);
}

/** The folder behind the SchemaSource interface (src/schema/payload/source.ts). */
export class FolderSource implements SchemaSource {
  readonly kind = 'folder' as const;

  constructor(
    readonly location: string,
    private readonly defaultMode: CompatibilityMode,
  ) {}

  fingerprint(): string {
    return folderFingerprint(this.location);
  }

  async load(): Promise<SourceLoad> {
    return loadFolder(this.location, this.defaultMode);
  }
}
