/**
 * Client retries by (tenant, event_id), across every process of the host: a claim in the shared
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

/**
 * What a claim is keyed by: the tenant and the event_id. An event_id is the client's, unique within its
 * tenant at best: keyed by the id alone, one tenant could suppress another's event by sending its id first.
 * The table hashes a key that is not a bare UUID into its 128 bits.
 */
export function dedupKeys(records: PackedRecords, tenantHeader: number): string[] {
  const keys = new Array<string>(records.count);
  for (let i = 0; i < records.count; i++) keys[i] = `${records.headers[i]![tenantHeader] ?? ''}\u0000${records.eventIds[i]!}`;
  return keys;
}

export function claimBatch(table: DedupTable | null, records: PackedRecords, tenantHeader = 0): Claimed {
  if (!table || records.count === 0) return { fresh: records, duplicates: [], inFlight: false, settle: () => {} };
  const ids = records.eventIds;
  const keys = dedupKeys(records, tenantHeader);
  const claims = table.claimBatch(keys);
  if (claims.includes(CLAIM_IN_FLIGHT)) {
    table.release(keys, claims);
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
    settle: (acknowledged) => (acknowledged ? table.commit(keys, claims) : table.release(keys, claims)),
  };
}
