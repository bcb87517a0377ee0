/**
 * A dead letter judged again, by the same code and the schemas in force now, as if its event came
 * in a batch of one: decodeBatch (src/codec/decode.ts) builds the record the collect path would have
 * written — the same value bytes (defaults added, upcast to the current version), key and headers,
 * with the batch id and received_at the event first came with.
 */
import { decodeBatch, EVENT_HEADERS, type DecodeLimits } from '../codec/decode.js';
import { recordValue } from '../codec/packed.js';
import type { PayloadValidators } from '../codec/payload.js';
import type { DeadLetterRecord } from './record.js';

export type Rejudged =
  | { ok: true; value: Buffer; key: string | null; headers: { [name: string]: string }[] }
  | { ok: false; codes: string[] };

export function rejudge(r: DeadLetterRecord, limits: DecodeLimits, payload: PayloadValidators | undefined, instance: string): Rejudged {
  if (r.truncated || r.original === undefined) return { ok: false, codes: ['original_truncated'] };
  const batch: Record<string, unknown> = { events: [r.original] };
  if (r.batchId !== '' && r.batchId.length <= 128) batch.batch_id = r.batchId;
  const receivedAt = Date.parse(r.receivedAt);
  const o = decodeBatch({
    body: Buffer.from(JSON.stringify(batch)),
    gzip: false,
    receivedAt: Number.isNaN(receivedAt) ? r.timestamp : receivedAt,
    instance,
    limits,
    ...(payload ? { payload } : {}),
  });
  if (!o.ok) return { ok: false, codes: [o.code] };
  const { accepted, rejected } = o.batch;
  if (accepted.count !== 1) return { ok: false, codes: [...new Set(rejected.flatMap((x) => x.errors.map((e) => e.code)))] };
  const headers = accepted.headers[0]!.map((v, i) => ({ [EVENT_HEADERS[i]!]: v }));
  return { ok: true, value: Buffer.from(recordValue(accepted, 0)), key: accepted.keys[0] ?? null, headers };
}
