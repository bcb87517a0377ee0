/**
 * Hands malloc's free pages back to the kernel every MALLOC_TRIM_INTERVAL_MS (native/memory:
 * malloc_trim(0)). librdkafka, uWS and zlib allocate from several threads, and glibc keeps what
 * their arenas freed resident after a burst of large batches: RSS that the V8 heap limits and
 * the memory formula (docs/memory.md) do not see. One call walks every arena of the process.
 */
import { loadNativeAddon } from '../native-addon.js';

interface MemoryAddon {
  trim(): boolean;
}

let addon: MemoryAddon | undefined;

/** One malloc_trim(0) now; false if nothing was returned. */
export function mallocTrim(): boolean {
  addon ??= loadNativeAddon<MemoryAddon>('memory');
  return addon.trim();
}

/** Starts the periodic trim; 0 = never. Returns the stop function. */
export function startMallocTrim(intervalMs: number): () => void {
  if (intervalMs <= 0) return () => {};
  const timer = setInterval(mallocTrim, intervalMs).unref();
  return () => clearInterval(timer);
}
