/**
 * The one table from the collector's error codes to gRPC status codes (docs/grpc.md "gRPC status
 * codes", beside the HTTP table). The durability rule is the HTTP one: a non-OK status means
 * nothing of the batch is acknowledged — the client sends it again (dedup makes that safe).
 */
import { status as Code } from '@grpc/grpc-js';
import { ERRORS, type ErrorCode } from '../errors.js';

const BY_CODE: Partial<Record<ErrorCode, Code>> = {
  // per client: the 429 of HTTP
  COLLECTOR_ERR_CLIENT_LIMIT: Code.RESOURCE_EXHAUSTED,
  // the tenant's quota: the 429 of HTTP, with the retry delay in RetryInfo
  COLLECTOR_ERR_TENANT_QUOTA: Code.RESOURCE_EXHAUSTED,
  // no key, a wrong one or a revoked one (AUTH_MODE=api_key): the 401 of HTTP
  COLLECTOR_ERR_UNAUTHENTICATED: Code.UNAUTHENTICATED,
  // the batch (or its JSON) is over a size limit: a retry of the same batch cannot succeed
  COLLECTOR_ERR_BODY_TOO_LARGE: Code.RESOURCE_EXHAUSTED,
  COLLECTOR_ERR_DECODED_TOO_LARGE: Code.RESOURCE_EXHAUSTED,
  // the batch's 1000 events is a request problem, not a resource one
  COLLECTOR_ERR_TOO_MANY_EVENTS: Code.INVALID_ARGUMENT,
  COLLECTOR_ERR_DEADLINE: Code.DEADLINE_EXCEEDED,
  COLLECTOR_ERR_INTERNAL: Code.INTERNAL,
};

/** By HTTP status for the rest: 4xx → INVALID_ARGUMENT, 503 → UNAVAILABLE. */
export function grpcCodeOf(code: ErrorCode): Code {
  const direct = BY_CODE[code];
  if (direct !== undefined) return direct;
  const http = ERRORS[code].status;
  if (http === 503) return Code.UNAVAILABLE;
  if (http >= 400 && http < 500) return Code.INVALID_ARGUMENT;
  return Code.INTERNAL;
}

export const CODE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(Code).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v as number, k]),
);
