#!/usr/bin/env node
/**
 * Generates native/codec/src/event_check.gen.h — the tables the C scanner validates each event
 * envelope with (native/codec/src/envelope.c) — from the TypeBox EventSchema in
 * src/schema/event.ts, so that schema stays the one source of truth. Run by the build
 * (package.json build:native*) before node-gyp, on a clean clone too: it needs no dist/, it
 * transpiles event.ts with the typescript devDependency and imports it.
 *
 * It fails the build on any keyword it does not translate (a pattern, a nested object, a
 * number bound, a format without a C matcher): a schema change must never be validated more
 * loosely in C than in TypeBox. The differential test (test/codec/envelope.test.ts) checks the
 * result against TypeBox's compiled Check.
 */
import { mkdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..', '..');
const source = join(root, 'src', 'schema', 'event.ts');
const target = join(here, '..', 'src', 'event_check.gen.h');

/** Formats the C side implements (envelope.c), by TypeBox FormatRegistry name. */
const FORMATS = { uuid: 'EVF_UUID', 'date-time': 'EVF_DATE_TIME' };
/**
 * Properties whose bytes the decoder reads (src/codec/envelope.ts): a string's content (required
 * ones must be strings), or a record's or an integer's whole value (event_data for the payload
 * schemas, schema_version to pick one).
 */
const CAPTURES = ['event_id', 'learner_id', 'tenant_id', 'event_type', 'event_data', 'schema_version', 'timestamp'];
/** Keywords that only annotate. */
const ANNOTATIONS = new Set(['description', 'title', 'examples', '$id', '$comment']);
const ANY_KEY = '^(.*)$';

function fail(path, why) {
  throw new Error(`event-check generator: ${path}: ${why} (add it to native/codec/gen/event-check.mjs and envelope.c, or change the schema)`);
}

function keywords(schema, path, allowed) {
  for (const k of Object.keys(schema)) if (!allowed.has(k) && !ANNOTATIONS.has(k)) fail(path, `keyword "${k}" is not translated to C`);
}

function int32(v, path, what) {
  if (v === undefined) return -1;
  if (!Number.isInteger(v) || v < 0 || v > 0x7fffffff) fail(path, `${what} ${v} out of range`);
  return v;
}

const cstr = (s) => JSON.stringify(s); // property names and enum values are checked to be printable ASCII

function ascii(s, path) {
  if (!/^[\x20-\x7e]*$/.test(s) || s.includes('"') || s.includes('\\')) fail(path, `"${s}" is not plain ASCII (the C side compares raw bytes)`);
  return s;
}

function property(name, s, path, required) {
  const p = { name: ascii(name, path), required, kind: null, minLen: -1, maxLen: -1, format: '0', enumValues: [], min: null, max: null, exMin: null, exMax: null, minProps: -1, maxProps: -1 };
  if (s.anyOf) {
    keywords(s, path, new Set(['anyOf']));
    for (const [i, alt] of s.anyOf.entries()) {
      keywords(alt, `${path}/anyOf/${i}`, new Set(['const', 'type']));
      if (alt.type !== 'string' || typeof alt.const !== 'string') fail(`${path}/anyOf/${i}`, 'only unions of string literals are translated');
      p.enumValues.push(ascii(alt.const, path));
    }
    p.kind = 'EVK_ENUM';
    return p;
  }
  if (typeof s.const === 'string') {
    keywords(s, path, new Set(['const', 'type']));
    p.kind = 'EVK_ENUM';
    p.enumValues.push(ascii(s.const, path));
    return p;
  }
  if (Object.keys(s).every((k) => ANNOTATIONS.has(k))) {
    p.kind = 'EVK_ANY';
    return p;
  }
  switch (s.type) {
    case 'string':
      keywords(s, path, new Set(['type', 'minLength', 'maxLength', 'format']));
      p.kind = 'EVK_STRING';
      p.minLen = int32(s.minLength, path, 'minLength');
      p.maxLen = int32(s.maxLength, path, 'maxLength');
      if (s.format !== undefined) p.format = FORMATS[s.format] ?? fail(path, `format "${s.format}" has no C matcher`);
      return p;
    case 'integer':
      keywords(s, path, new Set(['type', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum']));
      p.kind = 'EVK_INTEGER';
      for (const [k, f] of [['minimum', 'min'], ['maximum', 'max'], ['exclusiveMinimum', 'exMin'], ['exclusiveMaximum', 'exMax']]) {
        if (s[k] === undefined) continue;
        if (typeof s[k] !== 'number' || !Number.isFinite(s[k]) || Math.abs(s[k]) >= 1e15) fail(path, `${k} ${s[k]} is not translated`);
        p[f] = s[k];
      }
      return p;
    case 'number':
      keywords(s, path, new Set(['type']));
      p.kind = 'EVK_NUMBER';
      return p;
    case 'boolean':
      keywords(s, path, new Set(['type']));
      p.kind = 'EVK_BOOLEAN';
      return p;
    case 'object': {
      // Only Type.Record(Type.String(), Type.Unknown()): any keys, any values, a key count.
      keywords(s, path, new Set(['type', 'patternProperties', 'minProperties', 'maxProperties']));
      const pp = s.patternProperties ?? {};
      const keys = Object.keys(pp);
      if (keys.length !== 1 || keys[0] !== ANY_KEY || Object.keys(pp[ANY_KEY]).some((k) => !ANNOTATIONS.has(k))) {
        fail(path, 'only Type.Record(Type.String(), Type.Unknown()) objects are translated');
      }
      p.kind = 'EVK_RECORD';
      p.minProps = int32(s.minProperties, path, 'minProperties');
      p.maxProps = int32(s.maxProperties, path, 'maxProperties');
      return p;
    }
    default:
      return fail(path, `type ${JSON.stringify(s.type)} is not translated`);
  }
}

function generate(schema) {
  keywords(schema, '#', new Set(['type', 'properties', 'required', 'additionalProperties', 'minProperties', 'maxProperties']));
  if (schema.type !== 'object') fail('#', 'the event must be an object schema');
  if (schema.additionalProperties !== undefined && typeof schema.additionalProperties !== 'boolean') fail('#', 'additionalProperties must be true or false');
  const required = new Set(schema.required ?? []);
  const names = Object.keys(schema.properties);
  if (names.length > 24) fail('#', 'more than 24 properties (the presence mask is 24 bits)');
  for (const r of required) if (!names.includes(r)) fail('#', `required "${r}" is not a property`);
  const props = names.map((n) => property(n, schema.properties[n], `#/properties/${n}`, required.has(n)));
  for (const c of CAPTURES) {
    const p = props.find((q) => q.name === c);
    if (!p) fail(`#/properties/${c}`, 'the decoder reads it from the bytes: it must be a property');
    const string = p.kind === 'EVK_STRING' || p.kind === 'EVK_ENUM';
    if (!string && p.kind !== 'EVK_RECORD' && p.kind !== 'EVK_INTEGER') fail(`#/properties/${c}`, 'only strings, records and integers are captured');
    if (string && !p.required) fail(`#/properties/${c}`, 'a captured string must be required (the decoder reads it for every event)');
  }
  if (CAPTURES.length > 15) fail('#', 'more than 15 captures (one verdict bit each)');
  const dbl = (v) => (v === null ? '0' : String(v));
  const lines = [
    '/* GENERATED by native/codec/gen/event-check.mjs from src/schema/event.ts (EventSchema) at build time.',
    ' * Do not edit; do not commit (.gitignore). */',
    '#ifndef EVENT_CHECK_GEN_H',
    '#define EVENT_CHECK_GEN_H',
    `#define EV_NPROPS ${props.length}`,
    `#define EV_NCAPTURES ${CAPTURES.length}`,
    `#define EV_MIN_PROPERTIES ${int32(schema.minProperties, '#', 'minProperties')}`,
    `#define EV_MAX_PROPERTIES ${int32(schema.maxProperties, '#', 'maxProperties')}`,
    `#define EV_ADDITIONAL_PROPERTIES ${schema.additionalProperties === false ? 0 : 1}`,
    `#define EV_REQUIRED_MASK 0x${props.reduce((m, p, i) => (p.required ? m | (1 << i) : m), 0).toString(16)}u`,
    ...props.map((p, i) => (p.enumValues.length ? `static const char *const ev_enum_${i}[] = {${p.enumValues.map(cstr).join(', ')}};` : '')).filter(Boolean),
    'static const ev_prop_t EV_PROPS[EV_NPROPS] = {',
    ...props.map((p, i) => {
      const cap = CAPTURES.indexOf(p.name);
      const en = p.enumValues.length ? `ev_enum_${i}, ${p.enumValues.length}` : 'NULL, 0';
      return `  {${cstr(p.name)}, ${p.name.length}, ${p.kind}, ${p.minLen}, ${p.maxLen}, ${p.format}, ${en}, ` +
        `${p.min !== null ? 1 : 0}, ${dbl(p.min)}, ${p.max !== null ? 1 : 0}, ${dbl(p.max)}, ${p.exMin !== null ? 1 : 0}, ${dbl(p.exMin)}, ${p.exMax !== null ? 1 : 0}, ${dbl(p.exMax)}, ` +
        `${p.minProps}, ${p.maxProps}, ${cap}},`;
    }),
    '};',
    `static const char *const EV_CAPTURE_NAMES[EV_NCAPTURES] = {${CAPTURES.map(cstr).join(', ')}};`,
    `static const char *const EV_PROP_NAMES[EV_NPROPS] = {${props.map((p) => cstr(p.name)).join(', ')}};`,
    '#endif',
    '',
  ];
  return lines.join('\n');
}

async function loadSchema() {
  // Transpile only (no type check, no dist/): event.ts imports nothing but typebox.
  const js = ts.transpileModule(readFileSync(source, 'utf8'), { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText;
  const tmp = join(here, `.event-schema-${process.pid}.mjs`); // beside the repo's node_modules, so 'typebox' resolves
  writeFileSync(tmp, js);
  try {
    const m = await import(pathToFileURL(tmp).href);
    return JSON.parse(JSON.stringify(m.EventSchema)); // the JSON Schema TypeBox built, without its symbols
  } finally {
    rmSync(tmp, { force: true });
  }
}

const text = generate(await loadSchema());
// Unchanged output keeps the file's mtime, so `node-gyp build` does not recompile for nothing.
if (!existsSync(target) || readFileSync(target, 'utf8') !== text) {
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, text);
}
