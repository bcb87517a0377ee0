/**
 * TypeBox schemas of what the collector answers, for the OpenAPI document. The request
 * schemas are src/schema/event.ts (the ones the workers validate with); the answers are
 * TypeScript interfaces elsewhere, so each schema here is checked at compile time to be
 * exactly that interface (`Same<Static<…>, Interface>`): change one without the other
 * and `tsc` fails.
 */
import { Type, type Static, type TSchema } from '@sinclair/typebox';
import type { CollectBody } from '../pipeline/answer.js';
import type { RejectedEvent } from '../codec/decode.js';
import type { EventError, EventErrorCode } from '../codec/validator.js';
import type { DeadLetterReason } from '../codec/dead-letter.js';
import { ERRORS, type ErrorBody, type ErrorCode } from '../errors.js';
import type { HealthBody, MetricsBody } from '../telemetry/reports.js';
import type { ClusterMetrics, ProcessHealth, ProcessSummary } from './cluster.js';
import type { SchemasDocument } from './schemas.js';
import { COMPATIBILITY_MODES } from '../schema/payload/types.js';

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const literals = <T extends string>(values: readonly T[], description: string) =>
  Type.Union(values.map((v) => Type.Literal(v)), { description });
const Num = (description: string) => Type.Number({ description });
const Int = (description: string) => Type.Integer({ minimum: 0, description });

export const EVENT_ERROR_CODES = [
  'missing_field', 'wrong_type', 'invalid_format', 'invalid_value', 'invalid_length', 'not_an_object', 'event_too_large', 'too_deep', 'too_many_fields', 'inexact_number', 'unexpected_field', 'unknown_schema_version', 'invalid', 'tenant_forbidden',
] as const satisfies readonly EventErrorCode[];
export const DEAD_LETTER_REASONS = ['validation', 'too_large', 'poison_pill', 'tenant_forbidden'] as const satisfies readonly DeadLetterReason[];
export const ERROR_CODES = Object.keys(ERRORS) as ErrorCode[];

export const EventErrorSchema = Type.Object(
  {
    code: literals(EVENT_ERROR_CODES, 'What is wrong'),
    path: Type.String({ description: 'JSON pointer into the event, e.g. /event_type ("" for the whole event)' }),
    message: Type.String(),
  },
  { description: 'One problem with one event' },
);

export const RejectedEventSchema = Type.Object(
  {
    index: Int('Position of the event in the batch'),
    event_id: Type.Union([Type.String(), Type.Null()], { description: 'The event_id when it had a string one' }),
    reason: literals(DEAD_LETTER_REASONS, 'Why it went to the dead-letter topic'),
    errors: Type.Array(EventErrorSchema),
  },
  { description: 'An event written to the dead-letter topic instead of the main topic' },
);

export const ErrorDetailSchema = Type.Object({
  code: literals(ERROR_CODES, 'Stable error code (see the error table)'),
  message: Type.String({ description: 'The code\'s fixed message' }),
  detail: Type.Optional(Type.String({ description: 'What exactly was wrong' })),
});

export const ErrorBodySchema = Type.Object(
  {
    error: ErrorDetailSchema,
    batch_id: Type.Optional(Type.String()),
  },
  { description: 'Every error answer' },
);

export const CollectResponseSchema = Type.Object(
  {
    batch_id: Type.String({ description: 'The request\'s batch_id, or a generated UUID' }),
    accepted_count: Int('Events acknowledged by Kafka in the main topic'),
    rejected_count: Int('Events written to the dead-letter topic'),
    processing_time_ms: Num('From the request\'s arrival to the answer (Kafka acknowledgement included)'),
    kafka_partition: Type.Union([Type.Integer(), Type.Null()], {
      description: 'The partition every accepted event went to; null when they span several, or none',
    }),
    kafka_partitions: Type.Array(Type.Integer(), { description: 'Every partition written, ascending' }),
    dlq_events: Type.Array(RejectedEventSchema),
    warnings: Type.Array(Type.String(), { description: 'e.g. unknown fields kept and forwarded' }),
    buffered: Type.Optional(Type.Boolean({ description: 'true when some records were written to the disk buffer (Kafka unavailable) and will be delivered in order later' })),
    duplicate_count: Type.Optional(Type.Integer({ description: 'Events already acknowledged within the dedup window: acknowledged again (counted in accepted_count), not written twice' })),
    duplicates: Type.Optional(Type.Array(Type.Object({ index: Type.Integer(), event_id: Type.String() }), { description: 'Which events were duplicates' })),
    error: Type.Optional(ErrorDetailSchema),
  },
  { description: 'The answer to a batch (200, 207, 422)' },
);

const BufferStatusSchema = Type.Object({
  buffered_batches: Int('Batches in the disk spill log'),
  buffer_size_mb: Num('Spill log size on disk'),
  buffered_events: Int('Events in the spill log'),
  fill_percent: Num('Spill log size as a percentage of MAX_BUFFER_SIZE_MB'),
  replay_events_per_second: Num('Replay rate from the spill log into Kafka (last 10 s)'),
  adopted_logs: Int('Spill logs of dead processes this one is draining'),
});

export const ProcessHealthSchema = Type.Object({
  instance: Type.String(),
  host: Type.String(),
  pid: Type.Integer(),
  age_ms: Int('How old this process\'s numbers are (0 for the answering process)'),
  self: Type.Boolean({ description: 'true for the process that answered' }),
  status: literals(['healthy', 'degraded', 'unhealthy'] as const, 'That process\'s status'),
  kafka_connected: Type.Boolean(),
  kafka_problem: Type.Optional(Type.String({ description: 'While Kafka is unreachable: what librdkafka said stops it (authentication failed, TLS handshake failed)' })),
  circuit_state: Type.String(),
  buffered_batches: Int('Batches in its spill log'),
  buffer_fill_percent: Num('Its spill log fill'),
  replay_events_per_second: Num('Its replay rate'),
  events_per_second: Num('Its throughput (last 60 s)'),
  uptime_seconds: Int('Its uptime'),
});

const healthProps = {
  status: literals(['healthy', 'degraded', 'unhealthy'] as const, 'unhealthy (503): stopping, or Kafka unreachable with the spill log ≥ 95 % full; degraded: circuit not closed, spill log not empty, DLQ rate > 5 %, a payload schema refused or the shared store degraded'),
  kafka_connected: Type.Boolean(),
  kafka_problem: Type.Optional(Type.String({ description: 'While Kafka is unreachable: what librdkafka said stops it, e.g. "authentication failed" (a wrong SASL password) or "TLS handshake failed"' })),
  buffer_status: BufferStatusSchema,
  circuit_state: Type.String({ description: 'closed | open | half_open' }),
  throughput_metrics: Type.Object({
    events_per_second: Num('Events settled per second over the last 60 s'),
    avg_processing_time_ms: Num('Mean request time since start'),
  }),
  dlq_rate: Num('Rejected / processed since start'),
  uptime_seconds: Int('Seconds since this process started'),
  durability: Type.Object(
    {
      acks: Type.String({ description: 'KAFKA_ACKS (-1 reported as all)' }),
      idempotent: Type.Boolean({ description: 'KAFKA_IDEMPOTENT' }),
      weak_acks: Type.Boolean({
        description: 'true when started with ALLOW_WEAK_ACKS=true and KAFKA_ACKS=1 or 0: a 2xx can then be lost with one broker',
      }),
    },
    { description: 'What a 2xx promises' },
  ),
  payload_schemas: Type.Object(
    {
      status: literals(['ok', 'degraded'] as const, 'degraded (and the whole report degraded) while a schema version was refused at load or reload; the previous set is in force'),
      generation: Int('Generation of the schema set in force (1 at boot, +1 per applied reload)'),
      problems: Type.Array(Type.String(), { description: 'Why versions were refused, e.g. "assessment v3 refused: removes required field `score` …"' }),
    },
    { description: 'Versioned payload schemas of this process (GET /api/v1/schemas has the detail)' },
  ),
  shared_store: Type.Optional(
    Type.Object(
      {
        state: literals(['shared', 'degraded'] as const, 'shared: dedup claims and tenant quotas go to REDIS_URL; degraded (and the whole report degraded): the store is slow or unreachable, each host judges alone (host-local dedup, quota / REPLICAS) until it answers again'),
        reason: Type.Optional(Type.String({ description: 'While degraded: what the store call said (e.g. "Command timed out", "connect ECONNREFUSED")' })),
      },
      { description: 'With REDIS_URL: the store the replicas share' },
    ),
  ),
};
const HealthBodySchema = Type.Object(healthProps);

export const HealthResponseSchema = Type.Object(
  { ...healthProps, processes: Type.Array(ProcessHealthSchema, { description: 'Every live collector process on this host' }) },
  { description: 'Health of the answering process (the spec\'s fields), plus every process on the host' },
);

const metricsProps = {
  events_processed_total: Int('Events settled (accepted + rejected)'),
  events_per_second: Num('Events settled per second over the last 60 s'),
  events_accepted_total: Int('Events accepted (valid; written to the main topic or the disk buffer)'),
  events_rejected_total: Int('Events rejected by validation (written to the dead-letter topic)'),
  kafka_writes_total: Int('Records acknowledged in the main topic'),
  dlq_events_total: Int('Records acknowledged in the dead-letter topic'),
  buffer_events_count: Int('Events in the disk spill log now'),
  avg_processing_time_ms: Num('Mean request time'),
  p99_processing_time_ms: Num('99th percentile request time over the last 60 s (HDR histogram)'),
  spilled_events_total: Int('Events written to the spill log'),
  replayed_events_total: Int('Events replayed from the spill log into Kafka'),
  possible_duplicates_total: Int('Records that may have reached Kafka twice'),
  poison_pills_total: Int('Events Kafka refused for good, quarantined to the DLQ'),
};
const MetricsBodySchema = Type.Object(metricsProps);

export const ProcessMetricsSchema = Type.Object({
  instance: Type.String(),
  host: Type.String(),
  pid: Type.Integer(),
  age_ms: Int('How old this process\'s numbers are (0 for the answering process)'),
  self: Type.Boolean({ description: 'true for the process that answered' }),
  ...metricsProps,
});

const IngressMetricsSchema = Type.Object({
  batches_total: Int('Batches answered since start'),
  failed_total: Int('Batches refused or failed as a whole (HTTP status ≥ 400, gRPC status not OK)'),
  batches_in_window: Int('Batches answered over the last 60 s'),
  p50_ms: Num('Median batch time over the last 60 s'),
  p99_ms: Num('99th percentile batch time over the last 60 s'),
});

export const MetricsResponseSchema = Type.Object(
  {
    ...metricsProps,
    p50_processing_time_ms: Num('Median request time over the last 60 s'),
    p999_processing_time_ms: Num('99.9th percentile request time over the last 60 s'),
    processes_reporting: Int('Live processes included'),
    answered_by: Type.String({ description: 'INSTANCE_ID of the process that answered' }),
    ingress: Type.Object(
      { http: IngressMetricsSchema, grpc: IngressMetricsSchema },
      { description: 'Batches by the door they came in (HTTP POST /api/v1/collect, gRPC Collect and CollectStream), summed over the host' },
    ),
    per_process: Type.Array(ProcessMetricsSchema),
  },
  { description: 'The spec\'s metrics for every collector process on the host (counters summed, p99 from the merged histograms), and per process' },
);

export const ProbeSchema = Type.Object(
  { status: literals(['ok', 'fail'] as const, 'ok with 200, fail with 503') },
  { additionalProperties: true, description: 'Probe answer; the other fields say why' },
);

// Compile-time: each schema is exactly the interface the code answers with.
export const schemaChecks: [
  Same<Static<typeof EventErrorSchema>, EventError>,
  Same<Static<typeof RejectedEventSchema>, RejectedEvent>,
  Same<Static<typeof ErrorBodySchema>, ErrorBody>,
  Same<Static<typeof CollectResponseSchema>, CollectBody>,
  Same<Static<typeof HealthBodySchema>, HealthBody>,
  Same<Static<typeof MetricsBodySchema>, MetricsBody>,
  Same<Static<typeof ProcessMetricsSchema>, ProcessSummary>,
  Same<Static<typeof MetricsResponseSchema>, ClusterMetrics>,
  Same<Static<typeof ProcessHealthSchema>, ProcessHealth>,
] = [true, true, true, true, true, true, true, true, true];

const Mode = literals(COMPATIBILITY_MODES, 'Compatibility rule (the registry\'s semantics)');
export const SchemasResponseSchema = Type.Object(
  {
    source: literals(['folder', 'registry', 'none'] as const, 'Where the schemas come from: the SCHEMA_DIR folder, the SCHEMA_REGISTRY_URL registry, or none (SCHEMA_DIR=off)'),
    location: Type.String({ description: 'The folder, resolved, or the registry URL (without credentials)' }),
    default_compatibility: Mode,
    generation: Int('Generation of the set in force in the answering process (1 at boot, +1 per applied reload)'),
    loaded_at: Type.String({ description: 'When that set was loaded' }),
    status: literals(['ok', 'degraded'] as const, 'degraded while the last load or reload refused a version'),
    problems: Type.Array(
      Type.Object({ event_type: Type.String(), version: Type.Union([Type.Integer(), Type.Null()]), message: Type.String() }),
      { description: 'What the last load or reload refused, and why' },
    ),
    last_reload: Type.Union([
      Type.Object({ at: Type.String(), result: literals(['applied', 'refused', 'failed', 'unchanged'] as const, 'What the last reload did') }),
      Type.Null(),
    ]),
    in_use: Type.Array(
      Type.Object({
        event_type: Type.String(),
        schema_version: Type.String({ description: 'A version, `none` (type without schemas) or `unknown` (an unregistered version was named)' }),
        valid: Int('Events that passed'),
        invalid: Int('Events sent to the dead-letter topic by this check'),
      }),
      { description: 'Versions in use: events judged since each process started, summed over the host' },
    ),
    processes: Type.Array(
      Type.Object({ instance: Type.String(), generation: Int('Its schema set generation'), status: literals(['ok', 'degraded'] as const, 'Its schema status') }),
      { description: 'Every live process of the host and the schema set it has in force' },
    ),
    types: Type.Array(
      Type.Object({
        event_type: Type.String(),
        compatibility: Mode,
        default_version: Type.Integer({ minimum: 1, description: 'The version an event without schema_version is judged by' }),
        pinned: Type.Boolean({ description: 'true when config.json pins the default; false when it is the latest' }),
        versions: Type.Array(
          Type.Object({
            version: Type.Integer({ minimum: 1 }),
            schema_id: Type.Union([Type.Integer(), Type.Null()], { description: 'The id the registry assigned (also the schema_id Kafka header); null for the folder' }),
            schema: Type.Union([Type.Boolean(), Type.Record(Type.String(), Type.Unknown())], { description: 'The JSON Schema of event_data' }),
          }),
        ),
        upcast: Type.Union(
          [
            Type.Object({
              to: Type.Integer({ minimum: 1, description: 'The version events of earlier versions are written in' }),
              steps: Type.Record(
                Type.String(),
                Type.Array(
                  Type.Union([
                    Type.Object({ rename: Type.Object({ from: Type.String(), to: Type.String() }) }),
                    Type.Object({ default: Type.Object({ field: Type.String(), value: Type.Unknown() }) }),
                    Type.Object({ drop: Type.String() }),
                  ]),
                ),
                { description: 'From-version → the steps that turn it into the next loaded version' },
              ),
            }),
            Type.Null(),
          ],
          { description: 'Upcasting from config.json (folder only); null: records keep the version they were sent in' },
        ),
      }),
    ),
  },
  { description: 'The versioned payload schemas the answering process judges event_data by' },
);
const _schemasSame: Same<Static<typeof SchemasResponseSchema>, SchemasDocument> = true;
void _schemasSame;

export const ANSWER_SCHEMAS: Record<string, TSchema> = {
  Schemas: SchemasResponseSchema,
  CollectResponse: CollectResponseSchema,
  RejectedEvent: RejectedEventSchema,
  EventError: EventErrorSchema,
  Error: ErrorBodySchema,
  ErrorDetail: ErrorDetailSchema,
  Health: HealthResponseSchema,
  ProcessHealth: ProcessHealthSchema,
  Metrics: MetricsResponseSchema,
  ProcessMetrics: ProcessMetricsSchema,
  Probe: ProbeSchema,
};
