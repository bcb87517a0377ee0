/**
 * Judging `event_data` by the JSON Schema of the event's type and version (Ajv, JSON
 * Schema 2020-12). Validators are compiled once per schema text and thread and cached,
 * so a reload recompiles only what changed; the hot path is one Map lookup and one
 * compiled function over the object JSON.parse already built. Runs on the main thread
 * (inline decode) and in the decode workers alike.
 */
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import type { ErrorObject, ValidateFunction } from 'ajv/dist/2020.js';
import type { RegExpEngine } from 'ajv/dist/types/index.js';
import type Ajv2020Type from 'ajv/dist/2020.js';
import type formatsType from 'ajv-formats';
import type { SchemaSetSnapshot, JsonSchema } from '../schema/payload/types.js';
import { upcasters, type Upcaster } from '../schema/payload/upcast.js';
import type { EventError, EventErrorCode } from './validator.js';

// Both are CommonJS with `exports.default`: required, their types come from the import types above.
const require = createRequire(import.meta.url);
const Ajv2020 = (require('ajv/dist/2020') as { default: typeof Ajv2020Type.default }).default;
const addFormats = (require('ajv-formats') as { default: typeof formatsType.default }).default;
/**
 * Schema patterns run on RE2, whose time is linear in the input: a schema's `"pattern": "^(a|aa)+$"` on
 * backtracking RegExp takes seconds on 40 characters, on the main thread for small bodies, for every client.
 * A pattern RE2 cannot run (backreferences, lookaround) fails the schema's compile: refused at load, named.
 */
const RE2 = require('re2') as new (pattern: string, flags?: string) => RegExp;

/** A schema pattern RE2 cannot run: the load error names the pattern, not only RE2's terse reason. */
export class UnsafePatternError extends Error {
  override name = 'UnsafePatternError';
  readonly code = 'COLLECTOR_ERR_SCHEMA_PATTERN';
  constructor(readonly pattern: string, reason: string) {
    super(`pattern ${JSON.stringify(pattern)} cannot run on RE2 (${reason}); rewrite it without lookaround or backreferences`);
  }
}

/** Ajv's regExp engine: RE2, and a refusal that says which of a schema's patterns it was. */
function re2Engine(pattern: string, flags: string): RegExp {
  try {
    return new RE2(pattern, flags);
  } catch (err) {
    throw new UnsafePatternError(pattern, (err as Error).message);
  }
}

const MAX_ERRORS = 10;

function newAjv() {
  // strict: a typo'd keyword in a schema file is a load error, not a silently ignored rule.
  const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true, code: { regExp: re2Engine as unknown as RegExpEngine } });
  addFormats(ajv);
  return ajv;
}

let ajv = newAjv();
const compiled = new Map<string, ValidateFunction>();

function hashOf(schema: JsonSchema): string {
  return createHash('sha256').update(JSON.stringify(schema)).digest('base64url');
}

/**
 * A compiled validator for `schema`; throws (with Ajv's reason) when it is not a schema Ajv
 * accepts. `$id` and `$schema` are dropped: every schema is read as 2020-12, and two versions
 * sharing an `$id` must not collide in Ajv's cache.
 */
export function compilePayloadSchema(schema: JsonSchema): ValidateFunction {
  const h = hashOf(schema);
  const hit = compiled.get(h);
  if (hit) return hit;
  const copy = typeof schema === 'boolean' ? schema : Object.fromEntries(Object.entries(schema).filter(([k]) => k !== '$id' && k !== '$schema'));
  let fn: ValidateFunction;
  try {
    fn = ajv.compile(copy);
  } catch (err) {
    // A failed compile can leave half-added schemas behind: start from a clean instance.
    ajv = newAjv();
    compiled.clear();
    throw err;
  }
  compiled.set(h, fn);
  return fn;
}

/**
 * A pass, allocated once per (type, version) when the set is built: the hot path returns it as
 * is, with the header texts and the counter keys (DecodedBatch.schemaUse) already made.
 */
export interface PayloadPass {
  ok: true;
  version: number | null;
  id: number | null;
  /** header values: [schema_version] or [schema_version, schema_id]; [] for a type without schemas */
  headers: readonly string[];
  /** "event_type|version|valid" */
  validKey: string;
  /** "event_type|version|invalid" */
  invalidKey: string;
  /** upcast: the event_data to write instead (`version`, `id` and `headers` are the target's); keys are the sent version's */
  data?: Record<string, unknown>;
}

export interface PayloadFailure {
  ok: false;
  version: number | null;
  /** "event_type|version|invalid", version `unknown` when none matched */
  invalidKey: string;
  errors: EventError[];
}

export type PayloadVerdict = PayloadPass | PayloadFailure;

interface VersionEntry {
  pass: PayloadPass;
  validate: ValidateFunction;
  /** the type's upcast from this version, and the version it writes */
  upcast?: { fn: Upcaster; target: VersionEntry };
}

interface TypeEntry {
  defaultVersion: number;
  versions: Map<number, VersionEntry>;
  known: string;
}

function pass(type: string, version: number | null, id: number | null): PayloadPass {
  const v = version === null ? 'none' : String(version);
  const headers = version === null ? [] : id === null ? [v] : [v, String(id)];
  return { ok: true, version, id, headers, validKey: `${type}|${v}|valid`, invalidKey: `${type}|${v}|invalid` };
}

/** Types without schemas: one pass each, made once per thread. */
const NO_SCHEMA = new Map<string, PayloadPass>();

export class PayloadValidators {
  readonly generation: number;
  private readonly types = new Map<string, TypeEntry>();

  /** Throws when a schema does not compile (the loader compiles them first, so that is a bug). */
  constructor(snapshot: SchemaSetSnapshot) {
    this.generation = snapshot.generation;
    for (const t of snapshot.types) {
      const versions = new Map<number, VersionEntry>();
      for (const v of t.versions) versions.set(v.version, { pass: pass(t.eventType, v.version, v.id), validate: compilePayloadSchema(v.schema) });
      const target = t.upcast ? versions.get(t.upcast.to) : undefined;
      if (target) for (const [from, fn] of upcasters(t)) versions.get(from)!.upcast = { fn, target };
      this.types.set(t.eventType, { defaultVersion: t.defaultVersion, versions, known: [...versions.keys()].join(', ') });
    }
  }

  get empty(): boolean {
    return this.types.size === 0;
  }

  /** Whether events of this type have payload schemas (judge() then needs their event_data). */
  hasSchemas(type: string): boolean {
    return this.types.has(type);
  }

  /** judge() of an event of a type without schemas and without schema_version: no object needed. */
  judgeUnversioned(type: string): PayloadPass {
    let p = NO_SCHEMA.get(type);
    if (p === undefined) {
      p = pass(type, null, null);
      NO_SCHEMA.set(type, p);
    }
    return p;
  }

  /** `e` has passed the envelope schema: event_type is known, schema_version absent or an integer. */
  judge(e: Record<string, unknown>): PayloadVerdict {
    const type = e.event_type as string;
    const asked = e.schema_version as number | undefined;
    const t = this.types.get(type);
    if (t === undefined) {
      if (asked === undefined) return this.judgeUnversioned(type);
      return { ok: false, version: null, invalidKey: `${type}|unknown|invalid`, errors: [unknownVersion(asked, `event_type ${type} has no registered payload schema`)] };
    }
    const v = t.versions.get(asked ?? t.defaultVersion);
    if (v === undefined) {
      return { ok: false, version: null, invalidKey: `${type}|unknown|invalid`, errors: [unknownVersion(asked ?? t.defaultVersion, `known versions of ${type}: ${t.known}`)] };
    }
    if (v.validate(e.event_data)) return v.upcast ? upcast(v, type, e.event_data as Record<string, unknown>) : v.pass;
    const version = v.pass.version!;
    return { ok: false, version, invalidKey: v.pass.invalidKey, errors: payloadErrors(v.validate.errors ?? [], type, version) };
  }
}

/** Valid as sent: rewritten to the upcast target, which the result must satisfy (a wrong step never reaches the topic). */
function upcast(v: VersionEntry, type: string, data: Record<string, unknown>): PayloadVerdict {
  const { fn, target } = v.upcast!;
  const out = fn(data);
  const from = v.pass.version!;
  const to = target.pass.version!;
  if (target.validate(out)) return { ...target.pass, validKey: v.pass.validKey, invalidKey: v.pass.invalidKey, data: out };
  const errors = payloadErrors(target.validate.errors ?? [], type, to).map((x) => ({ ...x, message: `upcast from v${from}: ${x.message}` }));
  return { ok: false, version: from, invalidKey: v.pass.invalidKey, errors };
}

function unknownVersion(v: number, why: string): EventError {
  return { code: 'unknown_schema_version', path: '/schema_version', message: `schema_version ${v} is not registered: ${why}` };
}

function codeOf(e: ErrorObject): EventErrorCode {
  switch (e.keyword) {
    case 'required':
      return 'missing_field';
    case 'type':
      return 'wrong_type';
    case 'format':
      return 'invalid_format';
    case 'additionalProperties':
    case 'unevaluatedProperties':
      return 'unexpected_field';
    case 'minLength':
    case 'maxLength':
    case 'minItems':
    case 'maxItems':
      return 'invalid_length';
    case 'maxProperties':
      return 'too_many_fields';
    case 'enum':
    case 'const':
    case 'minimum':
    case 'maximum':
    case 'exclusiveMinimum':
    case 'exclusiveMaximum':
    case 'multipleOf':
    case 'pattern':
      return 'invalid_value';
    default:
      return 'invalid';
  }
}

function payloadErrors(errors: ErrorObject[], type: string, version: number): EventError[] {
  const out: EventError[] = [];
  const seen = new Set<string>();
  for (const e of errors) {
    let path = `/event_data${e.instancePath}`;
    let message = e.message ?? 'invalid';
    const p = e.params as Record<string, unknown>;
    if (e.keyword === 'required') path += `/${String(p.missingProperty)}`;
    else if (e.keyword === 'additionalProperties' || e.keyword === 'unevaluatedProperties') {
      const name = String(p.additionalProperty ?? p.unevaluatedProperty);
      path += `/${name}`;
      message = 'is not a field of this schema version';
    } else if (e.keyword === 'enum') message += `: ${(p.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    if (seen.has(path)) continue;
    seen.add(path);
    out.push({ code: codeOf(e), path, message: `${message} (${type} v${version})` });
    if (out.length >= MAX_ERRORS) break;
  }
  if (out.length === 0) out.push({ code: 'invalid', path: '/event_data', message: `event_data does not match ${type} v${version}` });
  return out;
}
