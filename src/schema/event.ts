/**
 * The event and batch schemas: the one source of truth. Workers compile them
 * (src/codec/validator.ts), the OpenAPI document is generated from them, the README
 * describes them. Pure: no I/O, safe to import from worker threads.
 *
 * Unknown-field policy: unknown top-level event fields are KEPT and forwarded to Kafka
 * unchanged, and the answer's `warnings` names them — a client on a newer schema
 * version keeps working, and a typo does not vanish silently.
 */
import { FormatRegistry, Type, type Static } from '@sinclair/typebox';

const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;
// RFC 3339 date-time (Z or numeric offset; 'T', 't' or ' ' separator as RFC 3339 §5.6 notes allow).
const DATE_TIME =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt ]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d{1,9})?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;

const DAYS_IN_MONTH = [0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const digits2 = (v: string, at: number) => (v.charCodeAt(at) - 48) * 10 + v.charCodeAt(at + 1) - 48;

/**
 * RFC 3339 §5.7: the date must exist. The grammar (DATE_TIME) already bounds month 01–12, day
 * 01–31, hour 00–23 and allows second 60 (a leap second, as the RFC does); what it cannot say
 * is the 30th of February or the 31st of April. On the hot path: a few char codes, no Date.
 */
export function isDateTime(v: string): boolean {
  if (!DATE_TIME.test(v)) return false;
  const day = digits2(v, 8);
  if (day <= 28) return true;
  const month = digits2(v, 5);
  if (month !== 2) return day <= DAYS_IN_MONTH[month]!;
  if (day > 29) return false;
  const year = digits2(v, 0) * 100 + digits2(v, 2);
  return year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
}

/** TypeBox 0.34 has no built-in formats and fails unknown ones: register ours once per thread. */
export function registerFormats(): void {
  if (!FormatRegistry.Has('uuid')) FormatRegistry.Set('uuid', (v) => UUID.test(v));
  if (!FormatRegistry.Has('date-time')) FormatRegistry.Set('date-time', isDateTime);
}
registerFormats();

export const EVENT_TYPES = ['interaction', 'progress', 'assessment', 'error', 'system'] as const;
export const PRIORITIES = ['low', 'medium', 'high', 'critical'] as const;
export const DEFAULT_PRIORITY = 'medium';

/**
 * Field-count caps (on top of MAX_EVENT_BYTES for the whole event): a hostile event with
 * 100,000 tiny keys fits in 1 MB yet costs a validator pass and a DLQ record per key.
 */
export const MAX_EVENT_FIELDS = 64;
export const MAX_EVENT_DATA_FIELDS = 256;
export const MAX_METADATA_FIELDS = 64;

const Id = (description: string) => Type.String({ minLength: 1, maxLength: 256, description });

export const EventSchema = Type.Object(
  {
    event_id: Type.String({ format: 'uuid', description: 'Unique id of the event (UUID); the dedup key' }),
    learner_id: Id('The learner; the Kafka record key (murmur2 partitioning, as the Java client)'),
    tenant_id: Id('The tenant; copied to the tenant_id record header'),
    event_type: Type.Union(
      EVENT_TYPES.map((t) => Type.Literal(t)),
      { description: 'interaction | progress | assessment | error | system' },
    ),
    priority: Type.Optional(
      Type.Union(
        PRIORITIES.map((p) => Type.Literal(p)),
        { description: 'low | medium | high | critical; medium when absent' },
      ),
    ),
    schema_version: Type.Optional(
      Type.Integer({
        minimum: 1,
        maximum: 2_147_483_647,
        description: "Version of event_data's payload schema for this event_type (GET /api/v1/schemas); the type's default version when absent",
      }),
    ),
    timestamp: Type.String({ format: 'date-time', maxLength: 64, description: 'When it happened, RFC 3339' }),
    source_service: Id('The emitting service'),
    event_data: Type.Record(Type.String(), Type.Unknown(), {
      maxProperties: MAX_EVENT_DATA_FIELDS,
      description: `Event payload (a JSON object of at most ${MAX_EVENT_DATA_FIELDS} top-level fields)`,
    }),
    metadata: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), {
        maxProperties: MAX_METADATA_FIELDS,
        description: `Context such as session_id; {} when absent; at most ${MAX_METADATA_FIELDS} fields`,
      }),
    ),
  },
  {
    additionalProperties: true,
    maxProperties: MAX_EVENT_FIELDS,
    description: `A learner event (the spec's "Base Event Structure"); at most ${MAX_EVENT_FIELDS} top-level fields, unknown ones included`,
  },
);
export type Event = Static<typeof EventSchema>;

export const KNOWN_EVENT_FIELDS: ReadonlySet<string> = new Set(Object.keys(EventSchema.properties));

export const BatchEnvelopeSchema = Type.Object(
  {
    batch_id: Type.Optional(Type.String({ minLength: 1, maxLength: 128, description: 'Generated (UUID) when absent' })),
    sent_at: Type.Optional(
      Type.String({
        format: 'date-time',
        description:
          "The client's clock when the batch left (RFC 3339). When present, every record gets the Kafka header derived_timestamp = received_at - (sent_at - timestamp): the event's time corrected for a wrong device clock, never after received_at nor more than 30 days before it; timestamp itself is untouched. Not RFC 3339: 400 COLLECTOR_ERR_SENT_AT",
      }),
    ),
    events: Type.Array(EventSchema, { minItems: 1, maxItems: 1000 }),
    metadata: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { description: 'The "Batch Request Format"' },
);

export const BatchBodySchema = Type.Union([Type.Array(EventSchema, { minItems: 1, maxItems: 1000 }), BatchEnvelopeSchema], {
  description: 'Either a bare array of events or a batch envelope',
});
