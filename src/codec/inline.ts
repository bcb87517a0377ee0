/**
 * Decoding a small plain body on the main thread instead of in a decode worker. For a
 * 100-event batch the hop (postMessage there and back, the worker's wake-up, piscina's
 * bookkeeping, a second heap to collect) cost more CPU than decoding it: measured with
 * bench/profile.ts, one collector at full load, 41.6–44.8 → 24.8–27.5 ms per 1k events.
 * Bodies over INLINE_DECODE_MAX_BYTES (≈ 150 spec events at 64 KiB, ~1 ms of JSON.parse
 * and validation) — for gzip, decompressed, as its trailer announces — still go to the
 * workers, so no request holds the event loop long.
 */
import type { Config } from '../config/schema.js';
import type { Slab } from '../ring/slab.js';
import type { DecodeTask } from '../pipeline/task.js';
import { decodeBatch, type DecodeLimits, type DecodeOutcome } from './decode.js';
import type { PayloadValidators } from './payload.js';

export function decodeLimits(config: Readonly<Config>): DecodeLimits {
  return { maxDecodedBytes: config.MAX_DECODED_BYTES, maxEvents: config.MAX_EVENTS_PER_BATCH, maxEventBytes: config.MAX_EVENT_BYTES, maxDeadLetterBytes: config.DLQ_MAX_RECORD_BYTES, nativeEnvelope: config.CODEC_NATIVE_ENVELOPE };
}

let limitsOf: { config: Readonly<Config>; limits: DecodeLimits } | undefined;

/**
 * The outcome when the body is small enough to decode here, else null (the caller runs the
 * worker). `instance` names this process in dead letters, as the workers' does.
 */
export function decodeInline(task: DecodeTask, slab: Slab, config: Readonly<Config>, instance: string, payload?: PayloadValidators): DecodeOutcome | null {
  const max = config.INLINE_DECODE_MAX_BYTES;
  const body = slab.view(task.slot, task.length);
  if (limitsOf?.config !== config) limitsOf = { config, limits: decodeLimits(config) };
  if (task.zstd === true) return null;
  if (!task.gzip) {
    if (task.length > max) return null;
    // The slot is read in place; decodeBatch copies what it keeps before it returns.
    return decodeBatch({ body, gzip: false, receivedAt: task.receivedAt, instance, limits: limitsOf.limits, tenants: task.tenants, keyId: task.keyId, payload });
  }
  // gzip's trailer says the decompressed size (mod 2^32): a hint only, so gunzip here stops at our cap.
  if (task.length >= 18 && body.readUInt32LE(task.length - 4) > max) return null;
  const capped = max < limitsOf.limits.maxDecodedBytes;
  const limits = capped ? { ...limitsOf.limits, maxDecodedBytes: max } : limitsOf.limits;
  const o = decodeBatch({ body, gzip: true, receivedAt: task.receivedAt, instance, limits, tenants: task.tenants, keyId: task.keyId, payload });
  // Larger than its trailer said: the worker decides under the real cap.
  return !o.ok && o.code === 'COLLECTOR_ERR_DECODED_TOO_LARGE' && capped ? null : o;
}
