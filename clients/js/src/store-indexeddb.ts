/**
 * The offline queue in IndexedDB, for browsers: one record per event, keyed by its seq, so
 * appending is one put per event in one transaction and acknowledging is one range delete.
 * A reload opens the same database and finds what the last page left.
 */
import type { QueueStore, Stored } from './queue.js';

const STORE = 'events';

function done(req: IDBRequest | IDBTransaction): Promise<void> {
  return new Promise((resolve, reject) => {
    if ('oncomplete' in req) {
      req.oncomplete = () => resolve();
      req.onerror = () => reject(req.error);
      req.onabort = () => reject(req.error ?? new Error('IndexedDB transaction aborted'));
    } else {
      req.onsuccess = () => resolve();
      req.onerror = () => reject(req.error);
    }
  });
}

export function indexedDbStore<E>(name: string): QueueStore<E> {
  const db = new Promise<IDBDatabase>((resolve, reject) => {
    const open = indexedDB.open(name, 1);
    open.onupgradeneeded = () => open.result.createObjectStore(STORE, { keyPath: 'seq' });
    open.onsuccess = () => resolve(open.result);
    open.onerror = () => reject(open.error);
  });
  const tx = async (mode: IDBTransactionMode) => (await db).transaction(STORE, mode);
  return {
    async load() {
      const req = (await tx('readonly')).objectStore(STORE).getAll();
      await done(req);
      return req.result as Stored<E>[];
    },
    async append(items) {
      const t = await tx('readwrite');
      const store = t.objectStore(STORE);
      for (const s of items) store.put(s);
      await done(t);
    },
    async removeUpTo(seq) {
      const t = await tx('readwrite');
      t.objectStore(STORE).delete(IDBKeyRange.upperBound(seq));
      await done(t);
    },
  };
}
