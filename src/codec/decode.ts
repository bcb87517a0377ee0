/**
 * Body bytes → batch verdict: gunzip (bounded), strict UTF-8, JSON.parse, batch shape,
 * per-event validation, Kafka records for the main topic and for the dead-letter topic.
 * Pure and synchronous: it runs inside the decode workers (workers/decode.ts) and in
 * unit tests alike. Failures of the whole batch come back as a value, never a throw,
 * so their code survives the thread hop.
 */
import { isUtf8 } from 'node:buffer';
import { randomUUID } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { zstdDecompress } from './zstd.js';
import type { ErrorCode } from '../errors.js';
import { DEFAULT_PRIORITY, KNOWN_EVENT_FIELDS } from '../schema/event.js';
import { eventErrors, isValidEvent, type EventError } from './validator.js';
import { PackedBuilder, type PackedRecords } from './packed.js';
import { deadLetterValue, type DeadLetterReason } from './dead-letter.js';
import { eventSpans, firstInexactNumber, FORWARDABLE, INEXACT_AT_SHIFT, INEXACT_NUMBER } from './spans.js';
import { numberText, pointerAt } from './number-path.js';
import { derivedTimestamp, rfc3339Millis } from './clock-skew.js';
import type { PayloadPass, PayloadValidators } from './payload.js';
import {
  CAPTURE, ENVELOPE_CAPTURED, ENVELOPE_ENUM_SHIFT, ENVELOPE_HEAD, ENVELOPE_SAME_SHIFT, ENVELOPE_UNKNOWN, ENVELOPE_VALID, ENVELOPE_WORDS, EVENT_TYPE_VALUES, PRESENT,
  scanEnvelope, TENANT_CAPTURE,
} from './envelope.js';

export interface DecodeLimits {
  maxDecodedBytes: number;
  maxEvents: number;
  maxEventBytes: number;
  /** DLQ_MAX_RECORD_BYTES: a dead letter's original is cut to keep the record under it */
  maxDeadLetterBytes?: number;
  /**
   * CODEC_NATIVE_ENVELOPE: the C scanner validates each event's envelope (src/codec/envelope.ts)
   * and only the events it cannot pass as they are get JSON.parse; same outcome either way.
   */
  nativeEnvelope?: boolean;
}

export interface DecodeInput {
  body: Uint8Array;
  gzip: boolean;
  zstd?: boolean;
  receivedAt: number;
  instance: string;
  limits: DecodeLimits;
  /** the tenants the request's API key may write; absent: any (AUTH_MODE=none, or a "*" key) */
  tenants?: readonly string[] | undefined;
  /** the id of the API key that sent the request: named in its dead letters */
  keyId?: string | undefined;
  /** versioned payload schemas (src/codec/payload.ts); absent: every event_data is any object */
  payload?: PayloadValidators;
}

export interface RejectedEvent {
  index: number;
  event_id: string | null;
  reason: DeadLetterReason;
  errors: EventError[];
}

export interface DecodedBatch {
  batchId: string;
  /** the header names of `accepted`'s rows: EVENT_HEADERS, or EVENT_HEADERS_DERIVED when the batch said sent_at */
  headerNames: readonly string[];
  total: number;
  accepted: PackedRecords;
  /** one dead-letter record per rejected event, same order as `rejected` */
  dead: PackedRecords;
  rejected: RejectedEvent[];
  warnings: string[];
  /**
   * Events judged by payload schema: "event_type|version|outcome" → count, version `none` for
   * types without schemas and `unknown` for unregistered versions (bounded Prometheus labels).
   */
  schemaUse: Record<string, number>;
}

export type DecodeOutcome =
  | { ok: true; batch: DecodedBatch }
  | { ok: false; code: ErrorCode; detail: string; batchId?: string };

/**
 * Header names of a main-topic record, in the order PackedRecords.headers holds values. The last
 * two are optional: a record's row stops before schema_version when its type has no payload
 * schema, and before schema_id when no registry assigned one (the producer skips what is missing).
 */
export const EVENT_HEADERS = ['tenant_id', 'event_type', 'batch_id', 'received_at', 'schema_version', 'schema_id'] as const;
/** The same, of a batch that said sent_at: every row holds derived_timestamp (src/codec/clock-skew.ts) after received_at. */
export const EVENT_HEADERS_DERIVED = ['tenant_id', 'event_type', 'batch_id', 'received_at', 'derived_timestamp', 'schema_version', 'schema_id'] as const;
/** Header names of a dead-letter record. */
export const DEAD_LETTER_HEADERS = ['reason', 'batch_id', 'tenant_id', 'received_at'] as const;

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * What follows a forwarded event's bytes (its closing brace excluded): the defaults it lacked, in
 * the order `??=` adds them below (so JSON.stringify would write them last too), then the brace.
 * Index: 1 = priority absent, 2 = metadata absent.
 */
const TAILS = ['', `,"priority":${JSON.stringify(DEFAULT_PRIORITY)}`, ',"metadata":{}', `,"priority":${JSON.stringify(DEFAULT_PRIORITY)},"metadata":{}`]
  .map((t) => new TextEncoder().encode(`${t}}`));

function fail(code: ErrorCode, detail: string, batchId?: string): DecodeOutcome {
  return batchId === undefined ? { ok: false, code, detail } : { ok: false, code, detail, batchId };
}

function tooLarge(max: number): EventError {
  return { code: 'event_too_large', path: '', message: `event is larger than ${max} bytes` };
}

/** A batch's sent_at in ms: undefined when absent, null when it is not an RFC 3339 string. */
function sentAtOf(v: unknown): number | null | undefined {
  if (v === undefined) return undefined;
  const ms = typeof v === 'string' ? rfc3339Millis(v) : NaN;
  return Number.isNaN(ms) ? null : ms;
}

const SENT_AT_DETAIL = 'sent_at must be an RFC 3339 date-time string such as 2026-03-01T12:00:00.000Z';

function str(v: unknown): string | null {
  return typeof v === 'string' ? v : null;
}

export function decodeBatch(input: DecodeInput): DecodeOutcome {
  const { limits } = input;
  let bytes = input.body;
  if (input.gzip) {
    try {
      // maxOutputLength makes zlib stop (and throw) before allocating past the cap: a gzip bomb costs us the cap.
      bytes = gunzipSync(bytes, { maxOutputLength: limits.maxDecodedBytes });
    } catch (err) {
      const e = err as NodeJS.ErrnoException;
      if (e.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
        return fail('COLLECTOR_ERR_DECODED_TOO_LARGE', `more than ${limits.maxDecodedBytes} bytes after gunzip`);
      }
      return fail('COLLECTOR_ERR_CORRUPT_GZIP', e.message);
    }
  } else if (input.zstd === true) {
    const out = zstdDecompress(bytes, limits.maxDecodedBytes);
    if (!out.ok) {
      return out.tooLarge
        ? fail('COLLECTOR_ERR_DECODED_TOO_LARGE', `more than ${limits.maxDecodedBytes} bytes after zstd decompression`)
        : fail('COLLECTOR_ERR_CORRUPT_ZSTD', out.message);
    }
    bytes = out.bytes;
  } else if (bytes.byteLength > limits.maxDecodedBytes) {
    return fail('COLLECTOR_ERR_DECODED_TOO_LARGE', `more than ${limits.maxDecodedBytes} bytes`);
  }

  if (limits.nativeEnvelope === true) {
    const o = decodeByEnvelope(bytes, input);
    if (o !== null) return o;
  }

  let text: string;
  try {
    text = fatalUtf8.decode(bytes);
  } catch {
    return fail('COLLECTOR_ERR_INVALID_UTF8', 'the body holds a byte sequence that is not UTF-8');
  }

  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    return fail('COLLECTOR_ERR_INVALID_JSON', (err as Error).message);
  }

  let events: unknown[];
  let batchId: string | undefined;
  let sentAt: number | undefined;
  if (Array.isArray(body)) {
    events = body;
  } else if (typeof body === 'object' && body !== null && Array.isArray((body as { events?: unknown }).events)) {
    const env = body as { batch_id?: unknown; sent_at?: unknown; events: unknown[] };
    if (env.batch_id !== undefined) {
      if (typeof env.batch_id !== 'string' || env.batch_id.length === 0 || env.batch_id.length > 128) {
        return fail('COLLECTOR_ERR_BATCH_SHAPE', 'batch_id must be a string of 1 to 128 characters');
      }
      batchId = env.batch_id;
    }
    const sent = sentAtOf(env.sent_at);
    if (sent === null) return fail('COLLECTOR_ERR_SENT_AT', SENT_AT_DETAIL, batchId);
    sentAt = sent;
    events = env.events;
  } else {
    return fail('COLLECTOR_ERR_BATCH_SHAPE', `got ${body === null ? 'null' : typeof body} at the top level`);
  }
  batchId ??= randomUUID();
  if (events.length === 0) return fail('COLLECTOR_ERR_EMPTY_BATCH', 'the batch holds 0 events', batchId);
  if (events.length > limits.maxEvents) {
    return fail('COLLECTOR_ERR_TOO_MANY_EVENTS', `${events.length} events; the limit is ${limits.maxEvents}`, batchId);
  }
  // Where each event is, which may be forwarded as sent, which hold a number JSON.stringify would change
  // (native/codec/src/spans.c): only when the scanner saw exactly the events JSON.parse did.
  const found = eventSpans(bytes, limits.maxEvents);
  const spans = found !== null && found[0] === events.length ? found : null;
  if (spans === null) {
    // A body the scanner cannot map to its events (an escaped top-level key, "events" twice): rare
    // enough that one number no double holds refuses the whole batch, rather than pass it changed.
    const at = firstInexactNumber(bytes);
    if (at >= 0) return fail('COLLECTOR_ERR_INEXACT_NUMBER', inexactMessage(numberText(bytes, at)), batchId);
  }
  return { ok: true, batch: verdicts({ count: events.length, eventAt: (i) => events[i], batchId, sentAt, bytes, spans, head: 1, stride: 3, envelope: false }, input) };
}

/**
 * The body without JSON.parse: the C scanner checked its grammar, found its events and validated
 * each envelope; JavaScript parses only the events it cannot forward as they are. null: a body
 * the scanner cannot map (not UTF-8, not strict JSON, an ambiguous events array or batch_id),
 * for the old path to judge and name exactly as before.
 */
function decodeByEnvelope(bytes: Uint8Array, input: DecodeInput): DecodeOutcome | null {
  if (!isUtf8(bytes)) return null;
  const scan = scanEnvelope(bytes, input.limits.maxEvents);
  if (scan === null) return null;
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let batchId: string | undefined;
  if (scan[1] === 1) {
    batchId = buf.toString('utf8', scan[2], scan[3]);
    if (batchId.length === 0 || batchId.length > 128) return fail('COLLECTOR_ERR_BATCH_SHAPE', 'batch_id must be a string of 1 to 128 characters');
  }
  let sentAt: number | undefined;
  if (scan[4] === 1) {
    const sent = sentAtOf(buf.toString('utf8', scan[5], scan[6]));
    if (sent === null) return fail('COLLECTOR_ERR_SENT_AT', SENT_AT_DETAIL, batchId);
    sentAt = sent;
  }
  batchId ??= randomUUID();
  const n = scan[0]!;
  if (n === 0) return fail('COLLECTOR_ERR_EMPTY_BATCH', 'the batch holds 0 events', batchId);
  if (n > input.limits.maxEvents) return fail('COLLECTOR_ERR_TOO_MANY_EVENTS', `${n} events; the limit is ${input.limits.maxEvents}`, batchId);
  // A sub-range of strict JSON that is one whole value parses to what JSON.parse of the body held there.
  const eventAt = (i: number): unknown => {
    const w = ENVELOPE_HEAD + ENVELOPE_WORDS * i;
    return JSON.parse(buf.toString('utf8', scan[w]!, scan[w + 1]!));
  };
  return { ok: true, batch: verdicts({ count: n, eventAt, batchId, sentAt, bytes, spans: scan, head: ENVELOPE_HEAD, stride: ENVELOPE_WORDS, envelope: true }, input) };
}

/**
 * Numbers are never changed silently: a number a double cannot hold as written (1e400 became
 * null, 12345678901234567890123 became 1.2345678901234568e+22) refuses its event. Forwarding
 * the text instead would hold only where the bytes are forwarded; the dead letter, the spill
 * log and every event re-serialised would still change it, and so would every JavaScript
 * consumer. Such values belong in strings, as proto3's JSON mapping does for int64.
 */
function inexactMessage(text: string): string {
  return `the number ${text} cannot be carried exactly (a double holds at most 15–17 significant digits within ±1.8e308): send it as a string`;
}

function inexactError(bytes: Uint8Array, start: number, flags: number): EventError {
  const at = start + (flags >>> INEXACT_AT_SHIFT);
  return { code: 'inexact_number', path: pointerAt(bytes, start, at), message: inexactMessage(numberText(bytes, at)) };
}

/** A batch whose shape is checked, as the scanner (or JSON.parse) found its events. */
interface ScannedBatch {
  count: number;
  /** the event as a JavaScript value, parsed only when asked for */
  eventAt: (i: number) => unknown;
  batchId: string;
  sentAt: number | undefined;
  bytes: Uint8Array;
  /**
   * From `head`, `stride` words per event: start, end, flags (spans.c), and with `envelope` the C
   * verdict, the presence mask and the captured strings (envelope.c). null: the scanner could not
   * map the body to its events.
   */
  spans: Int32Array | null;
  head: number;
  stride: number;
  envelope: boolean;
}

/**
 * Per event: the main-topic record or the dead letter. An event the C side validated, forwardable
 * as sent, needs no JavaScript object; the others are read with `eventAt` and judged as they
 * always were.
 */
function verdicts(batch: ScannedBatch, input: DecodeInput): DecodedBatch {
  const { count, eventAt, batchId, sentAt, bytes, spans, head, stride, envelope } = batch;
  const receivedAt = new Date(input.receivedAt).toISOString();
  const accepted = new PackedBuilder();
  const dead = new PackedBuilder();
  const rejected: RejectedEvent[] = [];
  const unknownFields = new Map<string, number>();
  const schemaUse: Record<string, number> = {};
  const use = (k: string) => (schemaUse[k] = (schemaUse[k] ?? 0) + 1);
  const payload = input.payload;
  /** The first headers of an accepted event's row (then its payload schema's). */
  const rowOf = sentAt === undefined
    ? (tenant: string, type: string) => [tenant, type, batchId, receivedAt]
    : (tenant: string, type: string, timestamp: string) => [tenant, type, batchId, receivedAt, derivedTimestamp(input.receivedAt, sentAt, rfc3339Millis(timestamp))];

  const allowed = input.tenants === undefined ? null : new Set(input.tenants);
  // A dead letter belongs to the tenant that sent it: an event claiming a tenant its key may not write is the
  // key's tenant's (its DLQ route, its quota, its metric), never the claimed one's, which did not send it.
  const keyTenant = input.tenants?.[0] ?? null;
  const reject = (index: number, ev: unknown, reason: DeadLetterReason, errors: EventError[]) => {
    const o = (typeof ev === 'object' && ev !== null ? ev : {}) as Record<string, unknown>;
    const eventId = str(o.event_id);
    const claimed = str(o.tenant_id);
    const foreign = allowed !== null && (claimed === null || !allowed.has(claimed));
    const tenant = foreign ? keyTenant : claimed;
    rejected.push({ index, event_id: eventId, reason, errors });
    const value = deadLetterValue({
      reason, errors, retryCount: 0, failedAt: receivedAt, batchId, instance: input.instance,
      tenantId: tenant, eventIndex: index, original: ev,
      ...(input.keyId !== undefined ? { keyId: input.keyId } : {}),
      ...(foreign && claimed !== null ? { claimedTenantId: claimed } : {}),
    }, input.limits.maxDeadLetterBytes);
    dead.add(value, str(o.learner_id), [reason, batchId, tenant ?? '', receivedAt], eventId ?? '', index);
  };

  const buf = envelope ? (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)) : null;
  const text = (w: number, at: number) => buf!.toString('utf8', spans![w + at]!, spans![w + at + 1]!);
  let tenant = ''; // of element tenantOf, reused by the next when the C side saw the same bytes
  let tenantOf = -1;
  for (let i = 0; i < count; i++) {
    const w = head + stride * i;
    const flags = spans ? spans[w + 2]! : 0;
    const verdictWord = envelope ? spans![w + 3]! : 0;
    if (envelope && (verdictWord & (ENVELOPE_VALID | ENVELOPE_CAPTURED | ENVELOPE_UNKNOWN)) === (ENVELOPE_VALID | ENVELOPE_CAPTURED) &&
      (flags & (FORWARDABLE | INEXACT_NUMBER)) === FORWARDABLE) {
      // Valid as TypeBox would say, forwardable as sent, no unknown field to warn of: no event object is
      // built; a payload schema gets event_data alone. Anything with something to say (a payload
      // failure, the tenant check, the size limit) goes down the old path below, which says it.
      const present = spans![w + 4]!;
      const type = EVENT_TYPE_VALUES[((verdictWord >>> ENVELOPE_ENUM_SHIFT) & 0xff) - 1]!;
      const start = spans![w]!;
      const end = spans![w + 1]! - 1;
      const tail = TAILS[((present & PRESENT.priority) === 0 ? 1 : 0) | ((present & PRESENT.metadata) === 0 ? 2 : 0)]!;
      if (tenantOf !== i - 1 || ((verdictWord >>> (ENVELOPE_SAME_SHIFT + TENANT_CAPTURE)) & 1) === 0) tenant = text(w, CAPTURE.tenant_id);
      tenantOf = i;
      let pass: PayloadPass | null = null;
      if (payload !== undefined) {
        if ((present & PRESENT.schema_version) === 0 && !payload.hasSchemas(type)) pass = payload.judgeUnversioned(type);
        else {
          const verdict = payload.judge({
            event_type: type,
            // A plain integer: the C side leaves 1.0 and 1e3 undecided.
            schema_version: (present & PRESENT.schema_version) === 0 ? undefined : Number(text(w, CAPTURE.schema_version)),
            event_data: JSON.parse(text(w, CAPTURE.event_data)),
          });
          // An upcast rewrites the event: never forwarded as sent (the old path below writes the target version).
          if (verdict.ok && verdict.data === undefined) pass = verdict;
        }
      }
      if ((payload === undefined || pass !== null) && (allowed === null || allowed.has(tenant)) && end - start + tail.length <= input.limits.maxEventBytes) {
        const headers = rowOf(tenant, type, sentAt === undefined ? '' : text(w, CAPTURE.timestamp));
        if (pass !== null) {
          use(pass.validKey);
          for (const h of pass.headers) headers.push(h);
        }
        accepted.addRaw(bytes, start, end, tail, text(w, CAPTURE.learner_id), headers, text(w, CAPTURE.event_id), i);
        continue;
      }
    }
    const ev = eventAt(i);
    if (!isValidEvent(ev)) {
      const errors = eventErrors(ev);
      if ((flags & INEXACT_NUMBER) !== 0) errors.push(inexactError(bytes, spans![w]!, flags));
      reject(i, ev, 'validation', errors);
      continue;
    }
    if ((flags & INEXACT_NUMBER) !== 0) {
      reject(i, ev, 'validation', [inexactError(bytes, spans![w]!, flags)]);
      continue;
    }
    const e = ev as Record<string, unknown>;
    if (allowed !== null && !allowed.has(e.tenant_id as string)) {
      // Never in the main topic: dead-lettered with the reason, so the owner can see who tried.
      reject(i, ev, 'tenant_forbidden', [{ code: 'tenant_forbidden', path: '/tenant_id', message: 'this API key may not write this tenant' }]);
      continue;
    }
    const headers = rowOf(e.tenant_id as string, e.event_type as string, e.timestamp as string);
    let upcasted = false;
    if (payload !== undefined) {
      // The object JSON.parse built is judged; the bytes forwarded below are the same event.
      const verdict = payload.judge(e);
      if (!verdict.ok) {
        use(verdict.invalidKey);
        reject(i, ev, 'validation', verdict.errors);
        continue;
      }
      use(verdict.validKey);
      for (const h of verdict.headers) headers.push(h);
      if (verdict.data !== undefined) {
        // Upcast: the record is the rewritten event (so not the bytes as sent), in the target version.
        e.event_data = verdict.data;
        e.schema_version = verdict.version;
        upcasted = true;
      }
    }
    const tail = TAILS[(e.priority === undefined ? 1 : 0) | (e.metadata === undefined ? 2 : 0)]!;
    e.priority ??= DEFAULT_PRIORITY;
    e.metadata ??= {};
    for (const k in e) if (!KNOWN_EVENT_FIELDS.has(k)) unknownFields.set(k, (unknownFields.get(k) ?? 0) + 1);
    if (spans && (flags & FORWARDABLE) !== 0 && !upcasted) {
      // The client's bytes, minus the closing brace, plus the tail: no JSON.stringify, no UTF-8 encoding.
      const start = spans[w]!;
      const end = spans[w + 1]! - 1;
      if (end - start + tail.length > input.limits.maxEventBytes) {
        reject(i, ev, 'too_large', [tooLarge(input.limits.maxEventBytes)]);
        continue;
      }
      accepted.addRaw(bytes, start, end, tail, e.learner_id as string, headers, e.event_id as string, i);
      continue;
    }
    let value: string;
    try {
      value = JSON.stringify(e);
    } catch {
      // JSON.parse is iterative but JSON.stringify recurses: a deep enough event_data overflows the stack.
      reject(i, ev, 'validation', [{ code: 'too_deep', path: '/event_data', message: 'nested too deeply to serialise' }]);
      continue;
    }
    // value.length is a lower bound of the UTF-8 size: the exact count only when it could matter.
    if (value.length * 3 > input.limits.maxEventBytes && Buffer.byteLength(value) > input.limits.maxEventBytes) {
      reject(i, ev, 'too_large', [tooLarge(input.limits.maxEventBytes)]);
      continue;
    }
    accepted.add(value, e.learner_id as string, headers, e.event_id as string, i);
  }

  const warnings: string[] = [];
  for (const [field, n] of unknownFields) {
    warnings.push(`unknown field '${field}' on ${n} event(s): kept and forwarded unchanged`);
    if (warnings.length >= 20) break;
  }
  return { batchId, headerNames: sentAt === undefined ? EVENT_HEADERS : EVENT_HEADERS_DERIVED, total: count, accepted: accepted.build(), dead: dead.build(), rejected, warnings, schemaUse };
}
