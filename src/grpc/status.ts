/**
 * The collector's error codes as gRPC status codes (docs/grpc.md "gRPC status codes", beside the
 * HTTP table). The column itself is in the error registry (src/errors.ts). The durability
 * rule is the HTTP one: a non-OK status means nothing of the batch is acknowledged — the
 * client sends it again (dedup makes that safe).
 */
import { status as Code } from '@grpc/grpc-js';
import { ERRORS, type ErrorCode } from '../errors.js';

export function grpcCodeOf(code: ErrorCode): Code {
  return ERRORS[code].grpc as number as Code;
}

export const CODE_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(Code).filter(([, v]) => typeof v === 'number').map(([k, v]) => [v as number, k]),
);
