/**
 * One gRPC batch through the HTTP pipeline: the caller's key, the message decoded, admission
 * (the same per-process budget and per-client limits as HTTP), a slab slot holding the batch's
 * JSON (src/grpc/batch-json.ts), Collector.collect, and the answer as a CollectResponse or a
 * whole-batch error. The message arrives as the bytes grpc-js received (server.ts registers no
 * decoder) and is decoded here only once the key is good: a client without one cannot make the
 * process decode up to 4 × MAX_BODY_BYTES per call. As over HTTP the admission ticket is settled
 * when the pipeline is done with the batch, not when the answer leaves: a deadline answer or a
 * cancelled call does not make the work disappear.
 */
import type { Config } from '../config/schema.js';
import { ERRORS, type ErrorCode } from '../errors.js';
import type { Collector } from '../pipeline/collector.js';
import type { CollectAnswer, CollectBody } from '../pipeline/answer.js';
import type { Slab } from '../ring/slab.js';
import { isRefusal, type Admission, type Ticket } from '../acceptor/admission.js';
import { REFUSALS } from '../errors.js';
import type { Telemetry } from '../telemetry/telemetry.js';
import { batchJson, type BatchJson, type CollectRequest } from './batch-json.js';
import { collectorServiceDefinition } from './contract.js';
import { grpcCodeOf } from './status.js';
import { DeadlineQueue, runExpiry } from '../pipeline/deadlines.js';

export interface IngestDeps {
  config: Readonly<Config>;
  slab: Slab;
  collector: Collector;
  admission: Admission;
  telemetry: Telemetry;
  producerBacklogged: () => boolean;
}

/** The proto CollectResponse as a plain object (proto-loader serialises it). */
export interface CollectResponse {
  batch_id: string;
  outcome: 'OUTCOME_ACCEPTED' | 'OUTCOME_PARTIAL' | 'OUTCOME_ALL_REJECTED' | 'OUTCOME_REFUSED';
  accepted_count?: number;
  rejected_count?: number;
  processing_time_ms?: number;
  kafka_partitions?: number[];
  dlq_events?: { index: number; event_id: string; reason: string; errors: { code: string; path: string; message: string }[] }[];
  warnings?: string[];
  buffered?: boolean;
  duplicate_count?: number;
  duplicates?: { index: number; event_id: string }[];
  error?: BatchError;
}

export interface BatchError {
  grpc_code: number;
  code: ErrorCode;
  message: string;
  retry_delay?: { seconds: number; nanos: number };
  http_status: number;
}

/** Who sent a call (AUTH_MODE=api_key): the tenants its key may write (undefined: any), or why it may not write. */
export type CallAccess = () => { ok: true; tenants: readonly string[] | undefined; keyId?: string } | { ok: false; detail: string };
const OPEN: CallAccess = () => ({ ok: true, tenants: undefined });

export type IngestResult = { ok: true; response: CollectResponse } | { ok: false; error: BatchError; batchId: string };

export function batchError(code: ErrorCode, detail?: string, retryAfterS?: number): BatchError {
  const e: BatchError = {
    grpc_code: grpcCodeOf(code),
    code,
    message: detail ? `${ERRORS[code].message}: ${detail}` : ERRORS[code].message,
    http_status: ERRORS[code].status,
  };
  if (retryAfterS !== undefined) e.retry_delay = { seconds: retryAfterS, nanos: 0 };
  return e;
}

// Collect and CollectStream take the same CollectRequest.
const decodeRequest = collectorServiceDefinition().Collect!.requestDeserialize as (message: Buffer) => CollectRequest;

const OUTCOMES: Record<number, CollectResponse['outcome']> = { 200: 'OUTCOME_ACCEPTED', 207: 'OUTCOME_PARTIAL', 422: 'OUTCOME_ALL_REJECTED' };

/** The HTTP answer → the gRPC one: the same fields (kafka_partition is kafka_partitions' single value, so not repeated). */
export function toResult(a: CollectAnswer, batchId: string | undefined): IngestResult {
  const outcome = OUTCOMES[a.status];
  if (outcome && 'accepted_count' in a.body) {
    const b: CollectBody = a.body;
    return {
      ok: true,
      response: {
        batch_id: b.batch_id,
        outcome,
        accepted_count: b.accepted_count,
        rejected_count: b.rejected_count,
        processing_time_ms: b.processing_time_ms,
        kafka_partitions: b.kafka_partitions,
        dlq_events: b.dlq_events.map((d) => ({ index: d.index, event_id: d.event_id ?? '', reason: d.reason, errors: d.errors })),
        warnings: b.warnings,
        buffered: b.buffered === true,
        duplicate_count: b.duplicate_count ?? 0,
        duplicates: b.duplicates ?? [],
      },
    };
  }
  const body = a.body as { error: { code: ErrorCode; detail?: string }; batch_id?: string };
  return { ok: false, error: batchError(body.error.code, body.error.detail, a.retryAfter), batchId: body.batch_id ?? batchId ?? '' };
}

export class BatchIngest {
  /** One timer for every batch's answer deadline, as over HTTP (src/pipeline/deadlines.ts), not one per batch. */
  private readonly deadlines: DeadlineQueue<() => void>;

  constructor(private readonly deps: IngestDeps) {
    this.deadlines = new DeadlineQueue<() => void>(deps.config.REQUEST_TIMEOUT_MS, runExpiry);
  }

  /**
   * Runs one batch (the request message as received) and resolves with its answer, at the latest
   * REQUEST_TIMEOUT_MS after the batch is in the pipeline (then DEADLINE_EXCEEDED: nothing of it
   * acknowledged). The message's size on the wire is held to MAX_BODY_BYTES like an HTTP body.
   */
  run(message: Buffer, clientKey: string, startedAt = performance.now(), access: CallAccess = OPEN): Promise<IngestResult> {
    const { config, slab, collector, admission, telemetry } = this.deps;
    let given: string | undefined;
    const refuse = (code: ErrorCode, detail?: string, retryAfterS?: number, batchId = given): IngestResult => ({
      ok: false,
      error: batchError(code, detail, retryAfterS),
      batchId: batchId ?? '',
    });
    // Checked per batch, not once per call: a key revoked while a stream is open stops working on its next batch.
    const verdict0 = access();
    if (!verdict0.ok) return Promise.resolve(refuse('COLLECTOR_ERR_UNAUTHENTICATED', verdict0.detail));
    const tenants = verdict0.tenants;
    let req: CollectRequest;
    try {
      req = decodeRequest(message);
    } catch (err) {
      return Promise.resolve(refuse('COLLECTOR_ERR_BATCH_SHAPE', `the message is not a CollectRequest: ${(err as Error).message}`));
    }
    given = req.batch_id ? req.batch_id : undefined;
    const size = message.length;
    if (size > config.MAX_BODY_BYTES) {
      return Promise.resolve(refuse('COLLECTOR_ERR_BODY_TOO_LARGE', `message of ${size} bytes exceeds ${config.MAX_BODY_BYTES} bytes`));
    }
    const verdict = this.deps.producerBacklogged() ? ({ reason: 'producer_queue', retryAfterS: 1 } as const) : admission.admit(clientKey);
    if (isRefusal(verdict)) {
      telemetry.admissionRefused(verdict.reason);
      const r = REFUSALS[verdict.reason];
      return Promise.resolve(refuse(r.code, r.detail, verdict.retryAfterS));
    }
    const ticket: Ticket = verdict;
    let json: BatchJson;
    try {
      json = batchJson(req);
    } catch (err) {
      admission.settle(ticket);
      return Promise.resolve(refuse('COLLECTOR_ERR_INTERNAL', (err as Error).message));
    }
    if (!json.ok) {
      admission.settle(ticket);
      return Promise.resolve(refuse(json.code, json.detail, undefined, json.batchId));
    }
    if (json.body.byteLength > slab.slotBytes) {
      admission.settle(ticket);
      return Promise.resolve(refuse('COLLECTOR_ERR_BODY_TOO_LARGE', `the batch is ${json.body.byteLength} bytes as JSON; the limit is ${slab.slotBytes}`));
    }
    const held = slab.take();
    if (!held) {
      admission.settle(ticket);
      return Promise.resolve(refuse('COLLECTOR_ERR_OVERLOADED', 'no free request slot', 1));
    }
    slab.write(held.slot, 0, json.body);
    const bodyDoneAt = performance.now();
    return new Promise<IngestResult>((resolve) => {
      let answered = false;
      const answer = (r: IngestResult) => {
        if (answered) return;
        answered = true;
        resolve(r);
      };
      const deadline = this.deadlines.arm(() => answer(refuse('COLLECTOR_ERR_DEADLINE', `no answer within ${config.REQUEST_TIMEOUT_MS} ms`, 1)));
      collector
        .collect({ slot: held.slot, token: held.token, length: json.body.byteLength, gzip: false, receivedAt: Date.now(), tenants, keyId: verdict0.keyId }, startedAt)
        .then((a) => answer(toResult(a, json.batchId)))
        .catch((err: unknown) => answer(refuse('COLLECTOR_ERR_INTERNAL', (err as Error).message)))
        .finally(() => {
          this.deadlines.cancel(deadline);
          admission.settle(ticket, performance.now() - bodyDoneAt);
        });
    });
  }
}
