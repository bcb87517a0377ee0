/**
 * The request slab and the decode workers that read it: every request body is written into a slot of one
 * SharedArrayBuffer and a worker decodes it in place; slots bound the queue, Piscina's maxQueue is the backstop.
 */
import { Piscina } from 'piscina';
import type { Config } from '../config/schema.js';
import { decodeLimits } from '../codec/inline.js';
import { Slab } from '../ring/slab.js';
import type { PayloadSchemas } from '../schema/payload/service.js';
import type { DecodeWorkerData } from './task.js';

export function startDecodePool(config: Config, instance: string, schemas: PayloadSchemas): { slab: Slab; pool: Piscina } {
  const shape = { slots: config.RING_SLOTS, slotBytes: config.MAX_BODY_BYTES };
  const slab = new Slab(shape);
  const workerData: DecodeWorkerData = { slab: slab.sab, shape, instance, limits: decodeLimits(config), schemas: schemas.channel.sab };
  const pool = new Piscina({
    filename: new URL('../../workers/decode.js', import.meta.url).href,
    minThreads: config.WORKER_THREADS,
    maxThreads: config.WORKER_THREADS,
    idleTimeout: Number.MAX_SAFE_INTEGER,
    maxQueue: config.RING_SLOTS,
    workerData,
  });
  return { slab, pool };
}
