/**
 * Polls a file for changes (mtime, size, inode — a rename by `npm run keys` changes the
 * inode) and hands its new text to `apply`. Polling rather than fs.watch: inotify misses
 * changes made through Kubernetes Secret volumes (an atomic symlink swap of the directory)
 * and some network filesystems, while a stat per second costs nothing.
 */
import { readFileSync, statSync } from 'node:fs';

export interface FilePoller {
  /** stat now and reload if the file changed (also what the timer does) */
  check(): void;
  stop(): void;
}

/**
 * Reads and applies the file at once — an error here is thrown: a collector must not start
 * on a missing or invalid keys file — then polls it every `everyMs`.
 */
export function pollFile(path: string, everyMs: number, apply: (text: string, initial: boolean) => void, onError: (err: Error) => void): FilePoller {
  const st0 = statSync(path);
  apply(readFileSync(path, 'utf8'), true);
  // Signature taken before the read: a change in between is seen (and re-read) by the first poll.
  let seen = `${st0.ino}:${st0.size}:${st0.mtimeMs}`;
  const check = () => {
    try {
      const st = statSync(path);
      const sig = `${st.ino}:${st.size}:${st.mtimeMs}`;
      if (sig === seen) return;
      const text = readFileSync(path, 'utf8');
      seen = sig;
      apply(text, false);
    } catch (err) {
      // A bad or missing file keeps the last good state in force; the error is reported once per change.
      const sig = `error:${(err as Error).message}`;
      if (sig !== seen) onError(err as Error);
      seen = sig;
    }
  };
  const timer = setInterval(check, everyMs);
  timer.unref();
  return { check, stop: () => clearInterval(timer) };
}
