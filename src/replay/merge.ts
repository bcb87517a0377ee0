/**
 * The host-wide merge: which records of the host's logs the replay leader may send next,
 * as one chunk, in order. Pure: the replayer gives it what it read and the host tables.
 *
 * Every log's records are in stamp order (a process stamps and appends in the same order), so
 * the merge is a k-way merge by (key, slot). It stops at the first record that it cannot prove
 * is the oldest the host still owes:
 *   - key >= horizon: stamped after the leader took its horizon T and then read the holds, so
 *     an append of another process with a smaller stamp may not be visible yet;
 *   - a hold of another slot is before it (an append in progress there, or a pinned first
 *     copy); a log's own hold bounds it inclusively (its pinned record itself may go: only what
 *     is newer waits for the first copy);
 *   - a log whose read was cut short (more complete records on disk than were read) has run out
 *     in this chunk: its next record is unknown, and may be older than the rest.
 */
import { before } from './host-table.js';

export interface MergeLog<R extends { key: number; events: number }> {
  slot: number;
  /** read, not yet sent, in log order */
  buf: readonly R[];
  /** the read reached the last complete record of the log */
  end: boolean;
}

/** [log index, record index] pairs in send order. */
export function mergeChunk<R extends { key: number; events: number }>(
  logs: readonly MergeLog<R>[],
  holds: ArrayLike<number>,
  horizon: number,
  maxRecords: number,
  maxEvents: number,
): [number, number][] {
  const at = logs.map(() => 0);
  const out: [number, number][] = [];
  let events = 0;
  while (out.length < maxRecords) {
    let pick = -1;
    for (let i = 0; i < logs.length; i++) {
      const l = logs[i]!;
      if (at[i]! >= l.buf.length) {
        if (!l.end && l.buf.length > 0) return out;
        continue;
      }
      if (pick < 0 || before(l.buf[at[i]!]!.key, l.slot, logs[pick]!.buf[at[pick]!]!.key, logs[pick]!.slot)) pick = i;
    }
    if (pick < 0) return out;
    const l = logs[pick]!;
    const r = l.buf[at[pick]!]!;
    if (!(r.key < horizon)) return out;
    for (let j = 0; j < holds.length; j++) {
      const h = holds[j]!;
      if (!(h > 0)) continue;
      if (j === l.slot ? r.key > h : !before(r.key, l.slot, h, j)) return out;
    }
    if (out.length > 0 && events + r.events > maxEvents) return out;
    events += r.events;
    out.push([pick, at[pick]!]);
    at[pick]!++;
  }
  return out;
}
