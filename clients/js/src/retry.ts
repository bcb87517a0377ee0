/**
 * What an answer means for the batch that got it, and how long to wait before trying again.
 *
 *   network error, 408, 429, 5xx   → retry, same events (same event_id: the collector's dedup
 *                                    makes a retry of a batch it did write harmless)
 *   413 of more than one event     → split: retry with half the events
 *   200                            → done (duplicates the collector reports are done too)
 *   207, 422                       → done; each refused event goes to onRejected
 *   any other 4xx (400, 401, 413 of one event, 415…) → done, refused: retrying cannot help
 *
 * Backoff is exponential with full jitter (so a fleet of clients does not retry in step),
 * and never shorter than the Retry-After the collector asked for.
 */

export type Verdict =
  | { kind: 'done' }
  | { kind: 'retry'; retryAfterMs: number | undefined }
  | { kind: 'split' }
  | { kind: 'refused' };

export function verdictOf(status: number, events: number): Verdict {
  if (status >= 200 && status < 300) return { kind: 'done' };
  if (status === 422) return { kind: 'done' };
  if (status === 408 || status === 429 || status >= 500) return { kind: 'retry', retryAfterMs: undefined };
  if (status === 413 && events > 1) return { kind: 'split' };
  return { kind: 'refused' };
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null || header.trim() === '') return undefined;
  const s = Number(header);
  if (Number.isFinite(s)) return s >= 0 ? s * 1000 : undefined;
  // An HTTP date names its weekday; anything else Date.parse would guess at ("-1" is a year).
  if (!/[a-z]/i.test(header)) return undefined;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

export interface BackoffOptions {
  /** the first retry waits up to this (ms) */
  baseMs: number;
  /** no wait is longer than this (ms), Retry-After excepted */
  maxMs: number;
}

/** The wait before retry number `attempt` (0 = the first retry). */
export function backoffMs(attempt: number, o: BackoffOptions, retryAfter: number | undefined, random = Math.random): number {
  const ceiling = Math.min(o.maxMs, o.baseMs * 2 ** Math.min(attempt, 30));
  const jittered = random() * ceiling;
  // Retry-After is a floor, with a little jitter above it so the clients it was sent to do not return together.
  return retryAfter === undefined ? jittered : retryAfter + random() * Math.min(1000, retryAfter * 0.2);
}
