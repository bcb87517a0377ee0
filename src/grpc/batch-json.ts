/**
 * A gRPC CollectRequest → the JSON batch body the HTTP path decodes. gRPC batches then take
 * exactly the HTTP path from the slab on (src/pipeline/collector.ts): one validator (the
 * TypeBox schema), one dedup, one record builder — so a record written from gRPC is
 * byte-for-byte the one HTTP writes for the same event JSON, headers included.
 *
 * Typed events become the JSON object of the schema, fields in schema order, written by
 * JSON.stringify; `json` events are forwarded as the client's bytes, after a check that they are
 * one UTF-8 JSON value (so one entry cannot smuggle in several events or break the envelope).
 * Nothing here validates an event: a bad enum or a missing field reaches the schema validator
 * and becomes a dead letter, as over HTTP.
 */
import type { ErrorCode } from '../errors.js';

export type StructValue =
  | { kind: 'nullValue' }
  | { kind: 'numberValue'; numberValue: number }
  | { kind: 'stringValue'; stringValue: string }
  | { kind: 'boolValue'; boolValue: boolean }
  | { kind: 'structValue'; structValue: Struct }
  | { kind: 'listValue'; listValue: { values?: StructValue[] } }
  | { kind?: undefined };
export interface Struct {
  fields?: Record<string, StructValue>;
}
export interface Timestamp {
  seconds?: number;
  nanos?: number;
}
export interface TypedEvent {
  event_id?: string;
  learner_id?: string;
  tenant_id?: string;
  event_type?: string | number;
  priority?: string | number;
  timestamp?: Timestamp | null;
  source_service?: string;
  event_data?: Struct | null;
  metadata?: Struct | null;
}
export interface BatchEvent {
  kind?: 'event' | 'json';
  event?: TypedEvent | null;
  json?: Buffer;
}
export interface CollectRequest {
  batch_id?: string;
  events?: BatchEvent[];
  metadata?: Struct | null;
  sent_at?: Timestamp | null;
}

export type BatchJson = { ok: true; body: Buffer; batchId: string | undefined } | { ok: false; code: ErrorCode; detail: string; batchId?: string };

const fatalUtf8 = new TextDecoder('utf-8', { fatal: true });

export function structToJs(s: Struct | null | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(s?.fields ?? {})) out[k] = valueToJs(v);
  return out;
}

function valueToJs(v: StructValue): unknown {
  switch (v.kind) {
    case 'numberValue':
      return v.numberValue;
    case 'stringValue':
      return v.stringValue;
    case 'boolValue':
      return v.boolValue;
    case 'structValue':
      return structToJs(v.structValue);
    case 'listValue':
      return (v.listValue.values ?? []).map(valueToJs);
    default:
      // nullValue, and a Value with no kind set (protobuf's JSON mapping has no other reading of it)
      return null;
  }
}

/** RFC 3339 in UTC as the protobuf JSON mapping writes a Timestamp: 0, 3, 6 or 9 fractional digits. */
export function timestampToRfc3339(t: Timestamp): string {
  const seconds = t.seconds ?? 0;
  const nanos = t.nanos ?? 0;
  const date = new Date(seconds * 1000);
  if (!Number.isFinite(date.getTime()) || nanos < 0 || nanos > 999_999_999 || !Number.isInteger(nanos)) {
    // Not a valid Timestamp: a string the schema's date-time format refuses, naming what came.
    return `invalid Timestamp {seconds: ${seconds}, nanos: ${nanos}}`;
  }
  const base = date.toISOString().slice(0, -5); // drop ".mmmZ"
  let frac = '';
  if (nanos !== 0) {
    const digits = String(nanos).padStart(9, '0');
    frac = '.' + (nanos % 1_000_000 === 0 ? digits.slice(0, 3) : nanos % 1000 === 0 ? digits.slice(0, 6) : digits);
  }
  return `${base}${frac}Z`;
}

const EVENT_TYPE_PREFIX = 'EVENT_TYPE_';
const PRIORITY_PREFIX = 'PRIORITY_';

/** EVENT_TYPE_PROGRESS → "progress"; UNSPECIFIED → absent; a number no enum value has stays a number (the validator refuses it). */
function enumValue(v: string | number | undefined, prefix: string): string | number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'number') return v === 0 ? undefined : v;
  if (!v.startsWith(prefix) || v === `${prefix}UNSPECIFIED`) return undefined;
  return v.slice(prefix.length).toLowerCase();
}

/** The event as the JSON schema's object, in schema field order. */
export function typedEventToJs(e: TypedEvent): Record<string, unknown> {
  const o: Record<string, unknown> = {};
  if (e.event_id) o.event_id = e.event_id;
  if (e.learner_id) o.learner_id = e.learner_id;
  if (e.tenant_id) o.tenant_id = e.tenant_id;
  const type = enumValue(e.event_type, EVENT_TYPE_PREFIX);
  if (type !== undefined) o.event_type = type;
  const priority = enumValue(e.priority, PRIORITY_PREFIX);
  if (priority !== undefined) o.priority = priority;
  if (e.timestamp) o.timestamp = timestampToRfc3339(e.timestamp);
  if (e.source_service) o.source_service = e.source_service;
  if (e.event_data) o.event_data = structToJs(e.event_data);
  if (e.metadata) o.metadata = structToJs(e.metadata);
  return o;
}

/** The JSON body for a request; whole-batch problems come back as the code HTTP would answer. */
export function batchJson(req: CollectRequest): BatchJson {
  const batchId = req.batch_id ? req.batch_id : undefined;
  const fail = (code: ErrorCode, detail: string): BatchJson => (batchId === undefined ? { ok: false, code, detail } : { ok: false, code, detail, batchId });
  const events = req.events ?? [];
  const parts: (string | Buffer)[] = ['{'];
  if (batchId !== undefined) parts.push(`"batch_id":${JSON.stringify(batchId)},`);
  if (req.sent_at) parts.push(`"sent_at":"${timestampToRfc3339(req.sent_at)}",`);
  try {
    if (req.metadata) parts.push(`"metadata":${JSON.stringify(structToJs(req.metadata))},`);
    parts.push('"events":[');
    for (let i = 0; i < events.length; i++) {
      if (i > 0) parts.push(',');
      const be = events[i]!;
      if (be.kind === 'json' || (be.kind === undefined && be.json !== undefined)) {
        const raw = be.json ?? Buffer.alloc(0);
        try {
          JSON.parse(fatalUtf8.decode(raw));
        } catch (err) {
          return fail('COLLECTOR_ERR_INVALID_JSON', `events[${i}].json is not one UTF-8 JSON value: ${(err as Error).message}`);
        }
        parts.push(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength));
      } else if (be.event) {
        parts.push(JSON.stringify(typedEventToJs(be.event)));
      } else {
        return fail('COLLECTOR_ERR_BATCH_SHAPE', `events[${i}] has neither event nor json set`);
      }
    }
  } catch (err) {
    // structToJs and JSON.stringify recurse: a Struct nested deep enough overflows the stack.
    if (err instanceof RangeError) return fail('COLLECTOR_ERR_BATCH_SHAPE', 'a Struct is nested too deeply');
    throw err;
  }
  parts.push(']}');
  return { ok: true, body: Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p) : p))), batchId };
}
