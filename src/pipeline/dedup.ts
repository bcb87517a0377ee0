/**
 * Client retries by event_id, across every process of the host: a claim in the shared
 * native table (src/dedup/table.ts) before producing, a commit once the batch is
 * acknowledged (Kafka or disk), a release when it is not — so a retry of a failed batch
 * is new again. Claims are leases: a retry that arrives while the first copy is still
 * being written cannot be answered "duplicate" (the first might still fail), so it is
 * told to retry shortly instead.
 *
 * Kafka's idempotent producer does not solve this: it dedupes the producer's own
 * retries within one producer session, not a client resending a batch (new request,
 * maybe another process, maybe after a restart).
 */
import type { PackedRecords } from '../codec/packed.js';
import { pickRecords } from '../spill/batch-codec.js';
import { CLAIM_DUPLICATE, CLAIM_IN_FLIGHT, type DedupTable } from '../dedup/table.js';

export interface Claimed {
  /** the records to write: the batch minus duplicates */
  fresh: PackedRecords;
  duplicates: { index: number; event_id: string }[];
  inFlight: boolean;
  settle(acknowledged: boolean): void;
}

export function claimBatch(table: DedupTable | null, records: PackedRecords): Claimed {
  if (!table || records.count === 0) return { fresh: records, duplicates: [], inFlight: false, settle: () => {} };
  const ids = records.eventIds;
  const claims = table.claimBatch(ids);
  if (claims.includes(CLAIM_IN_FLIGHT)) {
    table.release(ids, claims);
    return { fresh: records, duplicates: [], inFlight: true, settle: () => {} };
  }
  const duplicates: { index: number; event_id: string }[] = [];
  const keep: number[] = [];
  for (let i = 0; i < claims.length; i++) {
    if (claims[i] === CLAIM_DUPLICATE) duplicates.push({ index: records.indexes[i]!, event_id: ids[i]! });
    else keep.push(i);
  }
  return {
    fresh: duplicates.length === 0 ? records : pickRecords(records, keep),
    duplicates,
    inFlight: false,
    settle: (acknowledged) => (acknowledged ? table.commit(ids, claims) : table.release(ids, claims)),
  };
}
