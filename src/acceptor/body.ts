/**
 * Streams a request body straight into a slab slot. uWS detaches each chunk when the
 * callback returns, so the copy into shared memory is the only copy. The byte count is
 * ours to keep: this uWS version has no body limit and chunked bodies carry no length.
 */
import type { HttpResponse } from '@trufflesuite/uws-js-unofficial';
import type { Slab } from '../ring/slab.js';

export type BodyResult = { ok: true; length: number } | { ok: false; tooLarge: true };

/** Streams the body into the slot; the returned function stops it (later chunks are dropped, done is not called). */
export function readIntoSlot(res: HttpResponse, slab: Slab, slot: number, limit: number, done: (r: BodyResult) => void): () => void {
  let length = 0;
  let over = false;
  res.onData((chunk, isLast) => {
    if (over) return;
    const n = chunk.byteLength;
    if (length + n > limit) {
      over = true;
      done({ ok: false, tooLarge: true });
      return;
    }
    if (n > 0) slab.write(slot, length, new Uint8Array(chunk));
    length += n;
    if (isLast) {
      over = true;
      done({ ok: true, length });
    }
  });
  return () => {
    over = true;
  };
}
