/**
 * The protobuf contract (proto/collector/v1/collector.proto) loaded at run time with
 * @grpc/proto-loader: the same package definition serves the handlers and server reflection,
 * so grpcurl needs no local copy of the proto. google.rpc.Status/RetryInfo (proto/google/rpc)
 * are encoded with protobufjs for grpc-status-details-bin.
 */
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as protoLoader from '@grpc/proto-loader';
import type { ServiceDefinition } from '@grpc/grpc-js';
import protobuf from 'protobufjs';

/** proto/ at the package root, found from src/grpc or dist/src/grpc. */
function protoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 5; i++) {
    const candidate = join(dir, 'proto');
    if (existsSync(join(candidate, 'collector', 'v1', 'collector.proto'))) return candidate;
    dir = dirname(dir);
  }
  throw new Error('proto/collector/v1/collector.proto not found above ' + fileURLToPath(import.meta.url));
}

export const PROTO_DIR = protoRoot();
export const COLLECTOR_PROTO = join(PROTO_DIR, 'collector', 'v1', 'collector.proto');
export const SERVICE_NAME = 'collector.v1.EventCollector';
export const RPC_STATUS_PROTO = join(PROTO_DIR, 'google', 'rpc', 'status.proto');

/**
 * keepCase: field names as in the proto (snake_case, the JSON schema's names). enums as strings,
 * longs as numbers (Timestamp seconds fit), unset fields absent (defaults: false) so "not sent"
 * stays distinguishable from "empty" for messages; oneofs: the `kind` of Struct values.
 */
export const LOADER_OPTIONS: protoLoader.Options = {
  keepCase: true,
  longs: Number,
  enums: String,
  defaults: false,
  arrays: true,
  oneofs: true,
  includeDirs: [PROTO_DIR],
};

export const packageDefinition = protoLoader.loadSync(COLLECTOR_PROTO, LOADER_OPTIONS);

export function collectorServiceDefinition(): ServiceDefinition {
  return packageDefinition[SERVICE_NAME] as unknown as ServiceDefinition;
}

// google.rpc.Status for grpc-status-details-bin; protobufjs ships the google/protobuf well-known types.
const rpcRoot = new protobuf.Root().loadSync(RPC_STATUS_PROTO, { keepCase: true });
const StatusType = rpcRoot.lookupType('google.rpc.Status');
const RetryInfoType = rpcRoot.lookupType('google.rpc.RetryInfo');
const ErrorInfoType = rpcRoot.lookupType('google.rpc.ErrorInfo');

export const ERROR_DOMAIN = 'event-collector';

/** The encoded google.rpc.Status: an ErrorInfo naming the COLLECTOR_ERR_* code, and RetryInfo when retryAfterS is set. */
export function statusDetails(grpcCode: number, message: string, reason: string, retryAfterS?: number): Buffer {
  const details = [
    { type_url: 'type.googleapis.com/google.rpc.ErrorInfo', value: ErrorInfoType.encode(ErrorInfoType.fromObject({ reason, domain: ERROR_DOMAIN })).finish() },
  ];
  if (retryAfterS !== undefined) {
    const retry = RetryInfoType.fromObject({ retry_delay: { seconds: retryAfterS, nanos: 0 } });
    details.push({ type_url: 'type.googleapis.com/google.rpc.RetryInfo', value: RetryInfoType.encode(retry).finish() });
  }
  return Buffer.from(StatusType.encode(StatusType.fromObject({ code: grpcCode, message, details })).finish());
}

/** Decodes grpc-status-details-bin (tests, clients in this repo). */
export function decodeStatusDetails(bin: Buffer): { code: number; message: string; reason?: string; retryDelayS?: number } {
  const s = StatusType.toObject(StatusType.decode(bin), { longs: Number }) as {
    code?: number;
    message?: string;
    details?: { type_url: string; value: Uint8Array }[];
  };
  const out: { code: number; message: string; reason?: string; retryDelayS?: number } = { code: s.code ?? 0, message: s.message ?? '' };
  for (const d of s.details ?? []) {
    if (d.type_url.endsWith('google.rpc.RetryInfo')) {
      const r = RetryInfoType.toObject(RetryInfoType.decode(d.value), { longs: Number }) as { retry_delay?: { seconds?: number } };
      out.retryDelayS = r.retry_delay?.seconds ?? 0;
    } else if (d.type_url.endsWith('google.rpc.ErrorInfo')) {
      out.reason = (ErrorInfoType.toObject(ErrorInfoType.decode(d.value)) as { reason?: string }).reason ?? '';
    }
  }
  return out;
}
