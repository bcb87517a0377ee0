/**
 * Piscina entry: decode + validate one batch that sits in the shared slab, free its
 * slot as soon as the bytes are no longer needed, and move (not clone) the packed
 * records back to the main thread.
 */
import { move, transferableSymbol, valueSymbol, workerData } from 'piscina';
import { decodeBatch, type DecodeOutcome } from '../src/codec/decode.js';
import { Slab } from '../src/ring/slab.js';
import type { DecodeTask, DecodeWorkerData } from '../src/pipeline/task.js';

const data = workerData as DecodeWorkerData;
const slab = new Slab(data.shape, data.slab);

export default function decode(task: DecodeTask): unknown {
  let outcome: DecodeOutcome;
  try {
    outcome = decodeBatch({
      body: slab.view(task.slot, task.length),
      gzip: task.gzip,
      receivedAt: task.receivedAt,
      instance: data.instance,
      limits: data.limits,
      tenants: task.tenants,
    });
  } finally {
    // Everything decodeBatch returns was copied out of the slot (JSON.parse, gunzip, and the packed values).
    slab.release(task.slot, task.token);
  }
  if (!outcome.ok) return outcome;
  const { accepted, dead } = outcome.batch;
  return move({
    get [transferableSymbol]() {
      return [accepted.bytes, accepted.offsets.buffer, dead.bytes, dead.offsets.buffer];
    },
    get [valueSymbol]() {
      return outcome;
    },
  } as never);
}
