/**
 * Differential fuzz of the C envelope validator (native/codec/src/envelope.c, generated from
 * EventSchema) against TypeBox and JSON.parse, on generated events and mutations of them:
 *  - a body the C side maps is one JSON.parse accepts (and every bare-array body JSON.parse
 *    accepts is mapped), with the same number of events, each element's bytes parsing to the
 *    element JSON.parse gave;
 *  - the C verdict agrees with TypeBox's Check wherever it gives one (VALID ⇒ Check true,
 *    INVALID ⇒ Check false), and the captured strings and presence bits are the parsed values;
 *  - decodeBatch with CODEC_NATIVE_ENVELOPE on gives the same outcome as with it off — answers,
 *    records, keys, headers, dead letters, warnings, schema counters — and every forwarded record
 *    JSON.parses to the validated event plus its defaults.
 * Seeded and deterministic. FUZZ_ENVELOPE_CASES sets the length (`npm run fuzz` runs a long one).
 */
import t from 'tap';
import { isDeepStrictEqual } from 'node:util';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { decodeBatch, type DecodeInput, type DecodeOutcome } from '../../src/codec/decode.js';
import { recordValue, type PackedRecords } from '../../src/codec/packed.js';
import { isValidEvent } from '../../src/codec/validator.js';
import { eventSpans } from '../../src/codec/spans.js';
import {
  CAPTURE, ENVELOPE_CAPTURED, ENVELOPE_ENUM_SHIFT, ENVELOPE_HEAD, ENVELOPE_INVALID, ENVELOPE_SAME_SHIFT, ENVELOPE_UNKNOWN, ENVELOPE_VALID, ENVELOPE_WORDS, EVENT_TYPE_VALUES,
  PRESENT, scanEnvelope, TENANT_CAPTURE,
} from '../../src/codec/envelope.js';
import { PayloadValidators } from '../../src/codec/payload.js';
import { loadFolder } from '../../src/schema/payload/folder.js';
import { EMPTY_SNAPSHOT } from '../../src/schema/payload/types.js';
import { KNOWN_EVENT_FIELDS } from '../../src/schema/event.js';
import { repoRoot } from '../../kafka/paths.js';

const CASES = Number(process.env.FUZZ_ENVELOPE_CASES ?? 3000);

// --- a seeded PRNG (mulberry32) ---
let state = 0x9e3779b9;
function rand(): number {
  state = (state + 0x6d2b79f5) | 0;
  let x = state;
  x = Math.imul(x ^ (x >>> 15), x | 1);
  x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
  return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
}
const int = (n: number) => Math.floor(rand() * n);
const chance = (p: number) => rand() < p;
const pick = <T>(a: readonly T[]): T => a[int(a.length)]!;

// --- a JSON tree that can say what JSON.stringify cannot: repeated keys, raw numbers, escaped keys ---
type J = { raw: string } | { obj: [string, J][] } | { arr: J[] } | string | number | boolean | null;
const raw = (s: string): J => ({ raw: s });
const obj = (m: [string, J][]): J => ({ obj: m });

const CHARS = ['a', 'Z', '0', '_', '-', ' ', 'é', '日', '😀', '"', '\\', '\n', '\u2028', '/', '\u0001'];
function randomString(max: number): string {
  let s = '';
  const n = int(max + 1);
  for (let i = 0; i < n; i++) s += chance(0.8) ? 'abcdefghijklmnopqrstuvwxyz0123456789_'[int(37)] : pick(CHARS);
  return s;
}

/** A string of exactly `units` UTF-16 code units, sometimes with astral characters. */
function ofLength(units: number): string {
  let s = '';
  while (s.length < units) s += units - s.length >= 2 && chance(0.1) ? '😀' : chance(0.1) ? 'é' : 'x';
  return s;
}

/** JSON text of a string, some characters escaped as \uXXXX (the same string to JSON.parse). */
function str(s: string, escapeSome: boolean): string {
  let out = JSON.stringify(s);
  if (escapeSome && s.length > 0) {
    const at = int(s.length);
    const code = s.charCodeAt(at);
    const body = out.slice(1, -1);
    const plain = JSON.stringify(s.slice(0, at)).slice(1, -1);
    if (body.startsWith(plain)) {
      const rest = JSON.stringify(s.slice(at + 1)).slice(1, -1);
      out = `"${plain}\\u${code.toString(16).padStart(4, '0')}${rest}"`;
    }
  }
  return out;
}

let pretty = false;
function write(j: J, escapeKeys: number, escapeStrings: number): string {
  const ws = () => (pretty && chance(0.3) ? pick([' ', '\n', '\t', '\r\n  ']) : '');
  if (j === null || typeof j === 'boolean' || typeof j === 'number') return JSON.stringify(j);
  if (typeof j === 'string') return str(j, chance(escapeStrings));
  if ('raw' in j) return j.raw;
  if ('arr' in j) return `[${ws()}${j.arr.map((v) => write(v, escapeKeys, escapeStrings)).join(`${ws()},${ws()}`)}${ws()}]`;
  return `{${ws()}${j.obj.map(([k, v]) => `${str(k, chance(escapeKeys))}${ws()}:${ws()}${write(v, escapeKeys, escapeStrings)}`).join(`${ws()},${ws()}`)}${ws()}}`;
}

function randomValue(depth: number): J {
  switch (int(depth > 3 ? 6 : 8)) {
    case 0: return null;
    case 1: return chance(0.5);
    case 2: return pick([0, 1, -1, 1.5, 1e21, -0.25, 123456789, 2 ** 53]);
    case 3: return raw(pick(['1.0', '1e2', '-0', '0.1e1', '12345678901234567890', '1e400', '1.50', '2E-3']));
    case 4:
    case 5: return randomString(12);
    case 6: return { arr: Array.from({ length: int(4) }, () => randomValue(depth + 1)) };
    default: return obj(Array.from({ length: int(5) }, () => [randomString(6), randomValue(depth + 1)] as [string, J]));
  }
}

const hex = (n: number) => Array.from({ length: n }, () => '0123456789abcdefABCDEF'[int(22)]).join('');
const uuid = () => `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`;

const TIMESTAMPS_OK = ['2026-01-01T00:00:00Z', '2024-02-29T12:00:00Z', '2000-02-29T00:00:00z', '2026-04-30t23:59:60+05:30', '2026-12-31 10:00:00.123456789-23:59', '2026-06-15T08:30:00.1+00:00'];
const TIMESTAMPS_BAD = ['2023-02-29T00:00:00Z', '1900-02-29T00:00:00Z', '2026-04-31T00:00:00Z', '2026-13-01T00:00:00Z', '2026-00-10T00:00:00Z', '2026-01-00T00:00:00Z',
  '2026-01-01T24:00:00Z', '2026-01-01T00:60:00Z', '2026-01-01T00:00:61Z', '2026-01-01T00:00:00.1234567890Z', '2026-01-01T00:00:00+24:00', '2026-01-01T00:00:00+00:60',
  '2026-01-01T00:00:00', '2026-01-01T00:00:00Z\n', '2026-01-01X00:00:00Z', '2026-01-01T00:00:00.Z', '２026-01-01T00:00:00Z', '', '2026-01-01T00:00:00+0000', '2026-01-01T00:00:00ZZ'];

/** A valid event, as a tree: field order shuffled sometimes, optional fields sometimes. */
function validEvent(): [string, J][] {
  const m: [string, J][] = [
    ['event_id', uuid()],
    ['learner_id', chance(0.8) ? `learner_${int(1000)}` : ofLength(1 + int(256))],
    ['tenant_id', chance(0.7) ? 'tenant_a' : pick(['tenant_b', 'tenant_é', randomString(20) || 't'])],
    ['event_type', pick(['interaction', 'progress', 'assessment', 'error', 'system'])],
    ['timestamp', pick(TIMESTAMPS_OK)],
    ['source_service', chance(0.9) ? 'app' : ofLength(1 + int(256))],
    ['event_data', chance(0.5) ? obj([['lesson', 'l1'], ['percent', int(101)]]) : obj(Array.from({ length: int(6) }, () => [randomString(8), randomValue(1)] as [string, J]))],
  ];
  if (chance(0.6)) m.push(['priority', pick(['low', 'medium', 'high', 'critical'])]);
  if (chance(0.6)) m.push(['metadata', obj(chance(0.5) ? [['session_id', 's1']] : [])]);
  if (chance(0.2)) m.push(['schema_version', chance(0.8) ? 1 : int(3) + 1]);
  if (chance(0.3)) for (let i = m.length - 1; i > 0; i--) { const j = int(i + 1); [m[i], m[j]] = [m[j]!, m[i]!]; }
  return m;
}

const FIELDS = ['event_id', 'learner_id', 'tenant_id', 'event_type', 'priority', 'schema_version', 'timestamp', 'source_service', 'event_data', 'metadata'];

/** One mutation of the envelope, aimed at the schema's edges. */
function mutate(m: [string, J][]): void {
  const set = (k: string, v: J) => {
    const at = m.findIndex(([n]) => n === k);
    if (at >= 0) m[at] = [k, v];
    else m.push([k, v]);
  };
  switch (int(14)) {
    case 0: if (m.length) m.splice(int(m.length), 1); break;
    case 1: set(pick(FIELDS), randomValue(1)); break;
    case 2: set(pick(['learner_id', 'tenant_id', 'source_service']), ofLength(pick([0, 1, 255, 256, 257, 300]))); break;
    case 3: set(pick(['event_type', 'priority']), pick(['Progress', 'progress ', '', 'urgent', 'medium\u0000', 'low'])); break;
    case 4: set('event_id', pick([uuid().toUpperCase(), uuid().slice(1), `${uuid()}0`, uuid().replace('-', 'g'), uuid().replace(/-/g, ''), `{${uuid()}}`])); break;
    case 5: set('timestamp', chance(0.5) ? pick(TIMESTAMPS_BAD) : pick(TIMESTAMPS_OK)); break;
    case 6: set('schema_version', pick<J>([0, 1, 2, 2147483647, 2147483648, -1, 1.5, '1', null, raw('1.0'), raw('1e0'), raw('-0'), raw('2147483647.0'), raw('1E1'), raw('0.5e1')])); break;
    case 7: for (let i = 0, n = pick([1, 3, 54, 55, 56, 57, 60]); i < n; i++) m.push([`extra_${i}`, i]); break;
    case 8: { const at = m.findIndex(([n]) => n === 'event_data'); const n = pick([255, 256, 257, 300]); const d: [string, J][] = Array.from({ length: n }, (_, i) => [`k${i}`, i]); if (chance(0.5)) d.push(['k1', 1], ['k2', 2]); if (at >= 0) m[at] = ['event_data', obj(d)]; break; }
    case 9: { const n = pick([63, 64, 65, 70]); set('metadata', obj(Array.from({ length: n }, (_, i) => [`m${i % (chance(0.5) ? 64 : 1000)}`, i] as [string, J]))); break; }
    case 10: if (m.length) m.push([m[int(m.length)]![0], randomValue(1)]); break; // a key twice
    case 11: if (m.length) { const [k, v] = m[int(m.length)]!; m.push([k, v]); } break; // a key twice, same value
    case 12: m.push(['__proto__', obj([['event_type', 'x']])]); break;
    default: set(pick(['event_data', 'metadata']), pick<J>([null, { arr: [] }, 'x', 1, obj([])])); break;
  }
}

/** Whether the body being generated is plain: events as generated, unmutated, no escapes written by choice. */
let plain = true;
function eventTree(): J {
  if (chance(0.03)) {
    plain = false;
    return randomValue(0);
  }
  const m = validEvent();
  const n = chance(0.45) ? 0 : 1 + int(3);
  if (n > 0) plain = false;
  for (let i = 0; i < n; i++) mutate(m);
  return obj(m);
}

function bodyText(envelope: boolean): string {
  pretty = chance(0.15);
  const escapeKeys = chance(0.1) ? 0.2 : 0;
  const escapeStrings = chance(0.1) ? 0.3 : 0;
  plain = escapeKeys === 0 && escapeStrings === 0;
  const events: J = { arr: Array.from({ length: 1 + int(4) }, eventTree) };
  if (!envelope) return write(events, escapeKeys, escapeStrings);
  const top: [string, J][] = [['events', events]];
  if (chance(0.9)) top.unshift(['batch_id', chance(0.95) ? `batch-${int(100)}` : pick<J>(['', ofLength(129), 7, raw('"b\\u0031"')])]);
  if (chance(0.2)) top.push(['metadata', obj([['origin', 'fuzz']])]);
  return write(obj(top), escapeKeys, escapeStrings);
}

/** A byte-level mutation: the grammar check's turn. */
function mangle(b: Buffer): Buffer {
  const at = int(b.length + 1);
  const byte = pick([0x22, 0x5c, 0x2c, 0x3a, 0x7b, 0x7d, 0x5b, 0x5d, 0x20, 0x30, 0x2d, 0x2e, 0x65, 0x74, 0x6e, 0x00, 0x0a, 0xc3, 0xff, int(256)]);
  switch (int(3)) {
    case 0: return Buffer.concat([b.subarray(0, at), Buffer.from([byte]), b.subarray(at)]);
    case 1: return Buffer.concat([b.subarray(0, at), b.subarray(at + 1)]);
    default: { const c = Buffer.from(b); if (at < c.length) c[at] = byte; return c; }
  }
}

// --- comparing outcomes ---
function records(p: PackedRecords) {
  return Array.from({ length: p.count }, (_, i) => ({ value: recordValue(p, i).toString('latin1'), key: p.keys[i], headers: p.headers[i], id: p.eventIds[i], index: p.indexes[i] }));
}
function comparable(o: DecodeOutcome): string {
  if (!o.ok) return JSON.stringify({ ...o, batchId: o.batchId === undefined ? undefined : '<batch>' });
  const b = o.batch;
  return JSON.stringify({ ...b, accepted: records(b.accepted), dead: records(b.dead) }).replaceAll(b.batchId, '<batch>');
}

const shipped = loadFolder(join(repoRoot(), 'schemas'), 'BACKWARD');
// Two of the five types with payload schemas: the others take the fast path with schemas on.
const payloadSome = new PayloadValidators({ ...EMPTY_SNAPSHOT, generation: 1, source: 'folder', types: shipped.types.filter((x) => x.eventType === 'progress' || x.eventType === 'assessment') });

t.test('C verdicts agree with TypeBox and JSON.parse; decodeBatch is the same with the envelope validator on', async (t) => {
  t.equal(shipped.problems.length, 0, 'the shipped schemas load');
  const stats = { bodies: 0, events: 0, valid: 0, invalid: 0, unsure: 0, mapped: 0, notJson: 0, forwarded: 0, plainEvents: 0, plainUnsure: 0 };
  const problems: string[] = [];
  const problem = (what: string, text: Buffer | string) => {
    if (problems.length < 10) problems.push(`${what}: ${String(text).slice(0, 400)}`);
  };
  for (let c = 0; c < CASES; c++) {
    const envelope = chance(0.5);
    let body: Buffer = Buffer.from(bodyText(envelope));
    if (chance(0.12)) {
      body = mangle(body);
      plain = false;
    }
    stats.bodies++;
    const utf8 = Buffer.from(body.toString('utf8')).equals(body);
    let parsed: unknown;
    let ok = true;
    try {
      parsed = JSON.parse(body.toString('utf8'));
    } catch {
      ok = false;
      stats.notJson++;
    }
    const scan = utf8 ? scanEnvelope(body) : null;
    if (scan !== null && !ok) problem('mapped a body JSON.parse refuses', body);
    if (utf8 && ok && Array.isArray(parsed) && scan === null) problem('did not map a bare array JSON.parse accepts', body);
    if (scan !== null && ok) {
      stats.mapped++;
      const events = (Array.isArray(parsed) ? parsed : (parsed as { events: unknown[] }).events) as unknown[];
      if (!Array.isArray(events) || events.length !== scan[0]) problem(`event count ${scan[0]} vs ${events?.length}`, body);
      else {
        for (let i = 0; i < events.length; i++) {
          stats.events++;
          const w = ENVELOPE_HEAD + ENVELOPE_WORDS * i;
          const ev = events[i];
          const slice = body.toString('utf8', scan[w], scan[w + 1]);
          if (!isDeepStrictEqual(JSON.parse(slice), ev)) problem(`element ${i} bytes parse to something else`, body);
          const verdict = scan[w + 3]!;
          const tb = isValidEvent(ev);
          if ((verdict & 3) === ENVELOPE_VALID) {
            stats.valid++;
            if (!tb) problem(`element ${i}: C valid, TypeBox invalid`, slice);
          } else if ((verdict & 3) === ENVELOPE_INVALID) {
            stats.invalid++;
            if (tb) problem(`element ${i}: C invalid, TypeBox valid`, slice);
          } else stats.unsure++;
          if (plain) {
            stats.plainEvents++;
            if ((verdict & 3) === 0) stats.plainUnsure++;
          }
          if ((verdict & 3) !== 0 && typeof ev === 'object' && ev !== null && !Array.isArray(ev)) {
            const e = ev as Record<string, unknown>;
            const present = scan[w + 4]!;
            for (const [name, b] of Object.entries(PRESENT)) if (((present & b) !== 0) !== Object.hasOwn(e, name)) problem(`element ${i}: presence of ${name}`, slice);
            const unknown = Object.keys(e).some((k) => !KNOWN_EVENT_FIELDS.has(k));
            if (((verdict & ENVELOPE_UNKNOWN) !== 0) !== unknown) problem(`element ${i}: unknown-field bit`, slice);
            if ((verdict & 3) === ENVELOPE_VALID && EVENT_TYPE_VALUES[((verdict >>> ENVELOPE_ENUM_SHIFT) & 0xff) - 1] !== e.event_type) problem(`element ${i}: event_type index`, slice);
            if (i > 0 && (verdict & ENVELOPE_CAPTURED) !== 0) {
              // the same-bytes bit of tenant_id: set exactly when the previous element's tenant bytes are these
              const p = w - ENVELOPE_WORDS;
              const cur = body.subarray(scan[w + CAPTURE.tenant_id], scan[w + CAPTURE.tenant_id + 1]);
              const prev = body.subarray(scan[p + CAPTURE.tenant_id], scan[p + CAPTURE.tenant_id + 1]);
              const same = ((verdict >>> (ENVELOPE_SAME_SHIFT + TENANT_CAPTURE)) & 1) === 1;
              if (same !== (cur.length > 0 && cur.equals(prev))) problem(`element ${i}: same-tenant bit`, slice);
            }
            for (const [name, at] of Object.entries(CAPTURE)) {
              const bytes = body.toString('utf8', scan[w + at], scan[w + at + 1]);
              // event_data and schema_version: the whole value, when present and of the schema's type
              if (name === 'event_data' || name === 'schema_version') {
                const v = e[name];
                const typed = name === 'event_data' ? typeof v === 'object' && v !== null && !Array.isArray(v) : typeof v === 'number';
                if (typed && (verdict & 3) === ENVELOPE_VALID && !isDeepStrictEqual(JSON.parse(bytes), v)) problem(`element ${i}: captured ${name}`, slice);
              } else if ((verdict & ENVELOPE_CAPTURED) !== 0 && bytes !== e[name]) problem(`element ${i}: captured ${name}`, slice);
            }
          }
        }
      }
    }
    // The decoder, both ways, under varied limits and options.
    const limits = { maxDecodedBytes: 1 << 20, maxEvents: chance(0.05) ? 2 : 1000, maxEventBytes: chance(0.1) ? 400 : 8192, maxDeadLetterBytes: 4096 };
    const gzip = chance(0.1);
    const input: DecodeInput = {
      body: gzip ? gzipSync(body) : body, gzip, receivedAt: Date.parse('2026-01-01T00:00:00Z'), instance: 'fuzz/0', limits,
      tenants: chance(0.2) ? ['tenant_a'] : undefined,
      payload: chance(0.3) ? payloadSome : undefined,
    };
    const before = decodeBatch(input);
    const after = decodeBatch({ ...input, limits: { ...limits, nativeEnvelope: true } });
    if (comparable(before) !== comparable(after)) problem(`decodeBatch differs:\n  off ${comparable(before).slice(0, 600)}\n  on  ${comparable(after).slice(0, 600)}\n  body`, body);
    if (after.ok && ok) {
      const events = (Array.isArray(parsed) ? parsed : (parsed as { events: unknown[] }).events) as Record<string, unknown>[];
      const acc = after.batch.accepted;
      for (let r = 0; r < acc.count; r++) {
        stats.forwarded++;
        const value = JSON.parse(recordValue(acc, r).toString('utf8')) as Record<string, unknown>;
        const ev = events[acc.indexes[r]!]!;
        const expected = { ...ev, priority: ev.priority ?? 'medium', metadata: ev.metadata ?? {} };
        // The record is the event that passed TypeBox plus the defaults it lacked (which can take it past
        // maxProperties: the defaults are the collector's, not the client's). JSON.stringify of both:
        // -0 is 0 to JSON (the old path's JSON.stringify writes 0 for it, as it always did).
        if (!isValidEvent(ev) || JSON.stringify(value) !== JSON.stringify(expected)) problem(`record ${r} is not the validated event`, body);
      }
    }
  }
  t.same(problems, [], `no disagreement in ${stats.bodies} bodies`);
  t.comment(JSON.stringify(stats));
  // The fuzz must reach every verdict, or it proves nothing about the one it misses.
  t.ok(stats.valid > CASES / 4 && stats.invalid > CASES / 10 && stats.unsure > 0 && stats.notJson > 0 && stats.forwarded > CASES / 2, 'the corpus reaches every verdict');
  // Undecided is for escaped keys and enum or format strings, repeated keys, integers written 1.0: the
  // mutations aim at them. Events as clients write them (any field order, optional fields, any
  // event_data, whitespace) are always decided, so the fast path is the common one.
  t.ok(stats.plainEvents > CASES / 10, `${stats.plainEvents} plain events`);
  t.equal(stats.plainUnsure, 0, 'no plain event is left undecided');
});

t.test('hand-picked edges', async (t) => {
  const ev = { event_id: '123e4567-e89b-12d3-a456-426614174000', learner_id: 'l', tenant_id: 't', event_type: 'progress', timestamp: '2024-02-29T00:00:00Z', source_service: 's', event_data: {} };
  const verdict = (text: string) => {
    const s = scanEnvelope(Buffer.from(`[${text}]`));
    return s === null ? 'unmapped' : ['unsure', 'valid', 'invalid'][s[ENVELOPE_HEAD + 3]! & 3];
  };
  const j = (o: unknown) => JSON.stringify(o);
  t.equal(verdict(j(ev)), 'valid');
  t.equal(verdict(j({ ...ev, timestamp: '2023-02-29T00:00:00Z' })), 'invalid', 'no 29 February in 2023');
  t.equal(verdict(j({ ...ev, learner_id: '😀'.repeat(128) })), 'valid', '256 UTF-16 units');
  t.equal(verdict(j({ ...ev, learner_id: `${'😀'.repeat(128)}x` })), 'invalid', '257 UTF-16 units');
  t.equal(verdict(j({ ...ev, schema_version: 2147483648 })), 'invalid');
  t.equal(verdict(j(ev).replace('"progress"', '"progr\\u0065ss"')), 'unsure', 'an escaped enum value is left to JavaScript');
  t.equal(verdict(j(ev).replace('"learner_id"', '"learner\\u005fid"')), 'unsure', 'an escaped key');
  t.equal(verdict(`${j(ev).slice(0, -1)},"event_type":"system"}`), 'unsure', 'a key twice');
  t.equal(verdict(`${j(ev).slice(0, -1)},"schema_version":1.0}`), 'unsure', '1.0 is an integer to JavaScript');
  t.equal(verdict('[]'), 'invalid', 'not an object');
  t.equal(verdict(j(ev).replace('"t"', 'tru')), 'unmapped', 'not JSON');
  t.equal(verdict(`${j(ev)} x`), 'unmapped', 'trailing garbage');
  t.equal(scanEnvelope(Buffer.from('{"events":[],"events":[]}')), null, 'events twice: JSON.parse keeps the last; the old path decides');
  t.equal(scanEnvelope(Buffer.from('{"batch_id":"a","batch_id":"b","events":[]}')), null, 'batch_id twice');
  t.equal(scanEnvelope(Buffer.from('\uFEFF[]'))?.[0], 0, 'a BOM, as TextDecoder drops it');
});

t.test('a batch of millions of tiny elements: counted past the limit, nothing kept for them', async (t) => {
  // ~4 MB of "0," that gzip to a few KB: one scan word block per element would be ~300 MB.
  const n = 2_000_000;
  const body = Buffer.from(`[${'0,'.repeat(n - 1)}0]`);
  const rss0 = process.memoryUsage().rss;
  const scan = scanEnvelope(body, 1000);
  const grew = process.memoryUsage().rss - rss0;
  t.equal(scan?.[0], n, 'the count is exact, so the answer can say how many');
  t.equal(scan?.length, ENVELOPE_HEAD + ENVELOPE_WORDS * 1000, 'words for the first 1000 elements at most');
  // The scan before the limit was kept: ~160 MB here; RSS noise on a loaded box is a few MB.
  t.ok(grew < 20 * 1024 * 1024, `resident memory grew ${Math.round(grew / 1024 / 1024)} MB`);
  const rss1 = process.memoryUsage().rss;
  t.equal(eventSpans(body, 1000), null, 'the span scanner gives up at the limit: such a batch is refused');
  const spansGrew = process.memoryUsage().rss - rss1;
  t.ok(spansGrew < 20 * 1024 * 1024, `resident memory grew ${Math.round(spansGrew / 1024 / 1024)} MB in the span scan`);
  const out = decodeBatch({ body: gzipSync(body), gzip: true, receivedAt: 0, instance: 'test/0', limits: { maxDecodedBytes: 8 << 20, maxEvents: 1000, maxEventBytes: 8192, nativeEnvelope: true } });
  t.match(out, { ok: false, code: 'COLLECTOR_ERR_TOO_MANY_EVENTS', detail: /2000000 events; the limit is 1000/ });
});

t.test('element words end where the next begins (64, 128, … elements fill the buffer exactly)', async (t) => {
  const ev = { event_id: '123e4567-e89b-12d3-a456-426614174000', learner_id: 'l', tenant_id: 't', event_type: 'progress', timestamp: '2024-02-29T00:00:00Z', source_service: 's', event_data: {} };
  for (const n of [63, 64, 65, 128, 129]) {
    const scan = scanEnvelope(Buffer.from(JSON.stringify(Array.from({ length: n }, () => ev))));
    t.equal(scan?.[0], n, `${n} elements`);
    t.equal(scan?.length, ENVELOPE_HEAD + ENVELOPE_WORDS * n, 'no word past the last element');
    const verdicts = new Set(Array.from({ length: n }, (_, i) => scan![ENVELOPE_HEAD + ENVELOPE_WORDS * i + 3]! & 3));
    t.same([...verdicts], [ENVELOPE_VALID], 'every element valid');
  }
});
