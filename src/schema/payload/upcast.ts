/**
 * Upcasting: declarative steps (rename, default, drop) that turn an event_data of version N into
 * the next version, chained up to the type's `upcast.to`, for teams whose consumers want one
 * version on the topic. Checked when loaded (every version below `to` has its steps, each step is
 * well formed); applied to a copy, and the result must pass the target version's schema (the
 * decoder rejects it otherwise), so a wrong step cannot put an invalid record on the topic.
 */
import type { TypeSchemas, Upcast, UpcastStep } from './types.js';

export type Upcaster = (data: Record<string, unknown>) => Record<string, unknown>;

const isName = (v: unknown): v is string => typeof v === 'string' && v.length > 0;

function stepProblem(s: unknown): string | null {
  if (typeof s !== 'object' || s === null || Array.isArray(s) || Object.keys(s).length !== 1) return 'a step is one of {"rename": {"from", "to"}}, {"default": {"field", "value"}}, {"drop": "field"}';
  const o = s as Record<string, unknown>;
  if ('rename' in o) {
    const r = o.rename as { from?: unknown; to?: unknown } | null;
    return r && isName(r.from) && isName(r.to) ? null : 'rename needs {"from": "<field>", "to": "<field>"}';
  }
  if ('default' in o) {
    const d = o.default as { field?: unknown; value?: unknown } | null;
    return d && isName(d.field) && 'value' in d ? null : 'default needs {"field": "<field>", "value": <any JSON>}';
  }
  if ('drop' in o) return isName(o.drop) ? null : 'drop needs "<field>"';
  return `unknown step ${JSON.stringify(Object.keys(o)[0])}: rename, default or drop`;
}

/** The config.json `upcast` of a type with these versions, or why it cannot be used. */
export function parseUpcast(raw: unknown, versions: readonly number[]): Upcast | string {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return 'upcast is {"to": <version>, "steps": {"<from version>": [steps]}}';
  const { to, steps } = raw as { to?: unknown; steps?: unknown };
  if (!Number.isInteger(to) || !versions.includes(to as number)) return `upcast.to ${JSON.stringify(to)} is not a loaded version (${versions.join(', ')})`;
  if (typeof steps !== 'object' || steps === null || Array.isArray(steps)) return 'upcast.steps is {"<from version>": [steps]}';
  const out: Record<string, UpcastStep[]> = {};
  for (const v of versions) {
    if (v >= (to as number)) break;
    const list = (steps as Record<string, unknown>)[String(v)];
    if (!Array.isArray(list)) return `upcast.steps has no steps from v${v} (a list, empty when nothing changes)`;
    for (const s of list) {
      const why = stepProblem(s);
      if (why !== null) return `upcast.steps["${v}"]: ${why}`;
    }
    out[String(v)] = list as UpcastStep[];
  }
  return { to: to as number, steps: out };
}

function apply(data: Record<string, unknown>, step: UpcastStep): void {
  if ('rename' in step) {
    if (Object.hasOwn(data, step.rename.from)) {
      data[step.rename.to] = data[step.rename.from];
      delete data[step.rename.from];
    }
  } else if ('default' in step) {
    if (!Object.hasOwn(data, step.default.field)) data[step.default.field] = structuredClone(step.default.value);
  } else {
    delete data[step.drop];
  }
}

/** version → the function that turns its event_data into the target's; none for the target and later. */
export function upcasters(t: TypeSchemas): Map<number, Upcaster> {
  const out = new Map<number, Upcaster>();
  const u = t.upcast;
  if (u === undefined) return out;
  const chain = t.versions.map((v) => v.version).filter((v) => v < u.to);
  chain.forEach((from, i) => {
    const steps = chain.slice(i).flatMap((v) => u.steps[String(v)] ?? []);
    out.set(from, (data) => {
      const copy = { ...data };
      for (const s of steps) apply(copy, s);
      return copy;
    });
  });
  return out;
}
