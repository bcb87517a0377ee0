/**
 * After a burst of large batches V8 keeps the heaps it grew (the main thread's and each decode worker's) and
 * glibc keeps the arenas' free pages: resident memory stays at the peak for as long as the process lives,
 * though nothing uses it. Once the process has been idle for MEMORY_SETTLE_IDLE_MS after work, each decode
 * worker is replaced by a fresh one (its whole heap goes back: a full GC in the worker returned little of it),
 * the main thread gets a full GC and malloc_trim runs. Only after work, once: an idle process is not settled
 * again and again, and a busy one never.
 */
import v8 from 'node:v8';
import { runInNewContext } from 'node:vm';

let gcFn: (() => void) | undefined;

/** V8's gc(), without starting node with --expose-gc (the flag is process-wide; each isolate fetches its own). */
export function fullGc(): void {
  if (!gcFn) {
    v8.setFlagsFromString('--expose-gc');
    gcFn = runInNewContext('gc') as () => void;
  }
  gcFn();
}

export interface SettleOptions {
  idleMs: number;
  /** a count that moves whenever the process works (batches taken) */
  activity: () => number;
  /** replaces the decode workers; resolves with how many were replaced */
  settleWorkers: () => Promise<number>;
  /** malloc_trim */
  trim: () => void;
  now?: () => number;
  onSettled?: (ms: number, workersReplaced: number) => void;
}

/** Starts watching for idleness after work; 0 = never. Returns the stop function. */
export function startMemorySettle(o: SettleOptions): () => void {
  if (o.idleMs <= 0) return () => {};
  const now = o.now ?? (() => performance.now());
  let seen = o.activity();
  let changedAt = now();
  let dirty = false;
  let running = false;
  const check = () => {
    const a = o.activity();
    if (a !== seen) {
      seen = a;
      changedAt = now();
      dirty = true;
      return;
    }
    if (!dirty || running || now() - changedAt < o.idleMs) return;
    dirty = false;
    running = true;
    const t0 = now();
    fullGc();
    o.settleWorkers()
      .catch(() => 0) // a worker busy or gone: its heap settles next time
      .then((replaced) => {
        o.trim();
        running = false;
        o.onSettled?.(now() - t0, replaced);
      });
  };
  const timer = setInterval(check, Math.max(100, Math.floor(o.idleMs / 4))).unref();
  return () => clearInterval(timer);
}

/** The parts of a Piscina pool that replacing its workers needs. */
export interface RecyclablePool {
  readonly threads: ReadonlyArray<{ threadId: number }>;
  run(task: { recycle: true }): Promise<unknown>;
}

/**
 * Replaces every worker the pool has now by a fresh one; resolves with how many of them were replaced.
 * One recycle task per worker is dispatched at once, but Piscina may hand two to one worker (one that was just
 * ready) or report a task's failure before it has started the replacement, so this goes round until none of the
 * old workers is left and the pool is back to its size, within a bound: a worker still busy after it settles
 * next time.
 */
export async function recycleWorkers(pool: RecyclablePool, size: number, boundMs = 5_000): Promise<number> {
  const before = new Set(pool.threads.map((w) => w.threadId));
  const left = () => pool.threads.filter((w) => before.has(w.threadId)).length;
  const deadline = performance.now() + boundMs;
  while (left() > 0 && performance.now() < deadline) {
    const had = left();
    await Promise.allSettled(Array.from({ length: had }, () => pool.run({ recycle: true })));
    if (left() === had) await new Promise((r) => setTimeout(r, 10));
  }
  while (pool.threads.length < size && performance.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return before.size - left();
}
