/**
 * Every environment variable the collector reads: one TypeBox schema with a default
 * and a description on each. It is checked once at boot (src/config/load.ts), frozen,
 * and it is the source of the README's configuration table (a test keeps them in sync).
 * Names and defaults in the first block are the spec's table; the rest are ours.
 */
import { Type, type Static } from '@sinclair/typebox';
import { COMPATIBILITY_MODES } from '../schema/payload/types.js';

const Bool = (def: boolean, description: string) => Type.Boolean({ default: def, description });
const Int = (def: number, min: number, max: number, description: string) =>
  Type.Integer({ default: def, minimum: min, maximum: max, description });
const Str = (def: string, description: string, extra: { minLength?: number } = { minLength: 1 }) =>
  Type.String({ default: def, description, ...extra });

export const ConfigSchema = Type.Object(
  {
    // --- the spec's table ---
    KAFKA_BOOTSTRAP_SERVERS: Str(
      'localhost:9092',
      'Kafka cluster endpoints (comma-separated host:port). `npm start` runs a local broker when this is unset.',
    ),
    KAFKA_TOPIC: Str('events', 'Primary event topic'),
    DLQ_TOPIC: Str('events-dlq', 'Dead-letter topic: rejected and quarantined events'),
    TOPIC_ROUTES: Str(
      '',
      'Events topic per tenant, e.g. `tenant_alpha=events-alpha,*=events` (`*`, or a tenant without a route: KAFKA_TOPIC). Each topic must exist: checked at start',
      {},
    ),
    DLQ_TOPIC_ROUTES: Str('', 'Dead-letter topic per tenant, as TOPIC_ROUTES (`*`, or no route: DLQ_TOPIC)', {}),
    KAFKA_CLIENT_ID: Str('event-collector-svc', 'Kafka client.id (the instance number is appended)'),
    BUFFER_DIR: Str('./data/buffer', 'Disk spill directory; each process owns BUFFER_DIR/<instance>'),
    MAX_BUFFER_SIZE_MB: Int(
      256,
      1,
      1_048_576,
      'Hard cap on spill bytes on disk, per process (256: a 30-min outage at 2,000 events/s is 3.6 M events × ~45 B = ~162 MB)',
    ),
    KAFKA_MAX_RETRIES: Int(3, 0, 100, 'Produce attempts before an event is quarantined as a poison pill'),
    KAFKA_COMPRESSION_TYPE: Type.Union(
      [Type.Literal('none'), Type.Literal('gzip'), Type.Literal('snappy'), Type.Literal('lz4'), Type.Literal('zstd')],
      { default: 'gzip', description: 'Kafka message compression; refused at start when the installed librdkafka cannot write it (zstd needs libzstd-dev installed before `npm ci`)' },
    ),
    KAFKA_ACKS: Type.Union([Type.Literal('all'), Type.Literal('-1'), Type.Literal('1'), Type.Literal('0')], {
      default: 'all',
      description: 'Write acknowledgement level. Idempotence (on unless KAFKA_IDEMPOTENT=false) requires all',
    }),
    KAFKA_MAX_IN_FLIGHT: Int(
      1,
      1,
      5,
      'max.in.flight requests per connection (ordering holds up to 5 with idempotence). 1: while one produce request is out, records wait and the next request carries fuller batches, so batching grows with load without the latency a longer linger.ms adds when idle (broker CPU per event at max-100 1.63–1.77 vs 2.59–5.04 ms/1k at 5, four back-to-back pairs, loaded box)',
    ),

    // --- ours ---
    PORT: Int(8000, 0, 65535, 'HTTP port (shared by every process through SO_REUSEPORT)'),
    HTTP_ENGINE: Type.Union([Type.Literal('uws'), Type.Literal('node')], {
      default: 'uws',
      description:
        'uws: uWebSockets.js, the fastest; a request pipelined behind a pending answer closes the connection with no answer (clients must not pipeline). node: Node\'s http server; pipelined requests are answered in order, one at a time per connection, at a higher cost per request',
    }),
    HOST: Str('0.0.0.0', 'HTTP bind address'),
    KAFKA_IDEMPOTENT: Bool(true, 'Idempotent producer (no duplicates from producer retries)'),
    ALLOW_WEAK_ACKS: Bool(
      false,
      'Start with KAFKA_ACKS=1 or 0 (and KAFKA_IDEMPOTENT=false): events are then answered 2xx on a leader-only or unacknowledged write and can be lost with that broker. Refused at start unless true; GET /api/v1/health reports it',
    ),
    KAFKA_LINGER_MS: Int(1, 0, 1000, 'linger.ms: how long the producer waits to fill a Kafka batch (1: measured 4 ms vs 9 ms round trips at 5)'),
    KAFKA_COMPRESSION_LEVEL: Int(
      1,
      -1,
      12,
      'compression.level for gzip, lz4 and zstd (-1: the codec\'s default, 6 for gzip); 1 measured 20–30 % less producer CPU than 6 for ~9 % more bytes. Not used with snappy or none',
    ),
    KAFKA_BATCH_SIZE: Int(1_000_000, 1024, 16_777_216, 'batch.size in bytes per partition'),
    KAFKA_DELIVERY_TIMEOUT_MS: Int(30_000, 1000, 3_600_000, 'delivery.timeout.ms: after this an unacknowledged record fails'),
    KAFKA_QUEUE_MAX_MESSAGES: Int(100_000, 1000, 10_000_000, 'queue.buffering.max.messages of the producer'),
    KAFKA_CONFIG_JSON: Str('{}', 'Extra librdkafka global properties as a JSON object (anything the KAFKA_SECURITY_* and KAFKA_SASL_*/KAFKA_SSL_* settings do not cover)', {}),
    KAFKA_SECURITY_PROTOCOL: Type.Union(
      [Type.Literal('plaintext'), Type.Literal('ssl'), Type.Literal('sasl_plaintext'), Type.Literal('sasl_ssl')],
      { default: 'plaintext', description: 'How the producer talks to Kafka: `sasl_ssl` for SASL over TLS (managed clusters), `ssl` for TLS alone or mTLS (with KAFKA_SSL_CERTIFICATE_LOCATION and KAFKA_SSL_KEY_LOCATION)' },
    ),
    KAFKA_SASL_MECHANISM: Type.Union(
      [Type.Literal(''), Type.Literal('PLAIN'), Type.Literal('SCRAM-SHA-256'), Type.Literal('SCRAM-SHA-512'), Type.Literal('OAUTHBEARER')],
      { default: '', description: 'SASL mechanism, required with sasl_*. PLAIN and SCRAM take KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD_FILE; OAUTHBEARER takes the KAFKA_SASL_OAUTHBEARER_* settings (OIDC client credentials)' },
    ),
    KAFKA_SASL_USERNAME: Str('', 'SASL user name (PLAIN, SCRAM)', {}),
    KAFKA_SASL_PASSWORD_FILE: Str(
      '',
      'File holding the SASL password (PLAIN, SCRAM; a Kubernetes Secret mounted as a file; one trailing newline is ignored). Read at start and again when it changes (checked every 2 s) or on SIGHUP: the next authentication uses the new password, no restart',
      {},
    ),
    KAFKA_SASL_OAUTHBEARER_TOKEN_ENDPOINT_URL: Str('', 'OAUTHBEARER: the OIDC token endpoint (client credentials grant)', {}),
    KAFKA_SASL_OAUTHBEARER_CLIENT_ID: Str('', 'OAUTHBEARER: the OIDC client id', {}),
    KAFKA_SASL_OAUTHBEARER_CLIENT_SECRET_FILE: Str('', 'OAUTHBEARER: file holding the OIDC client secret (read at start)', {}),
    KAFKA_SASL_OAUTHBEARER_SCOPE: Str('', 'OAUTHBEARER: the scope to ask for (optional)', {}),
    KAFKA_SSL_CA_LOCATION: Str('', 'PEM file of the CA(s) that signed the brokers\' certificates (ssl, sasl_ssl); empty: the system CA store', {}),
    KAFKA_SSL_CERTIFICATE_LOCATION: Str('', 'mTLS: PEM file of this client\'s certificate (with KAFKA_SSL_KEY_LOCATION)', {}),
    KAFKA_SSL_KEY_LOCATION: Str('', 'mTLS: PEM file of this client\'s private key', {}),
    KAFKA_SSL_KEY_PASSWORD_FILE: Str('', 'mTLS: file holding the private key\'s passphrase, when it is encrypted', {}),
    KAFKA_SSL_ENDPOINT_IDENTIFICATION: Type.Union([Type.Literal('https'), Type.Literal('none')], {
      default: 'https',
      description: 'Check that each broker\'s certificate names the host connected to (`none` only for brokers whose certificates cannot be fixed)',
    }),
    WORKER_THREADS: Int(1, 1, 64, 'Decode/validate worker threads per process'),
    INLINE_DECODE_MAX_BYTES: Int(
      65_536,
      0,
      268_435_456,
      'Bodies up to this size (decompressed) are decoded on the main thread: for 100-event batches the hop to a worker and back cost more CPU than the decode (measured 42–45 → 25–28 ms per 1k events). 0: every body goes to a worker',
    ),
    CODEC_NATIVE_ENVELOPE: Bool(
      true,
      'The C scanner validates each event envelope (rules generated at build time from the TypeBox schema) and JavaScript parses only what it must: event_data for payload schemas, events that fail (to name the error), unknown fields, bodies the scanner cannot map. Same answers and records either way (native/codec/README.md); false: JSON.parse and TypeBox for every body',
    ),
    RING_SLOTS: Int(64, 2, 4096, 'Request slots in the shared-memory ring, per process (in-flight requests)'),
    MAX_BODY_BYTES: Int(1_048_576, 1024, 67_108_864, 'Largest request body on the wire (compressed); also the slot size'),
    MAX_DECODED_BYTES: Int(4_194_304, 1024, 268_435_456, 'Largest body after gunzip'),
    MAX_EVENTS_PER_BATCH: Int(1000, 1, 1000, 'Most events in one batch'),
    MAX_EVENT_BYTES: Int(65_536, 256, 1_048_576, 'Largest single event (serialised JSON bytes)'),
    KAFKA_CONNECT_WAIT_MS: Int(5000, 0, 600_000, 'At start, how long to wait for the producer to connect before listening anyway (batches are spilled until it connects)'),
    DLQ_MAX_RECORD_BYTES: Int(
      524_288,
      4096,
      900_000,
      'Largest dead-letter record: over it the original event is replaced by its size, SHA-256 and first characters (`original_event_truncated`), so an oversized invalid event still lands. Keep it under the DLQ topic\'s max.message.bytes and librdkafka\'s message.max.bytes (1,000,000)',
    ),
    SPILL_AFTER_MS: Int(2000, 50, 600_000, 'A batch Kafka has not acknowledged after this long is spilled to disk (and the circuit opens)'),
    SPILL_SEGMENT_MB: Int(8, 1, 1024, 'Spill segment size; a segment is deleted once all of it is delivered'),
    CIRCUIT_PROBE_MS: Int(1000, 50, 600_000, 'While the circuit is open, how often the replayer probes Kafka with the oldest spilled batch'),
    DEDUP_ENABLED: Bool(true, 'Deduplicate events by event_id across every process of this host (native shared-memory table)'),
    DEDUP_WINDOW_MS: Int(300_000, 1000, 86_400_000, 'How long an acknowledged event_id is remembered'),
    DEDUP_CAPACITY: Int(
      2_097_152,
      32,
      268_435_456,
      'Slots in the dedup table, a power of two; 26 B each (2 Mi = 52 MiB holds 5 min at 2,000 events/s at load 0.29)',
    ),
    DEDUP_PATH: Str('', 'Dedup table file (tmpfs); empty: /dev/shm/event-collector-<HOST_NAMESPACE>-<PORT>.dedup (without a namespace: -<PORT>)', {}),
    MALLOC_TRIM_INTERVAL_MS: Int(
      10_000,
      0,
      3_600_000,
      "Every this often, malloc's free pages go back to the kernel (glibc malloc_trim: librdkafka's, uWS's and zlib's arenas keep them after large batches); 0: never",
    ),
    MEMORY_SETTLE_IDLE_MS: Int(
      10_000,
      0,
      3_600_000,
      'After work, once no batch came for this long: the decode workers are replaced by fresh ones, the main thread gets a full GC and malloc_trim runs, so the heap a burst of large batches grew goes back to the kernel; 0: never',
    ),
    REQUEST_TIMEOUT_MS: Int(10_000, 100, 600_000, 'Deadline for answering a request once its body is in'),
    BODY_TIMEOUT_MS: Int(
      10_000,
      100,
      600_000,
      'A request body must be complete this long after its headers, or the answer is 408 and the connection closes (slow and trickled uploads cannot pin a slot)',
    ),
    ADMISSION_TARGET_MS: Int(
      20,
      1,
      60_000,
      'Queueing delay admission allows: the number of batches in flight per process adapts so that body-complete → answer stays within this of the no-load time (Kafka round trip included); past the limit new batches get 503 + Retry-After',
    ),
    ADMISSION_MIN_IN_FLIGHT: Int(
      16,
      1,
      4096,
      'The adaptive limit never drops below this many batches in flight per process (16: on 2 shared cores a floor of 4 cut admitted throughput 2.6× under overload without lowering latency, which CPU starvation set, not our queue)',
    ),
    ADMISSION_STARVATION_AWARE: Bool(
      true,
      "Admission tells starvation from queueing: service times are judged net of CPU starvation (Linux: the main thread's run-queue wait) and a window whose answer rate collapsed (a stall) is judged neither way, so a busy box queues batches instead of refusing them; false: as measured",
    ),
    CLIENT_MAX_IN_FLIGHT: Int(0, 0, 4096, 'Per client and process: requests in flight before 429 (0: no limit)'),
    CLIENT_RATE_LIMIT: Int(0, 0, 1_000_000, 'Per client and process: requests per second, bursts of one second\'s worth, before 429 (0: no limit)'),
    CLIENT_ID_HEADER: Str(
      '',
      'Header naming the client for the per-client limits (e.g. x-api-key, or x-forwarded-for behind a proxy: its first address); empty or absent: the remote address',
      {},
    ),
    CORS_ALLOWED_ORIGINS: Str(
      '',
      'Browser origins that may write (comma-separated, exact: scheme://host[:port]; `*`: any origin, refused with CORS_ALLOW_CREDENTIALS). Empty: CORS off, no preflight answered, text/plain refused. On: POST /api/v1/collect answers preflights, refuses other origins with 403, and takes text/plain bodies (sendBeacon) as JSON',
      {},
    ),
    CORS_ALLOW_CREDENTIALS: Bool(false, 'Answer browsers with Access-Control-Allow-Credentials: true (cookies, HTTP auth); API keys in headers do not need it'),
    CORS_MAX_AGE_S: Int(7200, 0, 86_400, 'Access-Control-Max-Age: how long a browser may reuse a preflight answer (Chromium caps it at 7200)'),
    SCHEMA_DIR: Str(
      'schemas',
      'Versioned JSON Schemas for event_data: <dir>/<event_type>/<version>.json (+ optional config.json); see "Schema evolution". `off`: no payload schemas, any event_data object is accepted',
    ),
    SCHEMA_COMPATIBILITY: Type.Union(
      COMPATIBILITY_MODES.map((m) => Type.Literal(m)),
      { default: 'BACKWARD', description: "Compatibility rule a new payload schema version must keep (the registry's semantics); a type's config.json may set its own" },
    ),
    SCHEMA_RELOAD_MS: Int(2000, 100, 3_600_000, 'How often every process checks SCHEMA_DIR for changed schemas (SIGHUP reloads at once)'),
    SCHEMA_REGISTRY_URL: Str(
      '',
      'Confluent-compatible Schema Registry (Confluent, Apicurio `…/apis/ccompat/v7`, Karapace) to take payload schemas from instead of SCHEMA_DIR; user:password in the URL become basic auth. Empty: the folder',
      {},
    ),
    SCHEMA_REGISTRY_SUBJECT: Str('{topic}-{event_type}', 'Subject naming strategy: the subject holding each event type\'s versions; `{topic}` is KAFKA_TOPIC'),
    SCHEMA_REGISTRY_REFRESH_MS: Int(30_000, 100, 3_600_000, 'Registry cache expiry: how often every process asks for each subject\'s latest version and rule (versions seen are cached; SIGHUP refreshes at once)'),
    SCHEMA_REGISTRY_TIMEOUT_MS: Int(5000, 100, 120_000, 'Per registry request, retries included'),
    SCHEMA_REGISTRY_MAX_VERSIONS: Int(
      100,
      1,
      10_000,
      "Most versions of one subject read from the registry (versions 1 to the latest are each fetched once and cached): a subject whose latest version is above it is refused as an absurd answer (logged, collector_schema_registry_refused_answers_total, the set in force stays)",
    ),
    // --- gRPC ingress (src/grpc/) ---
    GRPC_PORT: Int(50051, 0, 65535, 'gRPC port (EventCollector, health, reflection), shared by every process through SO_REUSEPORT; 0: no gRPC'),
    GRPC_TLS_CERT: Str('', 'PEM certificate chain file: set with GRPC_TLS_KEY, gRPC is served over TLS (plaintext when both are empty)', {}),
    GRPC_TLS_KEY: Str('', 'PEM private key file of GRPC_TLS_CERT', {}),
    GRPC_TLS_CLIENT_CA: Str('', 'PEM CA file: when set (with TLS), clients must present a certificate it signed (mutual TLS)', {}),
    GRPC_STREAM_MAX_IN_FLIGHT: Int(
      8,
      1,
      1024,
      'Batches of one CollectStream in the pipeline or waiting for the client to read their answer; past it the stream is not read (HTTP/2 flow control holds the client)',
    ),
    GRPC_MAX_CONCURRENT_STREAMS: Int(
      100,
      1,
      100_000,
      'Most calls (unary or streams) open at once on one gRPC connection (HTTP/2 SETTINGS_MAX_CONCURRENT_STREAMS): clients queue calls beyond it, streams opened past it are refused (REFUSED_STREAM). Each stream may hold GRPC_STREAM_MAX_IN_FLIGHT batches',
    ),
    GRPC_REFLECTION: Bool(
      true,
      'Serve gRPC server reflection (grpcurl list/describe/call without the .proto); false: clients need proto/collector/v1/collector.proto',
    ),
    GRPC_KEEPALIVE_TIME_MS: Int(30_000, 1000, 3_600_000, 'Server HTTP/2 PING interval on idle gRPC connections'),
    GRPC_KEEPALIVE_TIMEOUT_MS: Int(10_000, 1000, 600_000, 'A connection whose PING is not answered within this is closed'),
    GRPC_DRAIN_GRACE_MS: Int(
      10_000,
      0,
      15_000,
      'On shutdown and reload: streams still open this long after GOAWAY are cancelled (their unanswered batches are not acknowledged); below the 20 s shutdown grace so the pipeline drain still fits',
    ),
    TEST_ENDPOINTS_ENABLED: Bool(
      true,
      'Serve POST /api/v1/test/events (synthetic load through the real path). Unset: on, except when NODE_ENV=production (the Dockerfile and ecosystem.config.js set it), where it is off: anyone who reaches the port could make the collector write events',
    ),
    METRICS_TOKEN: Str(
      '',
      'Bearer token GET /metrics requires (Prometheus `authorization: {credentials_file: …}`); its series name the tenants of the keys and quota files. Empty: /metrics is open (warned at start when those files are set and HOST is not loopback). Health, probes, /api/v1/metrics and the dashboard stay open: they name no tenant',
      {},
    ),
    AUTH_MODE: Type.Union([Type.Literal('none'), Type.Literal('api_key')], {
      default: 'none',
      description:
        'none: anyone who reaches the port may write any tenant (logged loudly at start when HOST is not loopback). api_key: POST /api/v1/collect and /api/v1/test/events need a key from API_KEYS_FILE (Authorization: Bearer <key> or x-api-key), and each event\'s tenant_id must be one the key may write',
    }),
    API_KEYS_FILE: Str('', 'API keys (JSON: key id, tenants, SHA-256 of the key; written by `npm run keys`). Required with AUTH_MODE=api_key; may also hold "quotas"', {}),
    AUTH_RELOAD_MS: Int(1000, 100, 60_000, 'How often every process checks API_KEYS_FILE and TENANT_QUOTAS_FILE for changes (a revoked key stops working within this)'),
    TENANT_QUOTAS_FILE: Str(
      '',
      'Per-tenant quotas (JSON {"quotas": {"<tenant>|*": {"events_per_second", "bytes_per_second", "burst_seconds"}}}), enforced host-wide; empty: the "quotas" of API_KEYS_FILE, if any',
      {},
    ),
    QUOTA_PATH: Str('', 'Shared-memory file of the per-tenant token buckets (tmpfs); empty: /dev/shm/event-collector-<HOST_NAMESPACE>-<PORT>.quota (without a namespace: -<PORT>)', {}),
    REDIS_URL: Str(
      '',
      'Shared claim and quota store (Redis 7 / Valkey, one primary — not cluster mode): redis://[user:password@]host:port[/db], rediss:// for TLS. Set it on every replica so event-id dedup and tenant quotas hold across them; the password is never logged. Empty: each host alone',
      {},
    ),
    REDIS_TIMEOUT_MS: Int(
      5,
      1,
      10_000,
      'Bound on one store call (one per batch for dedup, one for quotas). Past it the batch is judged by this host alone (host-local dedup, quota / REPLICAS); after 3 such calls in a row (or any error) the store is degraded: health says so, every batch is judged by the host alone, and the store is probed until it answers again',
    ),
    REDIS_KEY_PREFIX: Str('collector:', 'Prefix of every key the collector writes to REDIS_URL; collector deployments that share a store and must not share claims use different prefixes'),
    REPLICAS: Int(1, 1, 1024, 'Collector hosts sharing REDIS_URL: while the store is unreachable each host enforces quota / REPLICAS of every tenant quota'),
    HOST_NAMESPACE: Type.String({
      default: '',
      pattern: '^[A-Za-z0-9._-]{0,64}$',
      description:
        'Names what this host keeps outside BUFFER_DIR (the default dedup and quota tables in /dev/shm, the PM2 app name), so several collector hosts run side by side on one machine; give each its own BUFFER_DIR too. Empty: none (one host per machine)',
    }),
    RUN_DIR: Str(
      '',
      'Run directory shared by the processes of a host: each writes its telemetry to RUN_DIR/metrics/<instance>.json every second, so whichever process answers reports them all. Empty: BUFFER_DIR + `-run` (./data/buffer-run), so processes sharing a spill directory share it',
      {},
    ),
    INSTANCE_ID: Str('0', 'This process within the host (PM2 sets NODE_APP_INSTANCE; used for BUFFER_DIR/<instance>)'),
    LOG_LEVEL: Type.Union(
      [Type.Literal('fatal'), Type.Literal('error'), Type.Literal('warn'), Type.Literal('info'), Type.Literal('debug'), Type.Literal('trace'), Type.Literal('silent')],
      { default: 'info', description: 'pino log level' },
    ),
  },
  { additionalProperties: false },
);

export type Config = Static<typeof ConfigSchema>;
