/**
 * One batch, from slab slot to answer: the decode pool validates and packs it, the
 * deliverer puts accepted events in the main topic and rejected ones in the dead-letter
 * topic (or, when Kafka is away, in the spill log), and the answer says 2xx only when
 * every record is acknowledged by Kafka or fsynced to disk.
 */
import type { Piscina } from 'piscina';
import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import { errorBody, type ErrorCode, ERRORS } from '../errors.js';
import { DEAD_LETTER_HEADERS, type DecodeOutcome } from '../codec/decode.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import type { Slab } from '../ring/slab.js';
import type { DecodeTask } from './task.js';
import type { Deliverer } from './delivery.js';
import { batchAnswer, type CollectAnswer } from './answer.js';
import { claimBatch } from './dedup.js';
import type { DedupTable } from '../dedup/table.js';
import { decodeInline } from '../codec/inline.js';
import type { QuotaPolicy, QuotaWait } from '../quota/policy.js';
import type { SharedClaims } from '../shared-store/claims.js';
import { claimAcrossReplicas } from './shared-dedup.js';
import type { PackedRecords } from '../codec/packed.js';
import type { PayloadSchemas } from '../schema/payload/service.js';
import type { SchemaMetrics } from '../telemetry/schema-metrics.js';
import type { TopicRoutes } from './routes.js';
import type { Delivered, Part, Undeliverable } from './delivery.js';

export interface CollectorDeps {
  config: Readonly<Config>;
  slab: Slab;
  pool: Piscina;
  deliverer: Deliverer;
  dedup: DedupTable | null;
  telemetry: Telemetry;
  log: Logger;
  /** per-tenant quotas (host-wide token buckets); null when none are configured */
  quota?: QuotaPolicy<QuotaWait> | null;
  /** event-id claims in the shared store (REDIS_URL), behind the host table; null: per host only */
  sharedDedup?: SharedClaims | null;
  /** this process in dead letters (host/INSTANCE_ID), as the decode workers name it */
  instance: string;
  /** versioned payload schemas; the workers read the same set from its channel */
  schemas?: PayloadSchemas;
  schemaMetrics?: SchemaMetrics;
  /** TOPIC_ROUTES and DLQ_TOPIC_ROUTES: each tenant's topics */
  routes: { events: TopicRoutes; dlq: TopicRoutes };
}

const DEAD_LETTER_TENANT = DEAD_LETTER_HEADERS.indexOf('tenant_id');

export function errorAnswer(code: ErrorCode, detail?: string, batchId?: string, retryAfter?: number): CollectAnswer {
  const answer: CollectAnswer = { status: ERRORS[code].status, body: errorBody(code, detail, batchId) };
  if (retryAfter !== undefined) answer.retryAfter = retryAfter;
  return answer;
}

/** Events per tenant among `records` (tenant_id is header `header`), optionally only at `only` positions. */
function perTenant(records: PackedRecords, header: number, only?: readonly number[]): Map<string, number> {
  const out = new Map<string, number>();
  const add = (i: number) => {
    const t = records.headers[i]?.[header] ?? '';
    out.set(t, (out.get(t) ?? 0) + 1);
  };
  if (only) only.forEach(add);
  else for (let i = 0; i < records.count; i++) add(i);
  return out;
}

export class Collector {
  private inFlight = 0;
  private taken = 0;
  private drained: (() => void) | undefined;

  constructor(private readonly deps: CollectorDeps) {}

  /** Batches between body-complete and answer. */
  get pending(): number {
    return this.inFlight;
  }

  /** Batches taken since start: moves whenever the process works (memory settling watches it). */
  get batchesTaken(): number {
    return this.taken;
  }

  /** Resolves when no batch is in flight (shutdown). */
  idle(): Promise<void> {
    if (this.inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => (this.drained = resolve));
  }

  async collect(task: DecodeTask, startedAt: number): Promise<CollectAnswer> {
    this.inFlight++;
    this.taken++;
    try {
      return await this.process(task, startedAt);
    } finally {
      if (--this.inFlight === 0) this.drained?.();
    }
  }

  private async process(task: DecodeTask, startedAt: number): Promise<CollectAnswer> {
    const { pool, config, telemetry, slab, deliverer } = this.deps;
    let outcome: DecodeOutcome;
    try {
      // Small plain bodies are decoded here: the hop to a worker costs more than the decode (src/codec/inline.ts).
      outcome = decodeInline(task, slab, config, this.deps.instance, this.deps.schemas?.current) ?? ((await pool.run(task)) as DecodeOutcome);
    } catch (err) {
      this.deps.log.error({ err }, 'decode failed');
      return errorAnswer('COLLECTOR_ERR_INTERNAL', 'the batch could not be decoded');
    } finally {
      // A worker frees the slot itself; this frees it after an inline decode, and after a worker that died before it could.
      slab.release(task.slot, task.token);
    }
    if (!outcome.ok) return errorAnswer(outcome.code, outcome.detail, outcome.batchId);

    const batch = outcome.batch;
    const tenantAt = batch.headerNames.indexOf('tenant_id');
    // Quotas before anything is written: the batch fits whole or is refused whole, its dead letters charged too.
    // With a shared store the charge and the claims travel together (one round trip of latency, not two in a
    // row); the quota still decides first, and a refused batch gives its claims back at once.
    const [charge, claim] = await Promise.all([
      this.deps.quota?.charge(batch.accepted, 0, undefined, batch.dead, DEAD_LETTER_TENANT) ?? { ok: true as const },
      claimAcrossReplicas(claimBatch(this.deps.dedup, batch.accepted, tenantAt), this.deps.sharedDedup ?? null, tenantAt),
    ]);
    if (!charge.ok) {
      claim.settle(false);
      const throttled = perTenant(batch.accepted, 0);
      for (const [t, n] of perTenant(batch.dead, DEAD_LETTER_TENANT)) throttled.set(t, (throttled.get(t) ?? 0) + n);
      telemetry.tenantEvents(throttled, 'throttled');
      return errorAnswer('COLLECTOR_ERR_TENANT_QUOTA', charge.detail, batch.batchId, charge.retryAfterS);
    }
    this.deps.schemaMetrics?.judged(batch.schemaUse);
    if (claim.inFlight) {
      return errorAnswer('COLLECTOR_ERR_DUPLICATE_IN_FLIGHT', 'a copy of an event is being written by another request', batch.batchId, 1);
    }
    let result: Delivered | Undeliverable | undefined;
    try {
      const { events, dlq } = this.deps.routes;
      const parts: Part[] = [];
      // A batch with sent_at carries its own header names (derived_timestamp): tenant_id is found by name.
      for (const g of events.split(claim.fresh, tenantAt)) parts.push({ topic: g.topic, headerNames: batch.headerNames, records: g.records, timestamp: task.receivedAt, main: true });
      for (const g of dlq.split(batch.dead, DEAD_LETTER_TENANT)) parts.push({ topic: g.topic, headerNames: DEAD_LETTER_HEADERS, records: g.records, timestamp: task.receivedAt, main: false });
      result = await deliverer.deliver(parts, batch.batchId);
    } finally {
      claim.settle(result?.ok === true);
    }
    if (claim.duplicates.length) telemetry.duplicatesSkipped(claim.duplicates.length);
    if (!result.ok) return errorAnswer(result.code, result.detail, batch.batchId, result.retryAfter);

    // Nothing to merge or order in the common answer: no copy.
    const rejected = result.poisoned.length === 0 && batch.rejected.length <= 1 ? batch.rejected : [...batch.rejected, ...result.poisoned].sort((a, b) => a.index - b.index);
    const accepted = batch.accepted.count - result.poisoned.length;
    telemetry.batchSettled(accepted, rejected.length);
    this.countTenants(batch.accepted, batch.dead, result.poisoned);
    const warnings = result.spilled > 0 || claim.duplicates.length > 0 ? [...batch.warnings] : batch.warnings;
    if (result.spilled > 0) {
      warnings.push(`${result.spilled} record(s) buffered on disk: Kafka is unavailable; they will be delivered in order when it returns`);
    }
    if (claim.duplicates.length > 0) {
      warnings.push(`${claim.duplicates.length} event(s) already acknowledged within the dedup window: acknowledged again, not written twice`);
    }
    const answer = batchAnswer(batch.batchId, accepted, rejected, result.partitions, warnings, performance.now() - startedAt);
    if ('accepted_count' in answer.body) {
      answer.body.buffered = result.spilled > 0;
      answer.body.duplicate_count = claim.duplicates.length;
      answer.body.duplicates = claim.duplicates;
    }
    return answer;
  }

  private countTenants(accepted: PackedRecords, dead: PackedRecords, poisoned: readonly { index: number }[]): void {
    const { telemetry } = this.deps;
    const ok = perTenant(accepted, 0);
    if (poisoned.length > 0) {
      const at = new Map(accepted.indexes.map((index, i) => [index, i]));
      const bad = perTenant(accepted, 0, poisoned.map((p) => at.get(p.index)!).filter((i) => i !== undefined));
      for (const [t, n] of bad) ok.set(t, (ok.get(t) ?? 0) - n);
      telemetry.tenantEvents(bad, 'rejected');
    }
    telemetry.tenantEvents(ok, 'accepted');
    // Dead-letter records carry tenant_id as their third header (DEAD_LETTER_HEADERS).
    if (dead.count > 0) telemetry.tenantEvents(perTenant(dead, DEAD_LETTER_HEADERS.indexOf('tenant_id')), 'rejected');
  }
}
