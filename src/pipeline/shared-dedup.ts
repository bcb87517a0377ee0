/**
 * Dedup across replicas: after the host table (src/pipeline/dedup.ts) has filtered a batch — the
 * first filter, in shared memory, no network — the events it found new are claimed in the shared
 * store (src/shared-store/claims.ts) by (tenant, event_id), in one call. So a client retry that a
 * load balancer sends to another replica is answered duplicate there, as on the same host.
 *
 * When the store is degraded the host table's answer stands (per-host dedup only).
 */
import type { PackedRecords } from '../codec/packed.js';
import { pickRecords } from '../spill/batch-codec.js';
import { CLAIM_DUPLICATE, CLAIM_IN_FLIGHT } from '../dedup/table.js';
import type { ClaimKey, SharedClaims } from '../shared-store/claims.js';
import type { Claimed } from './dedup.js';

/** `local` narrowed by the shared store's claims; tenant_id is header `tenantHeader` of the records. */
export async function claimAcrossReplicas(local: Claimed, shared: SharedClaims | null, tenantHeader = 0): Promise<Claimed> {
  const records = local.fresh;
  if (!shared || local.inFlight || records.count === 0) return local;
  const keys: ClaimKey[] = new Array(records.count);
  for (let i = 0; i < records.count; i++) keys[i] = { tenant: records.headers[i]![tenantHeader] ?? '', eventId: records.eventIds[i]! };
  const claim = await shared.claim(keys);
  if (!claim) return local;
  const { result } = claim;
  if (result.includes(CLAIM_IN_FLIGHT)) {
    claim.release();
    local.settle(false);
    return { fresh: records, duplicates: [], inFlight: true, settle: () => {} };
  }
  if (!result.includes(CLAIM_DUPLICATE)) return { ...local, settle: settleBoth(local, claim) };
  const duplicates = [...local.duplicates];
  const keep: number[] = [];
  for (let i = 0; i < result.length; i++) {
    if (result[i] === CLAIM_DUPLICATE) duplicates.push({ index: records.indexes[i]!, event_id: records.eventIds[i]! });
    else keep.push(i);
  }
  duplicates.sort((a, b) => a.index - b.index);
  const fresh: PackedRecords = pickRecords(records, keep);
  return { fresh, duplicates, inFlight: false, settle: settleBoth(local, claim) };
}

function settleBoth(local: Claimed, claim: { commit(): void; release(): void }): (acknowledged: boolean) => void {
  return (acknowledged) => {
    local.settle(acknowledged);
    if (acknowledged) claim.commit();
    else claim.release();
  };
}
