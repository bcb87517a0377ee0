/**
 * What crosses the main-thread → decode-worker boundary. Kept tiny: the body itself
 * stays in the shared slab and only its coordinates travel.
 */
import type { DecodeLimits } from '../codec/decode.js';
import type { SlabShape } from '../ring/slab.js';

export interface DecodeWorkerData {
  slab: SharedArrayBuffer;
  shape: SlabShape;
  limits: DecodeLimits;
  instance: string;
  /** the payload schema channel (src/schema/payload/channel.ts) */
  schemas: SharedArrayBuffer;
}

export interface DecodeTask {
  slot: number;
  token: number;
  length: number;
  gzip: boolean;
  /** Content-Encoding: zstd (decoded in a worker, never inline: its decoded size is not known before) */
  zstd?: boolean;
  receivedAt: number;
  /** the tenants the request's API key may write; absent: any */
  tenants?: readonly string[] | undefined;
  /** the id of the API key that sent the request (AUTH_MODE=api_key): named in its dead letters */
  keyId?: string | undefined;
}

/** Not a batch: asks the worker to exit so that Piscina replaces it with a fresh one (src/lifecycle/memory-settle.ts). */
export interface RecycleTask {
  recycle: true;
}
