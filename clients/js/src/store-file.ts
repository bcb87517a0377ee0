/**
 * The offline queue in a file, for Node: one JSON line per event appended (`{"s":seq,"e":event}`)
 * and one per acknowledgement (`{"a":seq}`), so each change is one append and a restart replays
 * the file. A torn last line (the process died mid-write) is ignored: that event had not been
 * confirmed stored. The file is rewritten (to a temporary file, then renamed over it) at open
 * and once acknowledgements outnumber the events left, so it stays near the size of the queue.
 *
 * Appends reach the page cache, not the disk: they survive the process (a crash, SIGKILL), not
 * the machine losing power.
 */
import { appendFile, mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { QueueStore, Stored } from './queue.js';

type Line<E> = { s: number; e: E } | { a: number };

export function fileStore<E>(path: string): QueueStore<E> {
  let live = new Map<number, Stored<E>>();
  let acks = 0;

  const rewrite = async () => {
    const text = [...live.values()].map((s) => `${JSON.stringify({ s: s.seq, e: s.event })}\n`).join('');
    await writeFile(`${path}.tmp`, text);
    await rename(`${path}.tmp`, path);
    acks = 0;
  };

  return {
    async load() {
      await mkdir(dirname(path), { recursive: true });
      let text = '';
      try {
        text = await readFile(path, 'utf8');
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
      live = new Map();
      for (const line of text.split('\n')) {
        if (line === '') continue;
        let l: Line<E>;
        try {
          l = JSON.parse(line) as Line<E>;
        } catch {
          continue; // torn by a crash mid-append
        }
        if ('a' in l) {
          for (const seq of live.keys()) if (seq <= l.a) live.delete(seq);
        } else {
          live.set(l.s, { seq: l.s, event: l.e, bytes: Buffer.byteLength(JSON.stringify(l.e)) });
        }
      }
      await rewrite();
      return [...live.values()];
    },
    async append(items) {
      for (const s of items) live.set(s.seq, s);
      await appendFile(path, items.map((s) => `${JSON.stringify({ s: s.seq, e: s.event })}\n`).join(''));
    },
    async removeUpTo(seq) {
      for (const k of live.keys()) {
        if (k > seq) break; // insertion order is seq order
        live.delete(k);
      }
      if (++acks > 64 && acks > live.size) return rewrite();
      await appendFile(path, `${JSON.stringify({ a: seq })}\n`);
    },
  };
}
