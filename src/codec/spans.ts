/**
 * Where each event of a body starts and ends, and whether its bytes may be forwarded to
 * Kafka as sent (native/codec, src/spans.c has the rules). Runs in the decode workers.
 */
import { loadNativeAddon } from '../native-addon.js';

/** flags bit: the element's bytes parse, under any JSON parser, to what JSON.parse gave */
export const FORWARDABLE = 1;
/** flags bit: the element holds a number JSON.stringify would write as another value (1e400, 2^53 + 1) */
export const INEXACT_NUMBER = 2;
/** flags >>> INEXACT_AT_SHIFT: where that number starts, from the element's start */
export const INEXACT_AT_SHIFT = 2;

interface CodecAddon {
  spans(body: Uint8Array, maxEvents?: number): Int32Array | null;
  firstInexact(body: Uint8Array): number;
}

const addon = loadNativeAddon<CodecAddon>('codec');

/**
 * [n, start0, end0, flags0, start1, …] for the events array of the body, or null (also when it holds more than
 * maxEvents: such a batch is refused, and mapping millions of elements would cost memory for nothing).
 */
export function eventSpans(body: Uint8Array, maxEvents?: number): Int32Array | null {
  return maxEvents === undefined ? addon.spans(body) : addon.spans(body, maxEvents);
}

/** Offset of the first number in the whole body whose value JSON.stringify would change, or -1. */
export function firstInexactNumber(body: Uint8Array): number {
  return addon.firstInexact(body);
}
