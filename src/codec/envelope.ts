/**
 * The event envelope validated by the C scanner as it tokenises the body (native/codec,
 * src/envelope.c, its rules generated at build time from EventSchema in src/schema/event.ts),
 * so src/codec/decode.ts can skip JSON.parse and TypeBox for the events that pass. Runs in the
 * decode workers and on the main thread alike.
 */
import { loadNativeAddon } from '../native-addon.js';
import { EventSchema } from '../schema/event.js';

interface Layout {
  props: string[];
  captures: string[];
  words: number;
  head: number;
}

interface EnvelopeAddon {
  envelope(body: Uint8Array, maxEvents?: number): Int32Array | null;
  envelopeLayout(): Layout;
}

const addon = loadNativeAddon<EnvelopeAddon>('codec');

/** verdict bits 0–1: what TypeBox's Check would say; neither: the C side cannot tell */
export const ENVELOPE_VALID = 1;
export const ENVELOPE_INVALID = 2;
/** verdict bit: every captured string is present, a string, and has no escape (its bytes are its UTF-8) */
export const ENVELOPE_CAPTURED = 4;
/** verdict bit: a field the schema does not name (the answer's warnings need its name) */
export const ENVELOPE_UNKNOWN = 8;

/** verdict bits 8–15: 1 + the index of event_type's value in EVENT_TYPE_VALUES (the first captured enum) */
export const ENVELOPE_ENUM_SHIFT = 8;
/** verdict bit ENVELOPE_SAME_SHIFT + k: capture k's bytes equal the previous element's */
export const ENVELOPE_SAME_SHIFT = 16;

const layout = addon.envelopeLayout();
/**
 * Words before the first element (n; state, start, end of batch_id; the same of sent_at), and
 * per element (start, end, flags, verdict, presence, captures…).
 */
export const ENVELOPE_HEAD = layout.head;
export const ENVELOPE_WORDS = layout.words;
const schemaProps = Object.keys(EventSchema.properties);
// The addon was built from this schema; a stale build would read the wrong bits. Fail at load, loudly.
if (layout.props.join() !== schemaProps.join()) {
  throw new Error(`native/codec was generated from another EventSchema (${layout.props.join()}); run npm run build:native`);
}

function bit(name: string): number {
  const i = schemaProps.indexOf(name);
  if (i < 0) throw new Error(`EventSchema has no ${name}`);
  return 1 << i;
}

function capture(name: string): number {
  const i = layout.captures.indexOf(name);
  if (i < 0) throw new Error(`native/codec does not capture ${name}`);
  return 5 + 2 * i;
}

const firstEnum = layout.captures.find((c) => 'anyOf' in (EventSchema.properties as Record<string, object>)[c]!);
if (firstEnum !== 'event_type') throw new Error(`native/codec: the first captured enum is ${firstEnum}, not event_type`);
/** event_type's values in the schema's order: the C side names one by its index, no string is cut from the body. */
export const EVENT_TYPE_VALUES: readonly string[] = EventSchema.properties.event_type.anyOf.map((l) => l.const as string);
/** The capture index (for ENVELOPE_SAME_SHIFT) of tenant_id. */
export const TENANT_CAPTURE = layout.captures.indexOf('tenant_id');

/** Presence-mask bits (word 4 of an element), by property. */
export const PRESENT = { priority: bit('priority'), metadata: bit('metadata'), schema_version: bit('schema_version') } as const;
/**
 * Word offsets, within an element, of a captured property's start (its end is the next word): a
 * string's content, event_data's and schema_version's whole value.
 */
export const CAPTURE = {
  event_id: capture('event_id'), learner_id: capture('learner_id'), tenant_id: capture('tenant_id'), event_type: capture('event_type'),
  event_data: capture('event_data'), schema_version: capture('schema_version'), timestamp: capture('timestamp'),
} as const;

/**
 * [n, batchIdState, batchIdStart, batchIdEnd, sentAtState, sentAtStart, sentAtEnd, then
 * ENVELOPE_WORDS per element], or null when the body is not strict JSON or its events, batch_id
 * and sent_at cannot be told from the bytes alone.
 * The body must be valid UTF-8 (the C side does not check it). Past maxEvents elements are counted, not
 * scanned or kept: n says how many there are, and no element's words follow.
 */
export function scanEnvelope(body: Uint8Array, maxEvents?: number): Int32Array | null {
  return maxEvents === undefined ? addon.envelope(body) : addon.envelope(body, maxEvents);
}
