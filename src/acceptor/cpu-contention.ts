/**
 * How much the box's CPU contention stretches this thread's work: (run + wait) / run over an
 * interval, from the kernel's per-thread scheduler counters (/proc/thread-self/schedstat:
 * ns on a CPU, ns runnable but waiting for one). 1 = every time the thread wanted a CPU it
 * got one; 3 = each ms of work took 3 ms of wall time because other threads held the cores.
 *
 * Admission divides service times by it (src/acceptor/admission.ts): a box starved by other
 * processes (or by our own worker and librdkafka threads) makes every batch slow whatever the
 * number in flight, and refusing requests cannot make them faster. Event-loop delay cannot tell
 * the two apart — it grows alike when our own batches queue for the main thread and when the
 * thread waits for a core — the run-queue wait can.
 *
 * Linux only; elsewhere, or when the file cannot be read, the stretch is always 1 (admission as
 * if the box were quiet).
 */
import { closeSync, openSync, readSync } from 'node:fs';

export interface CpuCounters {
  runNs: number;
  waitNs: number;
}

/** Reads this thread's counters; null when they cannot be read. */
export type CpuCounterSource = () => CpuCounters | null;

/**
 * The counters of the thread that calls it first (the file is opened then: /proc/thread-self
 * names the opening thread for as long as the descriptor lives). One pread of ~40 bytes per call.
 */
export function threadSchedstat(path = '/proc/thread-self/schedstat'): CpuCounterSource {
  let fd: number | null | undefined;
  const buf = Buffer.alloc(96);
  return () => {
    if (fd === undefined) {
      try {
        fd = openSync(path, 'r');
      } catch {
        fd = null;
      }
    }
    if (fd === null) return null;
    try {
      const n = readSync(fd, buf, 0, buf.length, 0);
      return parseSchedstat(buf.toString('latin1', 0, n));
    } catch {
      closeSync(fd);
      fd = null;
      return null;
    }
  };
}

/** "run_ns wait_ns timeslices\n" → counters; null for anything else. */
export function parseSchedstat(text: string): CpuCounters | null {
  const parts = text.trim().split(/\s+/);
  if (parts.length < 2) return null;
  const runNs = Number(parts[0]);
  const waitNs = Number(parts[1]);
  if (!Number.isFinite(runNs) || !Number.isFinite(waitNs) || runNs < 0 || waitNs < 0) return null;
  return { runNs, waitNs };
}

/** Stretch above this is treated as this: a thread that barely ran says little about the next window. */
export const MAX_STRETCH = 8;

/**
 * The stretch between two readings of the counters. 1 when either is missing, when the thread
 * hardly ran (under 1 ms: too few samples to judge), or when a counter went backwards.
 */
export function stretchBetween(before: CpuCounters | null, after: CpuCounters | null): number {
  if (!before || !after) return 1;
  const run = after.runNs - before.runNs;
  const wait = after.waitNs - before.waitNs;
  if (run < 1e6 || wait < 0) return 1;
  return Math.min(MAX_STRETCH, (run + wait) / run);
}
