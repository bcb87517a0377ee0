/**
 * The compatibility checker against a table of schema changes, for every mode: each row
 * says which direction the change breaks (B: the new version cannot read old data; F: the
 * old version cannot read new data), and the expectation for each mode follows from that
 * with the registry's rules.
 */
import t from 'tap';
import { diffSchemas, incompatibilities } from '../../src/schema/payload/compatibility.js';
import { COMPATIBILITY_MODES, type CompatibilityMode, type JsonSchema } from '../../src/schema/payload/types.js';

const obj = (props: Record<string, JsonSchema>, required: string[], closed: boolean): JsonSchema => ({
  type: 'object',
  properties: props,
  required,
  ...(closed ? { additionalProperties: false } : {}),
});

interface Row {
  name: string;
  old: JsonSchema;
  new: JsonSchema;
  breaksBackward: boolean;
  breaksForward: boolean;
  /** words the breaking message must hold */
  says?: string;
}

const base = { score: { type: 'number' } as JsonSchema, name: { type: 'string' } as JsonSchema };
const rows: Row[] = [];
for (const closed of [true, false]) {
  const model = closed ? 'closed' : 'open';
  const v = (props: Record<string, JsonSchema>, req: string[]) => obj(props, req, closed);
  rows.push(
    { name: `${model}: unchanged`, old: v(base, ['score']), new: v(base, ['score']), breaksBackward: false, breaksForward: false },
    {
      name: `${model}: adding an optional field`, old: v(base, ['score']), new: v({ ...base, grade: { type: 'string' } }, ['score']),
      // closed: old data never had it (B fine), old readers refuse it (F breaks); open: old data may hold anything under it.
      breaksBackward: !closed, breaksForward: closed, says: 'adds optional field `grade`',
    },
    {
      name: `${model}: adding a required field`, old: v(base, ['score']), new: v({ ...base, grade: { type: 'string' } }, ['score', 'grade']),
      breaksBackward: true, breaksForward: closed, says: 'adds required field `grade`',
    },
    {
      name: `${model}: removing an optional field`, old: v(base, ['score']), new: v({ score: base.score }, ['score']),
      breaksBackward: closed, breaksForward: !closed, says: 'removes field `name`',
    },
    {
      name: `${model}: removing a required field`, old: v(base, ['score']), new: v({ name: base.name }, []),
      breaksBackward: closed, breaksForward: true, says: 'removes required field `score`',
    },
    {
      name: `${model}: narrowing a type (number → integer)`, old: v(base, ['score']), new: v({ ...base, score: { type: 'integer' } }, ['score']),
      breaksBackward: true, breaksForward: false, says: 'narrows the type of `score` from number to integer',
    },
    {
      name: `${model}: widening a type (integer → number)`, old: v({ ...base, score: { type: 'integer' } }, ['score']), new: v(base, ['score']),
      breaksBackward: false, breaksForward: true, says: 'widens the type of `score`',
    },
    {
      name: `${model}: changing a type (number → string)`, old: v(base, ['score']), new: v({ ...base, score: { type: 'string' } }, ['score']),
      breaksBackward: true, breaksForward: true, says: 'changes the type of `score`',
    },
    {
      name: `${model}: adding an enum value`, old: v({ level: { enum: ['a', 'b'] } }, []), new: v({ level: { enum: ['a', 'b', 'c'] } }, []),
      breaksBackward: false, breaksForward: true, says: 'adds enum value(s) "c" to `level`',
    },
    {
      name: `${model}: removing an enum value`, old: v({ level: { enum: ['a', 'b'] } }, []), new: v({ level: { enum: ['a'] } }, []),
      breaksBackward: true, breaksForward: false, says: 'removes enum value(s) "b" of `level`',
    },
    {
      name: `${model}: a nested field made required`, old: v({ who: { type: 'object', properties: { id: { type: 'string' } } } }, []),
      new: v({ who: { type: 'object', properties: { id: { type: 'string' } }, required: ['id'] } }, []),
      breaksBackward: true, breaksForward: false, says: 'makes field `who.id` required',
    },
  );
}
rows.push(
  {
    name: 'closing an open content model', old: obj(base, ['score'], false), new: obj(base, ['score'], true),
    breaksBackward: true, breaksForward: false, says: 'closes the content model of the payload',
  },
  {
    name: 'opening a closed content model', old: obj(base, ['score'], true), new: obj(base, ['score'], false),
    breaksBackward: false, breaksForward: true, says: 'opens the content model',
  },
  {
    name: 'open: adding an unconstrained optional field', old: obj(base, [], false), new: obj({ ...base, note: {} }, [], false),
    breaksBackward: false, breaksForward: false,
  },
  {
    name: 'tightening a bound', old: obj({ score: { type: 'number', maximum: 100 } }, [], true), new: obj({ score: { type: 'number', maximum: 10 } }, [], true),
    breaksBackward: true, breaksForward: false, says: 'tightens maximum of `score` from 100 to 10',
  },
);

function expected(mode: CompatibilityMode, r: Row): boolean {
  if (mode === 'NONE') return true;
  const b = mode.startsWith('BACKWARD') || mode.startsWith('FULL');
  const f = mode.startsWith('FORWARD') || mode.startsWith('FULL');
  return !((b && r.breaksBackward) || (f && r.breaksForward));
}

for (const r of rows) {
  t.test(r.name, async (t) => {
    const changes = diffSchemas(r.old, r.new);
    t.equal(changes.some((c) => c.breaksBackward), r.breaksBackward, 'breaks BACKWARD?');
    t.equal(changes.some((c) => c.breaksForward), r.breaksForward, 'breaks FORWARD?');
    for (const mode of COMPATIBILITY_MODES) {
      const reasons = incompatibilities(mode, r.new, [{ version: 1, schema: r.old }]);
      t.equal(reasons.length === 0, expected(mode, r), `${mode}: ${reasons.join('; ') || 'compatible'}`);
      for (const reason of reasons) {
        t.match(reason, new RegExp(`: not ${mode} compatible with v1$`), 'names the rule and the version');
      }
      if (reasons.length > 0 && r.says) t.ok(reasons.some((m) => m.includes(r.says!)), `names the field: ${r.says}`);
    }
  });
}

t.test('the issue example: removing a required field of a closed model, named with the rule', async (t) => {
  const v2 = obj({ score: { type: 'number' }, max: { type: 'number' } }, ['score'], true);
  const v3 = obj({ max: { type: 'number' } }, [], true);
  t.same(incompatibilities('BACKWARD', v3, [{ version: 2, schema: v2 }]), [
    'removes required field `score` from a closed content model: not BACKWARD compatible with v2',
  ]);
});

t.test('transitive modes compare with every earlier version, the others with the last only', async (t) => {
  const v1 = obj({ a: { type: 'string' } }, ['a'], true);
  // v2 broke v1 (allowed under NONE at the time); v3 is v2 plus an optional field.
  const v2 = obj({ b: { type: 'string' } }, ['b'], true);
  const v3 = obj({ b: { type: 'string' }, c: { type: 'integer' } }, ['b'], true);
  const earlier = [{ version: 1, schema: v1 }, { version: 2, schema: v2 }];
  t.same(incompatibilities('BACKWARD', v3, earlier), []);
  const transitive = incompatibilities('BACKWARD_TRANSITIVE', v3, earlier);
  t.ok(transitive.length > 0 && transitive.every((m) => m.endsWith('not BACKWARD_TRANSITIVE compatible with v1')), transitive.join('; '));
  t.ok(transitive.some((m) => m.includes('adds required field `b`')));
  t.same(incompatibilities('FULL', v3, earlier).length > 0, true, 'closed model + new field breaks FORWARD, so FULL');
  t.same(incompatibilities('NONE', v3, earlier), []);
});

t.test('keywords the checker does not model count as breaking both ways when they change', async (t) => {
  const a = { type: 'object', oneOf: [{ required: ['x'] }, { required: ['y'] }] } as JsonSchema;
  const b = { type: 'object', oneOf: [{ required: ['x'] }] } as JsonSchema;
  const c = diffSchemas(a, b);
  t.ok(c.some((x) => x.breaksBackward && x.breaksForward && x.message.includes('`oneOf`')));
  t.same(diffSchemas(a, a), []);
});
