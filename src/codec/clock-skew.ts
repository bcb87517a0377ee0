/**
 * Event times that stay right when the device clock is wrong (Segment's sentAt rule,
 * Snowplow's derived_tstamp). A batch may say `sent_at`: the client clock when the batch left.
 * The client's clock is then off by sent_at − received_at, and an event stamped by that same
 * clock happened at
 *
 *     derived_timestamp = received_at − (sent_at − timestamp)
 *
 * which needs no trust in the device clock, only that it ran at the right speed between the
 * event and the send (queued offline for hours included). The network time of the request is
 * the error: the event looks that much older.
 *
 * Bounds, for clocks that jumped between the event and the send (a reset to 1970, a manual
 * change, a timestamp from another clock):
 * - never after received_at: an event cannot have happened after the collector received it
 *   (timestamp later than sent_at gives received_at);
 * - never more than DERIVED_MAX_AGE_MS before received_at: older is clamped to that bound, so
 *   a consumer sees a time it can still window on, and the original timestamp is kept in the
 *   event for whoever needs it.
 * The size of the skew itself is not bounded: a clock ten years off still derives the right
 * time, which is the point.
 */
import { isDateTime } from '../schema/event.js';

/** 30 days: longer than any client offline queue keeps events (clients/js drops past its bounds). */
export const DERIVED_MAX_AGE_MS = 30 * 86_400_000;

const PARTS = /^(\d{4})-(\d\d)-(\d\d)[Tt ](\d\d):(\d\d):(\d\d)(?:\.(\d+))?(?:[Zz]|([+-])(\d\d):(\d\d))$/;

/** Milliseconds since the epoch of an RFC 3339 date-time, or NaN when it is not one. A leap second counts as :59.999. */
export function rfc3339Millis(v: string): number {
  if (!isDateTime(v)) return NaN;
  const m = PARTS.exec(v)!;
  const sec = Number(m[6]);
  const ms = sec === 60 ? 999 : Number((m[7] ?? '0').padEnd(3, '0').slice(0, 3));
  const utc = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Math.min(sec, 59), ms);
  // Date.UTC maps years 0–99 to 1900–1999; RFC 3339 years are literal.
  const year = Number(m[1]);
  const fixed = year < 100 ? new Date(utc).setUTCFullYear(year) : utc;
  const offset = m[8] === undefined ? 0 : (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 60 + Number(m[10])) * 60_000;
  return fixed - offset;
}

/** derived_timestamp of an event stamped `timestampMs` in a batch sent at `sentAtMs` and received at `receivedAt` (ISO 8601, UTC, ms). */
export function derivedTimestamp(receivedAt: number, sentAtMs: number, timestampMs: number): string {
  const derived = receivedAt - (sentAtMs - timestampMs);
  if (Number.isNaN(derived)) return new Date(receivedAt).toISOString();
  return new Date(Math.min(receivedAt, Math.max(receivedAt - DERIVED_MAX_AGE_MS, derived))).toISOString();
}
