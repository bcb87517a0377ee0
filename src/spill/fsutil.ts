/** The few durable-file primitives the spill log is built on. */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** A new, renamed or removed name is durable only once its directory is fsynced. */
export function fsyncDir(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Replaces `file` atomically: readers see the old bytes or the new ones, never a
 * mix, even across a power cut (tmp write + fsync + rename + fsync dir).
 */
export function writeFileAtomic(file: string, data: Uint8Array, durable: boolean, beforeRename?: () => void): void {
  const tmp = `${file}.tmp`;
  const fd = fs.openSync(tmp, 'w');
  try {
    fs.writeSync(fd, data, 0, data.length, 0);
    if (durable) fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  beforeRename?.();
  fs.renameSync(tmp, file);
  if (durable) fsyncDir(path.dirname(file));
}


export function errnoCode(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException | undefined)?.code;
}
