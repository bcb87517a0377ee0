/**
 * Piscina entry: decode + validate one batch that sits in the shared slab, free its
 * slot as soon as the bytes are no longer needed, and move (not clone) the packed
 * records back to the main thread.
 */
import { move, transferableSymbol, valueSymbol, workerData } from 'piscina';
import { decodeBatch, type DecodeOutcome } from '../src/codec/decode.js';
import { Slab } from '../src/ring/slab.js';
import type { DecodeTask, DecodeWorkerData, RecycleTask } from '../src/pipeline/task.js';
import { PayloadValidators } from '../src/codec/payload.js';
import { SchemaChannel } from '../src/schema/payload/channel.js';
import { EMPTY_SNAPSHOT } from '../src/schema/payload/types.js';

const data = workerData as DecodeWorkerData;
const slab = new Slab(data.shape, data.slab);
const schemas = new SchemaChannel(data.schemas);
let schemaSequence = -1;
let payload = new PayloadValidators(EMPTY_SNAPSHOT);

/** The set the main thread published last: one atomic load per batch, a rebuild only after a reload. */
function currentPayload(): PayloadValidators {
  const seq = schemas.sequence;
  if (seq === schemaSequence) return payload;
  const got = schemas.read();
  if (got === null) return payload;
  // The main thread compiled the same schemas before publishing them, so this does not throw in practice;
  // if it did, the task fails (500, nothing acknowledged) rather than judging by the wrong set.
  payload = new PayloadValidators(got.snapshot);
  schemaSequence = got.sequence;
  return payload;
}

export default function decode(task: DecodeTask | RecycleTask): unknown {
  if ('recycle' in task) {
    // Exit inside the task, not after answering it: Piscina then fails only this task (its caller expects
    // that) and starts a fresh worker, and no batch can be handed to a worker that is about to go away.
    // The whole heap this isolate grew for large batches goes with it; a full GC kept most of it.
    process.exit(0);
  }
  let outcome: DecodeOutcome;
  try {
    outcome = decodeBatch({
      body: slab.view(task.slot, task.length),
      gzip: task.gzip,
      ...(task.zstd === true ? { zstd: true } : {}),
      receivedAt: task.receivedAt,
      instance: data.instance,
      limits: data.limits,
      tenants: task.tenants,
      keyId: task.keyId,
      payload: currentPayload(),
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
