/**
 * The OpenAPI 3.1 description of the collector, generated from the sources of truth:
 * the TypeBox request schemas (src/schema/event.ts), the answer schemas
 * (src/ops/api-schemas.ts, compile-time tied to the answer types), the error registry
 * (src/errors.ts) and the config limits. OpenAPI 3.1 schemas are JSON Schema 2020-12,
 * which TypeBox emits, so nothing is translated by hand.
 *
 *   node dist/src/ops/openapi.js           prints the YAML
 *   node dist/src/ops/openapi.js --write   rewrites docs/api/rest/event-collector.yaml
 *
 * test/integration/ops/openapi.test.ts fails when the committed file differs from the generated one.
 * The collector serves the same text at GET /openapi.yaml.
 */
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TSchema } from '@sinclair/typebox';
import { BatchBodySchema, BatchEnvelopeSchema, EventSchema } from '../schema/event.js';
import { ERRORS, type ErrorCode } from '../errors.js';
import { ANSWER_SCHEMAS } from './api-schemas.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

export const OPENAPI_PATH = 'docs/api/rest/event-collector.yaml';

/** Repo-relative OPENAPI_PATH from dist/src/ops (compiled) — three levels up. */
export function openapiFile(): string {
  return fileURLToPath(new URL(`../../../${OPENAPI_PATH}`, import.meta.url));
}

function version(): string {
  try {
    const pkg = JSON.parse(readFileSync(fileURLToPath(new URL('../../../package.json', import.meta.url)), 'utf8')) as { version?: string };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

/** TypeBox → plain JSON Schema as people write it: symbols dropped, literal unions as enums, records as additionalProperties. */
export function plainSchema(schema: TSchema): Json {
  const walk = (v: unknown): Json => {
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== 'object') return v as Json;
    const o = v as Record<string, unknown>;
    const out: Obj = {};
    for (const [k, x] of Object.entries(o)) out[k] = walk(x);
    // Type.Record(Type.String(), X) → additionalProperties: X
    const pp = out.patternProperties as Obj | undefined;
    if (pp && Object.keys(pp).length === 1 && pp['^(.*)$'] !== undefined) {
      const inner = pp['^(.*)$'] as Obj;
      delete out.patternProperties;
      out.additionalProperties = Object.keys(inner).length === 0 ? true : inner;
    }
    // anyOf of string consts → enum
    const any = out.anyOf as Obj[] | undefined;
    if (Array.isArray(any) && any.length > 0 && any.every((s) => typeof s === 'object' && s !== null && 'const' in s && s.type === 'string' && Object.keys(s).length === 2)) {
      const rest = Object.fromEntries(Object.entries(out).filter(([k]) => k !== 'anyOf'));
      return { type: 'string', enum: any.map((s) => s.const as Json), ...rest };
    }
    return out;
  };
  return walk(schema);
}

/** Replaces every nested copy of a component with a $ref to it. */
function refify(components: Record<string, Json>): Record<string, Json> {
  const byText = new Map<string, string>();
  for (const [name, s] of Object.entries(components)) if (!byText.has(JSON.stringify(s))) byText.set(JSON.stringify(s), name);
  const walk = (v: Json, root: boolean): Json => {
    if (v === null || typeof v !== 'object') return v;
    if (!root) {
      const name = byText.get(JSON.stringify(v));
      if (name) return { $ref: `#/components/schemas/${name}` };
    }
    if (Array.isArray(v)) return v.map((x) => walk(x, false));
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, false)]));
  };
  return Object.fromEntries(Object.entries(components).map(([n, s]) => [n, walk(s, true)]));
}

const ref = (name: string): Obj => ({ $ref: `#/components/schemas/${name}` });
const json = (schema: Obj, example?: Json): Obj => ({
  'application/json': example === undefined ? { schema } : { schema, example },
});

/** Error answers grouped by status: the codes a route can give, each status with its codes listed. */
function errorResponses(codes: ErrorCode[]): Obj {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const c of codes) byStatus.set(ERRORS[c].status, [...(byStatus.get(ERRORS[c].status) ?? []), c]);
  const out: Obj = {};
  for (const [status, cs] of [...byStatus].sort((a, b) => a[0] - b[0])) {
    const lines = cs.map((c) => `\`${c}\`: ${ERRORS[c].message}`);
    const first = cs[0]!;
    const res: Obj = {
      description: lines.join('\n\n'),
      content: json(
        {
          allOf: [
            ref('Error'),
            { type: 'object', properties: { error: { type: 'object', properties: { code: { type: 'string', enum: cs } } } } },
          ],
        },
        { error: { code: first, message: ERRORS[first].message } },
      ),
    };
    if (status === 503 || status === 429) res.headers = { 'Retry-After': { description: 'Seconds to wait before retrying', schema: { type: 'integer' } } };
    out[String(status)] = res;
  }
  return out;
}

const COLLECT_ERRORS: ErrorCode[] = [
  'COLLECTOR_ERR_INVALID_JSON', 'COLLECTOR_ERR_INVALID_UTF8', 'COLLECTOR_ERR_BATCH_SHAPE', 'COLLECTOR_ERR_EMPTY_BATCH', 'COLLECTOR_ERR_INEXACT_NUMBER',
  'COLLECTOR_ERR_CORRUPT_GZIP', 'COLLECTOR_ERR_CORRUPT_ZSTD', 'COLLECTOR_ERR_BODY_TOO_LARGE', 'COLLECTOR_ERR_DECODED_TOO_LARGE', 'COLLECTOR_ERR_TOO_MANY_EVENTS',
  'COLLECTOR_ERR_UNSUPPORTED_ENCODING', 'COLLECTOR_ERR_UNSUPPORTED_MEDIA_TYPE',
  'COLLECTOR_ERR_OVERLOADED', 'COLLECTOR_ERR_CLIENT_LIMIT', 'COLLECTOR_ERR_BODY_TIMEOUT', 'COLLECTOR_ERR_BUFFER_FULL',
  'COLLECTOR_ERR_SPILL_FAILED', 'COLLECTOR_ERR_DUPLICATE_IN_FLIGHT', 'COLLECTOR_ERR_DEADLINE', 'COLLECTOR_ERR_INTERNAL',
  'COLLECTOR_ERR_UNAUTHENTICATED', 'COLLECTOR_ERR_TENANT_QUOTA', 'COLLECTOR_ERR_SENT_AT', 'COLLECTOR_ERR_ORIGIN_FORBIDDEN',
];
const TEST_EVENTS_ERRORS: ErrorCode[] = [
  'COLLECTOR_ERR_BAD_QUERY', 'COLLECTOR_ERR_TEST_ENDPOINTS_DISABLED', 'COLLECTOR_ERR_BODY_TOO_LARGE',
  'COLLECTOR_ERR_UNAUTHENTICATED', 'COLLECTOR_ERR_TENANT_QUOTA',
  'COLLECTOR_ERR_OVERLOADED', 'COLLECTOR_ERR_BUFFER_FULL',
  'COLLECTOR_ERR_SPILL_FAILED', 'COLLECTOR_ERR_DEADLINE', 'COLLECTOR_ERR_INTERNAL',
];
/** Every route can answer these. */
const ROUTING_ERRORS: ErrorCode[] = ['COLLECTOR_ERR_NOT_FOUND', 'COLLECTOR_ERR_METHOD_NOT_ALLOWED'];

/**
 * AUTH_MODE=api_key: a key from API_KEYS_FILE as a bearer token or in x-api-key. The empty
 * requirement first says a key is optional as far as the document goes: with AUTH_MODE=none
 * (the default) none is needed.
 */
const SECURITY_SCHEMES: Obj = {
  bearerKey: {
    type: 'http',
    scheme: 'bearer',
    description: 'AUTH_MODE=api_key: `Authorization: Bearer evc_<id>_<secret>` (a key made by `npm run keys -- add`). Events of tenants the key may not write are dead-lettered `tenant_forbidden`.',
  },
  apiKeyHeader: { type: 'apiKey', in: 'header', name: 'x-api-key', description: 'The same key in the x-api-key header' },
};
const WRITE_SECURITY: Json[] = [{}, { bearerKey: [] }, { apiKeyHeader: [] }];

const EXAMPLE_EVENT: Obj = {
  event_id: '123e4567-e89b-12d3-a456-426614174000',
  learner_id: 'learner_001',
  tenant_id: 'tenant_alpha',
  event_type: 'interaction',
  timestamp: '2024-01-15T10:30:00Z',
  source_service: 'learning-app',
  event_data: { action: 'click', element: 'next_button' },
  metadata: {},
};

const batchAnswers = (): Obj => ({
  '200': {
    description: 'Every event is in Kafka',
    content: json(ref('CollectResponse'), {
      batch_id: '550e8400-e29b-41d4-a716-446655440000', accepted_count: 1, rejected_count: 0, processing_time_ms: 4.21,
      kafka_partition: 2, kafka_partitions: [2], dlq_events: [], warnings: [],
    }),
  },
  '207': {
    description: 'Some events are in Kafka, the rest were rejected and are in the dead-letter topic (listed in dlq_events)',
    content: json(ref('CollectResponse')),
  },
  '422': {
    description: '`COLLECTOR_ERR_ALL_REJECTED`: ' + ERRORS.COLLECTOR_ERR_ALL_REJECTED.message + ' (the body is a CollectResponse with `error`)',
    content: json(ref('CollectResponse')),
  },
});

export function buildOpenApi(): Obj {
  const components = refify({
    Event: plainSchema(EventSchema),
    BatchEnvelope: plainSchema(BatchEnvelopeSchema),
    BatchBody: plainSchema(BatchBodySchema),
    ...Object.fromEntries(Object.entries(ANSWER_SCHEMAS).map(([n, s]) => [n, plainSchema(s)])),
  });
  const get = (summary: string, description: string, responses: Obj, tag = 'operations'): Obj => ({
    get: { tags: [tag], summary, description, responses: { ...responses, ...errorResponses(['COLLECTOR_ERR_METHOD_NOT_ALLOWED']) } },
  });
  const page = (summary: string, type: string): Obj => get(summary, summary, { '200': { description: summary, content: { [type]: { schema: { type: 'string' } } } } }, 'pages');
  return {
    openapi: '3.1.0',
    info: {
      title: 'Event Collector',
      version: version(),
      description:
        'The HTTP edge for learner events: POST batches of 1–1000 events; valid ones are written to Kafka (key learner_id), ' +
        'invalid ones to the dead-letter topic, and the answer (2xx) comes only once Kafka has acknowledged every event. ' +
        'Every error answer is `{"error": {"code", "message", "detail"?}, "batch_id"?}` with a stable code. ' +
        'Generated from the TypeBox schemas and the error registry by src/ops/openapi.ts: do not edit by hand.',
    },
    // Relative: Swagger UI served by a collector (/docs) tries requests against that same collector.
    servers: [{ url: '/', description: 'The collector serving this document (http://localhost:8000 by default)' }],
    tags: [
      { name: 'collect', description: 'Sending events' },
      { name: 'operations', description: 'Health, metrics and probes' },
      { name: 'pages', description: 'Documents and pages for people' },
    ],
    paths: {
      '/api/v1/collect': {
        post: {
          tags: ['collect'],
          operationId: 'collectEvents',
          security: WRITE_SECURITY,
          summary: 'Collect a batch of events',
          description:
            'A bare JSON array of events, or a batch envelope `{batch_id?, sent_at?, events, metadata?}`. Optionally compressed ' +
            '(`Content-Encoding: gzip` or `zstd`; decompressed size capped at MAX_DECODED_BYTES). Unknown top-level event fields are kept, forwarded unchanged and named in `warnings`. ' +
            'Browsers: with CORS_ALLOWED_ORIGINS set, a request whose Origin is listed gets Access-Control-Allow-Origin (and may ' +
            'read Retry-After), one from another origin is refused with 403 before its body is read, and a `text/plain` body ' +
            '(what navigator.sendBeacon sends without a preflight) is taken as JSON under the same limits and validation.',
          parameters: [
            {
              name: 'Content-Encoding', in: 'header', required: false,
              schema: { type: 'string', enum: ['identity', 'gzip', 'zstd'] },
            },
          ],
          requestBody: {
            required: true,
            content: {
              ...json(ref('BatchBody'), [EXAMPLE_EVENT]),
              'text/plain': { schema: ref('BatchBody'), description: 'With CORS_ALLOWED_ORIGINS set only: the same JSON, as sendBeacon sends it' },
            },
          },
          responses: { ...batchAnswers(), ...errorResponses([...COLLECT_ERRORS, ...ROUTING_ERRORS]) },
        },
        options: {
          tags: ['collect'],
          operationId: 'collectPreflight',
          summary: 'CORS preflight (only with CORS_ALLOWED_ORIGINS set)',
          description:
            'Answered by the acceptor alone, nothing of the pipeline is touched. Without CORS_ALLOWED_ORIGINS there is no ' +
            'such route (405 COLLECTOR_ERR_METHOD_NOT_ALLOWED).',
          parameters: [
            { name: 'Origin', in: 'header', required: true, schema: { type: 'string' } },
            { name: 'Access-Control-Request-Method', in: 'header', required: true, schema: { type: 'string', enum: ['POST'] } },
          ],
          responses: {
            '204': {
              description: 'The origin is allowed',
              headers: Object.fromEntries(['Access-Control-Allow-Origin', 'Access-Control-Allow-Methods', 'Access-Control-Allow-Headers', 'Access-Control-Max-Age']
                .map((h) => [h, { schema: { type: 'string' } }])),
            },
            ...errorResponses(['COLLECTOR_ERR_ORIGIN_FORBIDDEN', 'COLLECTOR_ERR_METHOD_NOT_ALLOWED']),
          },
        },
      },
      '/api/v1/test/events': {
        post: {
          tags: ['collect'],
          operationId: 'syntheticEvents',
          security: WRITE_SECURITY,
          summary: 'Synthetic load through the real path',
          description: 'Generates `count` valid events and collects them exactly like POST /api/v1/collect. Off with TEST_ENDPOINTS_ENABLED=false, and by default when NODE_ENV=production.',
          parameters: [
            { name: 'count', in: 'query', required: false, schema: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
          ],
          responses: { ...batchAnswers(), ...errorResponses([...TEST_EVENTS_ERRORS, 'COLLECTOR_ERR_METHOD_NOT_ALLOWED']) },
        },
      },
      '/api/v1/health': get(
        'Health',
        'The answering process\'s health (the spec\'s fields), plus `processes`: every live collector process on the host.',
        {
          '200': { description: 'healthy or degraded', content: json(ref('Health')) },
          '503': { description: 'unhealthy', content: json(ref('Health')) },
          ...errorResponses(['COLLECTOR_ERR_INTERNAL']),
        },
      ),
      '/api/v1/metrics': get(
        'Metrics (JSON)',
        'The spec\'s metrics for the whole host, whichever process answers: counters summed, p99 from the merged HDR histograms; `per_process` breaks them down.',
        { '200': { description: 'Metrics', content: json(ref('Metrics')) }, ...errorResponses(['COLLECTOR_ERR_INTERNAL']) },
      ),
      '/metrics': get(
        'Metrics (Prometheus)',
        'Prometheus text exposition of every collector process on the host; each series carries its process\'s `instance` label. ' +
          'With METRICS_TOKEN set, only `Authorization: Bearer <METRICS_TOKEN>` may read it.',
        {
          '200': { description: 'Prometheus text format 0.0.4', content: { 'text/plain': { schema: { type: 'string' } } } },
          ...errorResponses(['COLLECTOR_ERR_METRICS_UNAUTHENTICATED', 'COLLECTOR_ERR_INTERNAL']),
        },
      ),
      '/api/v1/schemas': get(
        'Payload schemas',
        'The versioned JSON Schemas of event_data in force in the answering process: per event type its versions, default version and ' +
          'compatibility rule; the source; what the last load or reload refused. Events name a version with `schema_version`; see docs/schema-evolution.md.',
        { '200': { description: 'The schema set', content: json(ref('Schemas')) }, ...errorResponses(['COLLECTOR_ERR_INTERNAL']) },
      ),
      '/livez': get('Liveness probe', '200 while the event loop lag stayed under 1 s over the last 5 s.', {
        '200': { description: 'alive', content: json(ref('Probe')) },
        '503': { description: 'wedged', content: json(ref('Probe')) },
      }),
      '/readyz': get(
        'Readiness probe',
        '200 when the process can take batches: not stopping, and Kafka reachable (circuit closed) or spill log under 95 % full.',
        {
          '200': { description: 'ready', content: json(ref('Probe')) },
          '503': { description: 'not ready', content: json(ref('Probe')) },
        },
      ),
      '/openapi.yaml': page('This document', 'application/yaml'),
      '/docs': page('API documentation (Swagger UI, served locally)', 'text/html'),
      '/redoc': page('API documentation (ReDoc, served locally)', 'text/html'),
      '/dashboard': page('Live dashboard', 'text/html'),
    },
    components: { schemas: components, securitySchemes: SECURITY_SCHEMES },
  };
}

// ---------------------------------------------------------------------------------------
// A small YAML emitter (block style). Every string that could be read as anything else is
// double-quoted with JSON escapes, which YAML accepts as is; output is deterministic.

const PLAIN = /^[A-Za-z_/$][\w ./$(){}@,+'-]*$/;
const RESERVED = /^(true|false|null|yes|no|on|off|y|n|~)$/i;

function scalar(v: Json): string {
  if (v === null) return 'null';
  if (typeof v === 'boolean' || typeof v === 'number') return String(v);
  const s = v as string;
  if (s !== '' && PLAIN.test(s) && !RESERVED.test(s) && !s.endsWith(' ') && !s.includes(': ') && !s.includes(' #')) return s;
  return JSON.stringify(s);
}

function key(k: string): string {
  return /^[A-Za-z_/$][\w./${}-]*$/.test(k) && !RESERVED.test(k) ? k : JSON.stringify(k);
}

export function toYaml(v: Json, indent = ''): string {
  const isEmpty = (x: Json) => (Array.isArray(x) ? x.length === 0 : x !== null && typeof x === 'object' && Object.keys(x).length === 0);
  const inline = (x: Json) => (x === null || typeof x !== 'object' ? scalar(x) : Array.isArray(x) ? '[]' : '{}');
  if (Array.isArray(v)) {
    return v
      .map((x) => {
        if (x !== null && typeof x === 'object' && !isEmpty(x)) {
          const body = toYaml(x, indent + '  ');
          return `${indent}- ${body.slice(indent.length + 2)}`;
        }
        return `${indent}- ${inline(x)}\n`;
      })
      .join('');
  }
  if (v !== null && typeof v === 'object') {
    return Object.entries(v)
      .map(([k, x]) => {
        if (x !== null && typeof x === 'object' && !isEmpty(x)) {
          return Array.isArray(x) ? `${indent}${key(k)}:\n${toYaml(x, indent + '  ')}` : `${indent}${key(k)}:\n${toYaml(x, indent + '  ')}`;
        }
        return `${indent}${key(k)}: ${inline(x)}\n`;
      })
      .join('');
  }
  return `${indent}${scalar(v)}\n`;
}

let cached: string | undefined;
/** The document as YAML (what the committed file must hold). */
export function openApiYaml(): string {
  cached ??= '# Generated by src/ops/openapi.ts (node dist/src/ops/openapi.js --write). Do not edit.\n' + toYaml(buildOpenApi());
  return cached;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  if (process.argv.includes('--write')) {
    mkdirSync(dirname(openapiFile()), { recursive: true });
    writeFileSync(openapiFile(), openApiYaml());
    process.stdout.write(`wrote ${OPENAPI_PATH}\n`);
  } else {
    process.stdout.write(openApiYaml());
  }
}
