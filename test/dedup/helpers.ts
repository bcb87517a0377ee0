import { randomBytes } from 'node:crypto';
import { existsSync, unlinkSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** A fresh table path under /dev/shm (removed by the returned cleanup). */
export function tmpTablePath(tag: string): { path: string; cleanup: () => void } {
  const dir = existsSync('/dev/shm') ? '/dev/shm' : '/tmp';
  const path = `${dir}/evc-dedup-test-${tag}-${process.pid}-${randomBytes(4).toString('hex')}.dedup`;
  return {
    path,
    cleanup: () => {
      try {
        unlinkSync(path);
      } catch {
        /* already gone */
      }
    },
  };
}

/** Deterministic distinct UUIDs: the i-th of a run named by `run` (8 hex digits). */
export function uuidAt(run: string, i: number): string {
  return `${run}-${(i >>> 16).toString(16).padStart(4, '0')}-4${(i & 0xfff).toString(16).padStart(3, '0')}-8000-${i
    .toString(16)
    .padStart(12, '0')}`;
}

export const workerPath = fileURLToPath(new URL('./claim-worker.js', import.meta.url));
