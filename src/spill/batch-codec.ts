/**
 * One spill-log record = one batch's Kafka records for one topic, exactly as they would
 * have been produced (so replay sends what the client was told is safe):
 *
 *   +-------------+---------------------------+-----------------------------+
 *   | u32 jsonLen | JSON header (jsonLen)     | record values, back to back |
 *   +-------------+---------------------------+-----------------------------+
 *   header: {v, topic, ts, names, keys, headers, ids, idx, offsets, bt?, st?}
 *   fc: 1 when the batch's first copy was still with the producer (or failed after reaching a broker) when it
 *   was spilled: Kafka may hold it, so its replay is counted as possible duplicates by whichever process replays.
 *   bt/st/ba: the host order stamp (boot id, CLOCK_MONOTONIC µs, the boot's wall-clock start in µs; host-table.ts);
 *   absent in batches spilled before stamps existed, which then replay first (ba: before boots were ordered).
 *
 * Pure: used by the main thread (encode before append, decode on replay) and tests.
 */
import type { PackedRecords } from '../codec/packed.js';
import type { OrderStamp } from '../replay/index.js';

export interface SpilledBatch {
  topic: string;
  timestamp: number;
  headerNames: string[];
  records: PackedRecords;
  stamp?: OrderStamp;
  /** a first copy may be in Kafka already (see fc above) */
  firstCopyOut?: boolean;
}

interface Header {
  v: 1;
  topic: string;
  ts: number;
  names: string[];
  keys: (string | null)[];
  headers: string[][];
  ids: string[];
  idx: number[];
  offsets: number[];
  bt?: string;
  st?: number;
  ba?: number;
  fc?: 1;
}

export function encodeSpilledBatch(b: SpilledBatch): Buffer {
  const r = b.records;
  const header: Header = {
    v: 1,
    topic: b.topic,
    ts: b.timestamp,
    names: b.headerNames,
    keys: r.keys,
    headers: r.headers,
    ids: r.eventIds,
    idx: r.indexes,
    offsets: Array.from(r.offsets),
    ...(b.stamp ? { bt: b.stamp.boot, st: b.stamp.mono, ...(b.stamp.bootAt ? { ba: b.stamp.bootAt } : {}) } : {}),
    ...(b.firstCopyOut ? { fc: 1 as const } : {}),
  };
  const json = Buffer.from(JSON.stringify(header));
  const start = r.offsets[0] ?? 0;
  const end = r.offsets[r.count] ?? 0;
  const out = Buffer.allocUnsafe(4 + json.length + (end - start));
  out.writeUInt32LE(json.length, 0);
  json.copy(out, 4);
  Buffer.from(r.bytes, start, end - start).copy(out, 4 + json.length);
  return out;
}

export function decodeSpilledBatch(buf: Buffer): SpilledBatch {
  const jsonLen = buf.readUInt32LE(0);
  const header = JSON.parse(buf.toString('utf8', 4, 4 + jsonLen)) as Header;
  if (header.v !== 1) throw new Error(`spilled batch: unknown version ${String(header.v)}`);
  const base = header.offsets[0] ?? 0;
  const values = buf.subarray(4 + jsonLen);
  const bytes = new ArrayBuffer(values.length);
  values.copy(Buffer.from(bytes));
  return {
    topic: header.topic,
    timestamp: header.ts,
    headerNames: header.names,
    ...(typeof header.st === 'number' ? { stamp: { boot: header.bt ?? '', mono: header.st, ...(typeof header.ba === 'number' ? { bootAt: header.ba } : {}) } } : {}),
    ...(header.fc === 1 ? { firstCopyOut: true } : {}),
    records: {
      count: header.keys.length,
      bytes,
      offsets: Uint32Array.from(header.offsets, (o) => o - base),
      keys: header.keys,
      headers: header.headers,
      eventIds: header.ids,
      indexes: header.idx,
    },
  };
}

/** The records at the given positions, as a PackedRecords of their own (values copied). */
export function pickRecords(r: PackedRecords, positions: number[]): PackedRecords {
  let size = 0;
  for (const i of positions) size += r.offsets[i + 1]! - r.offsets[i]!;
  const bytes = new ArrayBuffer(size);
  const out = new Uint8Array(bytes);
  const src = new Uint8Array(r.bytes);
  const offsets = new Uint32Array(positions.length + 1);
  let off = 0;
  positions.forEach((i, n) => {
    offsets[n] = off;
    out.set(src.subarray(r.offsets[i]!, r.offsets[i + 1]!), off);
    off += r.offsets[i + 1]! - r.offsets[i]!;
  });
  offsets[positions.length] = off;
  return {
    count: positions.length,
    bytes,
    offsets,
    keys: positions.map((i) => r.keys[i] ?? null),
    headers: positions.map((i) => r.headers[i]!),
    eventIds: positions.map((i) => r.eventIds[i]!),
    indexes: positions.map((i) => r.indexes[i]!),
  };
}
