/**
 * The one error registry. Every error a client can see has a stable code, an HTTP
 * status, a gRPC status and a message; the JSON error body carries the code so clients can branch
 * on it without parsing prose. test/errors.test.ts, test/config/readme.test.ts and
 * test/integration/ops/openapi.test.ts keep this table, the README and the OpenAPI document in
 * sync — add a code here and they tell you where else it must appear.
 */
/**
 * The gRPC status codes the registry uses. They are fixed by the gRPC protocol; they are
 * spelled out here rather than imported from @grpc/grpc-js so that the HTTP path and the
 * decode workers, which import this registry, do not load the gRPC library.
 */
export const Grpc = {
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  RESOURCE_EXHAUSTED: 8,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;
export type GrpcCode = (typeof Grpc)[keyof typeof Grpc];

export interface ErrorSpec {
  readonly status: number;
  /**
   * A request problem is INVALID_ARGUMENT; a batch over a size limit or a client or tenant
   * over its limit is RESOURCE_EXHAUSTED; a 503 is UNAVAILABLE (retry later can succeed).
   */
  readonly grpc: GrpcCode;
  readonly message: string;
}

export const ERRORS = {
  COLLECTOR_ERR_INVALID_JSON: { status: 400, grpc: Grpc.INVALID_ARGUMENT, message: 'The body is not valid JSON' },
  COLLECTOR_ERR_INVALID_UTF8: { status: 400, grpc: Grpc.INVALID_ARGUMENT, message: 'The body is not valid UTF-8' },
  COLLECTOR_ERR_BATCH_SHAPE: {
    status: 400, grpc: Grpc.INVALID_ARGUMENT,
    message: 'The body must be a JSON array of events or an object {batch_id?, events, metadata?}',
  },
  COLLECTOR_ERR_SENT_AT: {
    status: 400, grpc: Grpc.INVALID_ARGUMENT,
    message: 'The batch field sent_at must be an RFC 3339 date-time string (the client clock when the batch left)',
  },
  COLLECTOR_ERR_EMPTY_BATCH: { status: 400, grpc: Grpc.INVALID_ARGUMENT, message: 'A batch must hold at least 1 event' },
  COLLECTOR_ERR_INEXACT_NUMBER: {
    status: 400, grpc: Grpc.INVALID_ARGUMENT,
    message: 'A number in the body cannot be carried exactly (out of double range or more digits than a double holds): send it as a string',
  },
  COLLECTOR_ERR_CORRUPT_GZIP: { status: 400, grpc: Grpc.INVALID_ARGUMENT, message: 'The gzip body is corrupt or truncated' },
  COLLECTOR_ERR_CORRUPT_ZSTD: { status: 400, grpc: Grpc.INVALID_ARGUMENT, message: 'The zstd body is corrupt or truncated' },
  COLLECTOR_ERR_BODY_TOO_LARGE: { status: 413, grpc: Grpc.RESOURCE_EXHAUSTED, message: 'The request body is larger than the limit' },
  COLLECTOR_ERR_DECODED_TOO_LARGE: {
    status: 413, grpc: Grpc.RESOURCE_EXHAUSTED,
    message: 'The decompressed body is larger than the limit',
  },
  COLLECTOR_ERR_TOO_MANY_EVENTS: { status: 413, grpc: Grpc.INVALID_ARGUMENT, message: 'A batch may hold at most 1000 events' },
  COLLECTOR_ERR_UNSUPPORTED_ENCODING: {
    status: 415, grpc: Grpc.INVALID_ARGUMENT,
    message: 'Unsupported Content-Encoding: send identity, gzip or zstd',
  },
  COLLECTOR_ERR_UNSUPPORTED_MEDIA_TYPE: {
    status: 415, grpc: Grpc.INVALID_ARGUMENT,
    message: 'Unsupported Content-Type: send application/json',
  },
  COLLECTOR_ERR_ALL_REJECTED: {
    status: 422, grpc: Grpc.INVALID_ARGUMENT,
    message: 'Every event in the batch failed validation; they were sent to the dead-letter topic',
  },
  COLLECTOR_ERR_ORIGIN_FORBIDDEN: {
    status: 403, grpc: Grpc.INVALID_ARGUMENT,
    message: 'The Origin of this browser request is not in CORS_ALLOWED_ORIGINS; nothing was written',
  },
  COLLECTOR_ERR_NOT_FOUND: { status: 404, grpc: Grpc.INVALID_ARGUMENT, message: 'No such route' },
  COLLECTOR_ERR_METHOD_NOT_ALLOWED: { status: 405, grpc: Grpc.INVALID_ARGUMENT, message: 'Method not allowed on this route' },
  COLLECTOR_ERR_TEST_ENDPOINTS_DISABLED: {
    status: 404, grpc: Grpc.INVALID_ARGUMENT,
    message: 'Test endpoints are disabled (TEST_ENDPOINTS_ENABLED=false, the default when NODE_ENV=production)',
  },
  COLLECTOR_ERR_BAD_QUERY: { status: 400, grpc: Grpc.INVALID_ARGUMENT, message: 'A query parameter is invalid' },
  COLLECTOR_ERR_OVERLOADED: {
    status: 503, grpc: Grpc.UNAVAILABLE,
    message: 'The collector is at capacity; retry after the Retry-After delay',
  },
  COLLECTOR_ERR_CLIENT_LIMIT: {
    status: 429, grpc: Grpc.RESOURCE_EXHAUSTED,
    message: 'This client is over its request limit; retry after the Retry-After delay',
  },
  COLLECTOR_ERR_BODY_TIMEOUT: {
    status: 408, grpc: Grpc.INVALID_ARGUMENT,
    message: 'The request body did not arrive in time; the connection is closed',
  },
  COLLECTOR_ERR_BUFFER_FULL: {
    status: 503, grpc: Grpc.UNAVAILABLE,
    message: 'Kafka is unavailable and the disk buffer is full; retry after the Retry-After delay',
  },
  COLLECTOR_ERR_SPILL_FAILED: {
    status: 503, grpc: Grpc.UNAVAILABLE,
    message: 'Kafka is unavailable and the batch could not be written to the disk buffer; retry it',
  },
  COLLECTOR_ERR_DUPLICATE_IN_FLIGHT: {
    status: 503, grpc: Grpc.UNAVAILABLE,
    message: 'An event of this batch is being written by another request right now; retry after Retry-After',
  },
  COLLECTOR_ERR_DEADLINE: {
    status: 503, grpc: Grpc.DEADLINE_EXCEEDED,
    message: 'The batch could not be acknowledged before the request deadline; retry it',
  },
  COLLECTOR_ERR_UNAUTHENTICATED: {
    status: 401, grpc: Grpc.UNAUTHENTICATED,
    message: 'A valid API key is required (Authorization: Bearer <key> or x-api-key); nothing was written',
  },
  COLLECTOR_ERR_METRICS_UNAUTHENTICATED: {
    status: 401, grpc: Grpc.UNAUTHENTICATED,
    message: 'GET /metrics needs the metrics token: Authorization: Bearer <METRICS_TOKEN>',
  },
  COLLECTOR_ERR_TENANT_QUOTA: {
    status: 429, grpc: Grpc.RESOURCE_EXHAUSTED,
    message: "A tenant of this batch is over its quota; nothing was written; retry after the Retry-After delay",
  },
  COLLECTOR_ERR_INTERNAL: { status: 500, grpc: Grpc.INTERNAL, message: 'Internal error' },
} as const satisfies Record<string, ErrorSpec>;

export type ErrorCode = keyof typeof ERRORS;

/** Why admission refused a request, as the client is told it. */
export type RefusalReason = 'overloaded' | 'producer_queue' | 'client_in_flight' | 'client_rate';

export const REFUSALS: Record<RefusalReason, { code: ErrorCode; detail: string }> = {
  overloaded: { code: 'COLLECTOR_ERR_OVERLOADED', detail: 'batches in flight are at the adaptive limit' },
  producer_queue: { code: 'COLLECTOR_ERR_OVERLOADED', detail: "the Kafka producer's queue is nearly full" },
  client_in_flight: { code: 'COLLECTOR_ERR_CLIENT_LIMIT', detail: 'this client has CLIENT_MAX_IN_FLIGHT requests in flight' },
  client_rate: { code: 'COLLECTOR_ERR_CLIENT_LIMIT', detail: 'this client is over CLIENT_RATE_LIMIT requests per second' },
};

/** Why an API key was refused. */
export type AuthRefusalReason = 'missing' | 'unknown' | 'revoked';

/** What a refused key is told, over HTTP and gRPC alike: never the presented key, nor whether a key id exists. */
export const AUTH_DETAIL: Record<AuthRefusalReason, string> = {
  missing: 'no API key: send Authorization: Bearer <key> or x-api-key: <key>',
  unknown: 'the API key is not valid',
  revoked: 'the API key was revoked',
};

/**
 * Errors that never reach a client as such: the process refuses to start, or a component
 * tells its owner what went wrong. Same prefix as the public codes so logs read alike, but
 * kept out of ERRORS because they are not API. The spill log's codes are its own table
 * (src/spill/errors.ts, SpillErrorCode): they cross the spill worker's message protocol.
 */
export const INTERNAL_ERRORS = {
  COLLECTOR_ERR_CONFIG: 'The configuration is invalid',
  COLLECTOR_ERR_KEYS_FILE: 'The API keys file is invalid',
  COLLECTOR_ERR_QUOTA_FILE: 'The tenant quotas are invalid',
  COLLECTOR_ERR_DEDUP_UNAVAILABLE: 'The dedup table cannot be used',
} as const;

export type InternalErrorCode = keyof typeof INTERNAL_ERRORS;

/** The base of the internal errors: a stable code to branch on; the message says what exactly was wrong. */
export class InternalError extends Error {
  constructor(
    readonly code: InternalErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/** The JSON body of every error answer. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string; detail?: string };
  batch_id?: string;
}

export function errorBody(code: ErrorCode, detail?: string, batchId?: string): ErrorBody {
  const body: ErrorBody = { error: { code, message: ERRORS[code].message } };
  if (detail !== undefined) body.error.detail = detail;
  if (batchId !== undefined) body.batch_id = batchId;
  return body;
}
