/**
 * Where each event of a body starts and ends, and whether its bytes may be forwarded to
 * Kafka as sent (native/codec, src/spans.c has the rules). Runs in the decode workers.
 */
import { loadNativeAddon } from '../native-addon.js';

/** flags bit: the element's bytes parse, under any JSON parser, to what JSON.parse gave */
export const FORWARDABLE = 1;

interface CodecAddon {
  spans(body: Uint8Array): Int32Array | null;
}

const addon = loadNativeAddon<CodecAddon>('codec');

/** [n, start0, end0, flags0, start1, …] for the events array of the body, or null. */
export function eventSpans(body: Uint8Array): Int32Array | null {
  return addon.spans(body);
}
