/**
 * Compatibility of two JSON Schema versions with the registry's semantics (the rules
 * Confluent Schema Registry applies to JSON Schema, which Karapace and Apicurio follow):
 *
 *   BACKWARD  the new version can read data written under the previous one
 *   FORWARD   the previous version can read data written under the new one
 *   FULL      both;  NONE: no check;  *_TRANSITIVE: against every earlier version, not just the last
 *
 * The checker diffs old → new once, classifies each change by which direction it breaks,
 * and reports the breaking ones in words that name the field and the rule, e.g.
 * "removes required field `score`: not FORWARD compatible with v2".
 *
 * Content models matter as in the registry: with an open model (additionalProperties
 * absent or true) old data may hold any field, so a new constrained property breaks
 * BACKWARD; with a closed model (additionalProperties: false) adding an optional field is
 * BACKWARD compatible and removing one is not. Keywords it does not understand are
 * compared for equality: a change there counts as breaking both ways, never as safe.
 */
import type { CompatibilityMode, JsonSchema } from './types.js';

export interface Change {
  message: string;
  breaksBackward: boolean;
  breaksForward: boolean;
}

type Obj = { [k: string]: unknown };

/** Keywords that only describe; a schema with nothing else accepts anything. */
const ANNOTATIONS = new Set(['$schema', '$id', '$comment', 'title', 'description', 'examples', 'default', 'deprecated', 'readOnly', 'writeOnly', '$defs', 'definitions']);
/** Keywords this checker compares structurally; any other keyword is compared for equality. */
const HANDLED = new Set([
  'type', 'properties', 'required', 'additionalProperties', 'enum', 'const', 'items',
  'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'minLength', 'maxLength',
  'minItems', 'maxItems', 'minProperties', 'maxProperties', 'pattern', 'format', 'multipleOf',
]);
const LOWER_BOUNDS = ['minimum', 'exclusiveMinimum', 'minLength', 'minItems', 'minProperties'] as const;
const UPPER_BOUNDS = ['maximum', 'exclusiveMaximum', 'maxLength', 'maxItems', 'maxProperties'] as const;
const ALL_TYPES = ['null', 'boolean', 'object', 'array', 'number', 'string'];

function obj(s: JsonSchema | undefined): Obj {
  if (s === undefined || s === true) return {};
  if (s === false) return { not: {} };
  return s;
}

/** True when the schema accepts every value. */
export function unconstrained(s: JsonSchema | undefined): boolean {
  if (s === undefined || s === true) return true;
  if (s === false) return false;
  return Object.keys(s).every((k) => ANNOTATIONS.has(k));
}

/** Type names the schema allows; integer is a subset of number. Absent: all. */
function types(s: Obj): Set<string> {
  const t = s.type;
  if (t === undefined) return new Set([...ALL_TYPES, 'integer']);
  const list = Array.isArray(t) ? (t as string[]) : [t as string];
  const out = new Set(list);
  if (out.has('number')) out.add('integer');
  return out;
}

function enumOf(s: Obj): unknown[] | undefined {
  if ('const' in s) return [s.const];
  return Array.isArray(s.enum) ? s.enum : undefined;
}

const key = (v: unknown) => JSON.stringify(v);
const field = (path: string) => `\`${path}\``;
const describe = (set: Set<string>) => [...set].filter((t) => !(t === 'integer' && set.has('number'))).sort().join('|');

export function diffSchemas(oldS: JsonSchema, newS: JsonSchema, path = ''): Change[] {
  const out: Change[] = [];
  const add = (message: string, breaksBackward: boolean, breaksForward: boolean) => out.push({ message, breaksBackward, breaksForward });
  const where = path === '' ? 'the payload' : field(path);
  if (unconstrained(oldS) && unconstrained(newS)) return out;
  const o = obj(oldS);
  const n = obj(newS);

  // type
  const ot = types(o);
  const nt = types(n);
  const lost = [...ot].filter((t) => !nt.has(t));
  const gained = [...nt].filter((t) => !ot.has(t));
  if (lost.length > 0 && gained.length > 0) add(`changes the type of ${where} from ${describe(ot)} to ${describe(nt)}`, true, true);
  else if (lost.length > 0) add(`narrows the type of ${where} from ${describe(ot)} to ${describe(nt)}`, true, false);
  else if (gained.length > 0) add(`widens the type of ${where} from ${describe(ot)} to ${describe(nt)}`, false, true);

  // enum / const
  const oe = enumOf(o);
  const ne = enumOf(n);
  if (oe && ne) {
    const ns = new Set(ne.map(key));
    const os = new Set(oe.map(key));
    const removed = oe.filter((v) => !ns.has(key(v)));
    const added = ne.filter((v) => !os.has(key(v)));
    if (removed.length) add(`removes enum value(s) ${removed.map(key).join(', ')} of ${where}`, true, false);
    if (added.length) add(`adds enum value(s) ${added.map(key).join(', ')} to ${where}`, false, true);
  } else if (ne) {
    add(`restricts ${where} to the values ${ne.map(key).join(', ')}`, true, false);
  } else if (oe) {
    add(`lifts the value restriction of ${where}`, false, true);
  }

  // bounds: tighter breaks BACKWARD (old data may be out of the new range), looser breaks FORWARD
  for (const [list, tighter] of [[LOWER_BOUNDS, (a: number, b: number) => b > a], [UPPER_BOUNDS, (a: number, b: number) => b < a]] as const) {
    for (const k of list) {
      const a = o[k] as number | undefined;
      const b = n[k] as number | undefined;
      if (a === b) continue;
      if (a === undefined) add(`adds ${k} ${b} to ${where}`, true, false);
      else if (b === undefined) add(`drops ${k} ${a} of ${where}`, false, true);
      else if (tighter(a, b)) add(`tightens ${k} of ${where} from ${a} to ${b}`, true, false);
      else add(`loosens ${k} of ${where} from ${a} to ${b}`, false, true);
    }
  }
  for (const k of ['pattern', 'format', 'multipleOf'] as const) {
    const a = o[k];
    const b = n[k];
    if (key(a) === key(b)) continue;
    if (a === undefined) add(`adds ${k} ${key(b)} to ${where}`, true, false);
    else if (b === undefined) add(`drops ${k} ${key(a)} of ${where}`, false, true);
    else add(`changes ${k} of ${where} from ${key(a)} to ${key(b)}`, true, true);
  }

  // anything else: equal or breaking both ways
  for (const k of new Set([...Object.keys(o), ...Object.keys(n)])) {
    if (HANDLED.has(k) || ANNOTATIONS.has(k)) continue;
    if (key(o[k]) !== key(n[k])) add(`changes \`${k}\` of ${where} (not compared structurally)`, true, true);
  }

  // objects
  if (ot.has('object') || nt.has('object')) objectChanges(o, n, path, add);

  // arrays
  if ((ot.has('array') || nt.has('array')) && ('items' in o || 'items' in n)) {
    out.push(...diffSchemas((o.items as JsonSchema | undefined) ?? true, (n.items as JsonSchema | undefined) ?? true, `${path}[]`));
  }
  return out;
}

function objectChanges(o: Obj, n: Obj, path: string, add: (m: string, b: boolean, f: boolean) => void): void {
  const op = (o.properties ?? {}) as Record<string, JsonSchema>;
  const np = (n.properties ?? {}) as Record<string, JsonSchema>;
  const oreq = new Set((o.required ?? []) as string[]);
  const nreq = new Set((n.required ?? []) as string[]);
  const oAdd = o.additionalProperties as JsonSchema | undefined;
  const nAdd = n.additionalProperties as JsonSchema | undefined;
  const sub = (k: string) => (path === '' ? k : `${path}.${k}`);
  const subChanges: Change[] = [];

  for (const k of Object.keys(op)) {
    const f = sub(k);
    if (k in np) {
      subChanges.push(...diffSchemas(op[k]!, np[k]!, f));
      continue;
    }
    // Removed. New readers see it in old data: fine unless the new model is closed (or constrains extras).
    const backward = nAdd === false || (nAdd !== undefined && !unconstrained(nAdd));
    // Old readers see whatever new writers put under that name: fine only if the new model is closed.
    const forward = nAdd !== false && !unconstrained(op[k]);
    const what = oreq.has(k) ? 'removes required field' : 'removes field';
    add(`${what} ${field(f)}${backward ? ' from a closed content model' : ''}`, backward, forward || oreq.has(k));
  }
  for (const k of Object.keys(np)) {
    if (k in op) continue;
    const f = sub(k);
    // Old data may already hold this name with any value if the old model was open.
    const backward = oAdd !== false && !unconstrained(np[k]);
    // Old readers with a closed model refuse the new field.
    const forward = oAdd === false || (oAdd !== undefined && !unconstrained(oAdd));
    const what = nreq.has(k) ? 'adds required field' : 'adds optional field';
    add(`${what} ${field(f)}${oAdd === false ? '' : ' to an open content model'}`, backward || nreq.has(k), forward);
  }
  for (const k of nreq) {
    if (!oreq.has(k) && k in op) add(`makes field ${field(sub(k))} required`, true, false);
  }
  for (const k of oreq) {
    if (!nreq.has(k) && k in np) add(`makes required field ${field(sub(k))} optional`, false, true);
  }
  const oClosed = oAdd === false;
  const nClosed = nAdd === false;
  if (!oClosed && nClosed) add(`closes the content model of ${path === '' ? 'the payload' : field(path)}`, true, false);
  if (oClosed && !nClosed) add(`opens the content model of ${path === '' ? 'the payload' : field(path)}`, false, true);
  if (!oClosed && !nClosed && key(oAdd ?? true) !== key(nAdd ?? true)) {
    for (const c of diffSchemas(oAdd ?? true, nAdd ?? true, `${path === '' ? '' : `${path}.`}*`)) add(c.message, c.breaksBackward, c.breaksForward);
  }
  for (const c of subChanges) add(c.message, c.breaksBackward, c.breaksForward);
}

export interface Earlier {
  version: number;
  schema: JsonSchema;
}

/**
 * The reasons `schema` (version `version`) may not follow `earlier` (ascending) under `mode`;
 * empty when it may.
 */
export function incompatibilities(mode: CompatibilityMode, schema: JsonSchema, earlier: readonly Earlier[]): string[] {
  if (mode === 'NONE' || earlier.length === 0) return [];
  const against = mode.endsWith('_TRANSITIVE') ? earlier : earlier.slice(-1);
  const backward = mode.startsWith('BACKWARD') || mode.startsWith('FULL');
  const forward = mode.startsWith('FORWARD') || mode.startsWith('FULL');
  const out: string[] = [];
  for (const e of [...against].reverse()) {
    for (const c of diffSchemas(e.schema, schema)) {
      if ((backward && c.breaksBackward) || (forward && c.breaksForward)) out.push(`${c.message}: not ${mode} compatible with v${e.version}`);
    }
  }
  return out;
}
