/**
 * zstd request bodies (Content-Encoding: zstd), decompressed with a cap: Node 20's zlib has no zstd,
 * so the binding is zstd-napi (N-API over the bundled libzstd, built from source at install). One
 * call into a buffer of the cap's size plus one byte: the decoder writes into it directly and fails
 * at its end, so a zstd bomb costs the cap, never what its frame header claims. No window buffer is
 * allocated for a single-shot decompression into the output.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface DCtx {
  decompress(dst: Uint8Array, src: Uint8Array): number;
}
const binding = (require('zstd-napi/binding') as { DCtx: new () => DCtx });

let dctx: DCtx | null = null;
let out: Buffer | null = null;

export type ZstdOutcome = { ok: true; bytes: Buffer } | { ok: false; tooLarge: boolean; message: string };

export function zstdDecompress(body: Uint8Array, maxBytes: number): ZstdOutcome {
  dctx ??= new binding.DCtx();
  // One output buffer per thread, reused: a worker decodes one batch at a time.
  if (out === null || out.length !== maxBytes + 1) out = Buffer.allocUnsafe(maxBytes + 1);
  let n: number;
  try {
    n = dctx.decompress(out, body);
  } catch (err) {
    const message = (err as Error).message;
    // A fresh context after a failure: a frame that broke half-way leaves it mid-stream.
    dctx = null;
    return { ok: false, tooLarge: /destination buffer is too small|dstSize_tooSmall/i.test(message), message };
  }
  if (n > maxBytes) return { ok: false, tooLarge: true, message: 'over the cap' };
  // A copy: the records built from it outlive this call, the buffer does not.
  return { ok: true, bytes: Buffer.from(out.subarray(0, n)) };
}
